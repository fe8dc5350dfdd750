"""The desktop app survives a long session: PySide6 6.12 on Python 3.11 drops a reference to None
on every void Qt call, and CPython aborts the process once None's count reaches zero."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import ROOT

CALLS = 200_000  # a long answer streamed, a large drop listed, a day of use: far past None's count

SCRIPT = f"""
import os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
sys.path.insert(0, {str(ROOT)!r})
from PySide6.QtWidgets import QProgressBar
if sys.argv[1] == "app":
    from ui.app import application
    app = application(["citewise"])
else:
    from PySide6.QtWidgets import QApplication
    app = QApplication(["bare"])
bar = QProgressBar()
for i in range({CALLS}):
    bar.setValue(i % 100)
print("done")
"""


def _run(kind: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", SCRIPT, kind], capture_output=True, text=True, timeout=300)


def test_the_app_survives_many_qt_calls():
    done = _run("app")
    assert done.returncode == 0 and "done" in done.stdout, done.stderr[-2000:]


def test_without_the_guard_a_leaking_pyside_aborts():
    """The check above can fail: where this PySide6 leaks, the same calls without the app's guard
    abort the process (where it does not leak, both run to the end)."""
    from ui.none_guard import leaks_none

    bare = _run("bare")
    if leaks_none():
        assert bare.returncode != 0 and "none_dealloc" in bare.stderr
    else:
        assert bare.returncode == 0
