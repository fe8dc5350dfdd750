"""Runs the Qt-free use cases (generators) on the thread pool and reports through signals.

The only place in Citewise that knows about threads. A `GeneratorWorker` iterates a generator
in a QRunnable; each item is emitted as `progress` (queued to the GUI thread), the last one
also as `result`; an exception becomes `error`; `finished` always comes last. `cancel()`
sets a flag the generator checks between files, batches and tokens.
"""

from __future__ import annotations

import logging
import threading
import traceback
from typing import Any, Callable, Iterator

from PySide6.QtCore import QObject, QRunnable, Signal

log = logging.getLogger(__name__)


class WorkerSignals(QObject):
    started = Signal()
    progress = Signal(object)
    result = Signal(object)
    error = Signal(str, str)  # message, traceback
    finished = Signal()


class GeneratorWorker(QRunnable):
    """`factory(cancelled)` returns an iterator; `cancelled()` is true once cancel() was called."""

    def __init__(self, factory: Callable[[Callable[[], bool]], Iterator[Any] | Any], *, name: str = "job"):
        super().__init__()
        self.setAutoDelete(False)  # the owner keeps it until `finished`
        self.name = name
        self.factory = factory
        self.signals = WorkerSignals()
        self._cancel = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    @property
    def cancelled(self) -> bool:
        return self._cancel.is_set()

    def run(self) -> None:  # on a pool thread
        self.signals.started.emit()
        last = None
        try:
            produced = self.factory(self._cancel.is_set)
            if hasattr(produced, "__next__"):
                for item in produced:
                    last = item
                    self.signals.progress.emit(item)
            else:
                last = produced
            self.signals.result.emit(last)
        except Exception as exc:  # reported to the user by the owner of the worker
            log.exception("%s failed", self.name)
            self.signals.error.emit(str(exc) or type(exc).__name__, traceback.format_exc())
        finally:
            self.signals.finished.emit()
