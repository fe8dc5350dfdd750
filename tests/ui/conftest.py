"""Real widgets, offscreen, over a real library (Chroma in tmp_path, the bundled models)."""

from __future__ import annotations

import pytest


@pytest.fixture
def window(qtbot, settings, embedder, engine, tmp_path):
    from app.services import build_services
    from app.session import Session
    from ui.main_window import MainWindow

    services = build_services(settings, embedder=embedder, engine=engine)
    win = MainWindow(Session(services), ui_state=tmp_path / "window.ini", warm_up=False)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
    # no worker may outlive the window (napari's idea: a test leaving threads running fails)
    assert win.pool.activeThreadCount() == 0
    assert not win.workers


def wait_index(qtbot, win, timeout=180_000):
    with qtbot.waitSignal(win.index_finished, timeout=timeout) as blocker:
        pass
    return blocker.args[0]
