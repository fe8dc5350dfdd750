"""A guard against a PySide6 reference-count bug that aborts the app.

PySide6 6.12.0 on Python 3.11 drops one reference to None each time Python calls a Qt method that
returns nothing (`setValue`, `stop`, `setCurrentWidget`, …). None's count falls by one per call
and, after some thousands of calls (a long answer streamed into the chat view, a large drop
filling the document list), CPython aborts the whole process: "Fatal Python error: none_dealloc:
deallocating None". Python 3.12 made None immortal, and PySide6 6.11 did not have the bug, but
pyside6-pdf (the source viewer) exists only for 6.12.

`guard()` measures the leak on a throwaway QObject; where it is there, None's count is raised
by 2**40, more than any session could ever drop (None is never freed anyway). Nothing changes
where the leak is absent.
"""

from __future__ import annotations

import ctypes
import sys

_RAISE = 1 << 40
_guarded = False


def leaks_none(calls: int = 200) -> bool:
    """Whether calling a void Qt method drops references to None (measured, not assumed)."""
    from PySide6.QtCore import QObject

    probe = QObject()
    before = sys.getrefcount(None)
    for _ in range(calls):
        probe.setObjectName("probe")
    return sys.getrefcount(None) - before <= -calls // 2


def guard() -> bool:
    """Raise None's reference count once if Qt's calls leak it. True when raised."""
    global _guarded
    if _guarded or sys.version_info >= (3, 12) or sys.implementation.name != "cpython":
        return False
    if not leaks_none():
        return False
    ctypes.c_ssize_t.from_address(id(None)).value += _RAISE  # ob_refcnt: PyObject's first field
    _guarded = True
    return True
