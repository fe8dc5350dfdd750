"""The desktop app's whole answer flow with a guard on every outbound connection.

Index, ask (the bundled model through llama.cpp writes the answer), open the cited page,
export: with embedded Chroma no socket may be opened at all; with a Chroma server configured,
only its loopback port. See tests/netguard.py.
"""

from __future__ import annotations

from urllib.parse import urlparse

import pytest

from tests import docs, netguard

LONG = 240_000

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(params=["embedded", "server"])
def store_url(request):
    if request.param == "embedded":
        return None
    return request.getfixturevalue("chroma_server")


@pytest.mark.slow
def test_answer_flow_connects_only_where_configured(qtbot, store_url, data_dir, embedder, engine, tmp_path):
    from app.services import build_services
    from app.settings import load_settings
    from ui.main_window import MainWindow

    folder = tmp_path / "papers"
    folder.mkdir()
    docs.make_pdf(folder / "facts.pdf", docs.fact_pages())
    settings = load_settings(data_dir=data_dir, **{
        "llm.engine": "llamacpp", "embedding.device": "cpu", "store.chroma_url": store_url,
        "retrieval.answer_mode": "generate",
    })
    ports = {urlparse(store_url).port} if store_url else set()
    guard = netguard.install()
    with guard.watching(allow_ports=ports):
        win = MainWindow(build_services(settings, embedder=embedder, engine=engine), ui_state=tmp_path / "w.ini", warm_up=True)
        qtbot.addWidget(win)
        win.show()
        with qtbot.waitSignal(win.index_finished, timeout=LONG) as job:
            win.enqueue_index([str(folder)])
        assert job.args[0].phase == "done"
        with qtbot.waitSignal(win.answer_finished, timeout=LONG) as done:
            win.chat.input.setText("How much does the museum night tour cost?")
            win.chat.ask_button.click()
        answer = done.args[0]
        assert answer and answer["engine"] == "llama.cpp" and answer["citations"][0]["page"] == 2
        win.chat.activate(0, 1)  # the cited page opens in the viewer
        assert win.viewer.isVisible()
        assert win.export_to(tmp_path / "answer.html", "answer").exists()
        win.close()
        qtbot.waitUntil(lambda: win.pool.activeThreadCount() == 0, timeout=LONG)
    assert guard.violations == []
    if store_url:
        assert guard.allowed and set(guard.allowed) == {f"127.0.0.1:{p}" for p in ports}
    else:
        assert guard.allowed == []
