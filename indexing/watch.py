"""Watch folders and keep a library in step with them (watchdog). Qt-free: the CLI's
`citewise watch` and the desktop app's toggle both drive a `FolderWatcher`.

File-system events are collected and settled after `debounce_s` of quiet (an editor's save is
several events; a copied folder is hundreds): changed and created files are indexed (unchanged
ones cost a `stat`), deleted ones removed, a move is both. A batch that meets another job
holding the library is kept and retried.
"""

from __future__ import annotations

import logging
import threading
from pathlib import Path
from typing import Callable, Iterable

from indexing.discover import hidden
from indexing.loaders import is_supported
from indexing.pipeline import Indexer
from indexing.progress import LibraryBusyError, Progress

log = logging.getLogger(__name__)


class FolderWatcher:
    def __init__(
        self,
        indexer: Indexer,
        roots: Iterable[str | Path],
        *,
        debounce_s: float = 1.0,
        on_progress: Callable[[Progress], None] | None = None,
        on_removed: Callable[[list], None] | None = None,
    ):
        self.indexer = indexer
        self.roots = [Path(r).expanduser().resolve() for r in roots]
        self.debounce_s = debounce_s
        self.on_progress = on_progress or (lambda p: None)
        self.on_removed = on_removed or (lambda reports: None)
        self._changed: set[Path] = set()
        self._deleted: set[Path] = set()
        self._cond = threading.Condition()
        self._stop = False
        self._observer = None
        self._thread: threading.Thread | None = None
        self.batches = 0  # settled batches, for callers that wait on progress

    # -- events ------------------------------------------------------------------------------

    def _wanted(self, path: Path, is_dir: bool) -> bool:
        if any(hidden(part) for part in path.parts[-8:]):
            return False
        return is_dir or is_supported(path)

    def _note(self, path: str, is_dir: bool, deleted: bool) -> None:
        p = Path(path)
        if not self._wanted(p, is_dir):
            return
        with self._cond:
            (self._deleted if deleted else self._changed).add(p)
            (self._changed if deleted else self._deleted).discard(p)
            self._cond.notify()

    def _handler(self):
        from watchdog.events import FileSystemEventHandler

        watcher = self

        class Handler(FileSystemEventHandler):
            def on_any_event(self, event):
                kind = event.event_type
                if kind in ("created", "modified", "closed"):
                    if not (event.is_directory and kind == "modified"):
                        watcher._note(event.src_path, event.is_directory, deleted=False)
                elif kind == "deleted":
                    watcher._note(event.src_path, event.is_directory, deleted=True)
                elif kind == "moved":
                    watcher._note(event.src_path, event.is_directory, deleted=True)
                    watcher._note(event.dest_path, event.is_directory, deleted=False)

        return Handler()

    # -- settling ----------------------------------------------------------------------------

    def _take(self) -> tuple[list[Path], list[Path]] | None:
        """Wait for events, then for `debounce_s` without new ones; None when stopped."""
        with self._cond:
            while not self._stop and not (self._changed or self._deleted):
                self._cond.wait()
            while not self._stop:
                before = len(self._changed) + len(self._deleted)
                self._cond.wait(self.debounce_s)
                if len(self._changed) + len(self._deleted) == before:
                    break
            if self._stop:
                return None
            changed, deleted = sorted(self._changed), sorted(self._deleted)
            self._changed.clear()
            self._deleted.clear()
            return changed, deleted

    def settle(self, changed: list[Path], deleted: list[Path]) -> None:
        """Index what changed and remove what is gone (also callable directly)."""
        gone = [p for p in deleted if not p.exists()]
        present = [p for p in changed if p.exists()]
        if gone:
            self.on_removed(self.indexer.remove(gone))
        if present:
            for progress in self.indexer.index(present, cancel=lambda: self._stop):
                self.on_progress(progress)

    def _run(self) -> None:
        while True:
            batch = self._take()
            if batch is None:
                return
            try:
                self.settle(*batch)
            except LibraryBusyError:
                log.info("library busy; retrying the watched changes shortly")
                with self._cond:
                    self._changed.update(batch[0])
                    self._deleted.update(batch[1])
                    self._cond.wait(self.debounce_s)
                continue
            except Exception:  # one bad batch must not end the watch
                log.exception("watch: indexing a batch of changes failed")
            self.batches += 1

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> "FolderWatcher":
        from watchdog.observers import Observer

        self._observer = Observer()
        handler = self._handler()
        for root in self.roots:
            self._observer.schedule(handler, str(root), recursive=True)
        self._observer.start()
        self._thread = threading.Thread(target=self._run, name="citewise-watch", daemon=True)
        self._thread.start()
        return self

    def stop(self, timeout: float = 30.0) -> None:
        with self._cond:
            self._stop = True
            self._cond.notify_all()
        if self._observer is not None:
            self._observer.stop()
            self._observer.join(timeout)
        if self._thread is not None:
            self._thread.join(timeout)

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()
