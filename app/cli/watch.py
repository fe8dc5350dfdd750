"""`citewise watch DIR…`: index the folders, then keep the library in step with them until Ctrl+C."""

from __future__ import annotations

import signal
import threading

from rich.markup import escape

from app.cli.console import err, out, show_path
from indexing.models import FileStatus


def cmd_watch(services, args) -> int:
    from indexing.progress import LibraryBusyError
    from indexing.store import StoreError

    library = services.library()
    stop = threading.Event()

    def show(p) -> None:
        r = p.report
        if r is not None and r.status not in (FileStatus.UNCHANGED, FileStatus.SKIPPED):
            detail = f"  ({r.reason})" if r.reason else (f"  ({r.chunks} chunks)" if r.chunks else "")
            out.print(f"{r.status.value:<9} {escape(show_path(r.path))}[dim]{escape(detail)}[/dim]")
        if p.phase == "done" and p.chunks_embedded:  # the batch's vectors are written too
            out.print(f"[dim]up to date: {p.chunks_embedded} passages searchable by meaning too[/dim]")

    def removed(reports) -> None:
        for r in reports:
            out.print(f"removed   {escape(show_path(r.path))}")

    try:
        for p in library.add(args.paths, prune=True):
            show(p)
        watcher = library.watcher(args.paths, debounce_s=args.debounce, on_progress=show, on_removed=removed).start()
    except (StoreError, LibraryBusyError) as exc:
        err.print(f"citewise: {escape(str(exc))}")
        return 1
    err.print(f"Watching {', '.join(escape(p) for p in args.paths)} for changes (Ctrl+C stops)")
    previous = signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        while not stop.wait(0.5):
            pass
    except KeyboardInterrupt:
        pass
    finally:
        signal.signal(signal.SIGTERM, previous)
        err.print("Stopping the watch…")
        watcher.stop()
        left = library.manifest.waiting_count()
        if left:
            err.print(f"{left} passages are searchable by their words only; their vectors are written on the next run")
    return 0
