"""Starts the desktop app: QApplication, the system palette, the main window."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def has_display(*, headless_ok: bool = False) -> bool:
    """Whether a window can be shown. Offscreen rendering counts only when asked for."""
    platform = os.environ.get("QT_QPA_PLATFORM", "")
    if platform:
        return headless_ok or platform not in ("offscreen", "minimal")
    if sys.platform.startswith("linux"):
        return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))
    return True


def application(argv: list[str] | None = None):
    """The QApplication, made once, with the guard against PySide6's None leak (ui/none_guard.py)."""
    from PySide6.QtCore import Qt
    from PySide6.QtGui import QGuiApplication
    from PySide6.QtWidgets import QApplication

    from ui.none_guard import guard

    guard()
    if QApplication.instance() is None:
        QGuiApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
    return QApplication.instance() or QApplication(argv or sys.argv)


def run(session, *, argv: list[str] | None = None, smoke: bool = False) -> int:
    from PySide6.QtGui import QIcon

    from app.settings import default_config_file
    from ui.main_window import MainWindow

    app = application(argv)
    app.setApplicationName("Citewise")
    app.setOrganizationName("Citewise")
    app.setDesktopFileName("citewise")
    icon = Path(__file__).with_name("citewise.svg")
    if icon.exists():
        app.setWindowIcon(QIcon(str(icon)))
    window = MainWindow(session, ui_state=default_config_file().with_name("window.ini"), warm_up=not smoke)
    window.show()
    if smoke:  # used by tests and the packaging check: the window opens, then the app quits
        from PySide6.QtCore import QTimer

        def report():
            import psutil

            started = psutil.Process().create_time()
            print(f"window shown {time.time() - started:.2f} s after the process started; "
                  f"{window.library_panel.model.rowCount()} documents in library '{session.library_name}'")
            window.close()
            app.quit()

        QTimer.singleShot(0, report)
    return app.exec()
