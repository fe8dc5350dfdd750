"""`citewise watch DIR…`: index the folders, then keep the library in step with them until Ctrl+C."""

from __future__ import annotations

import os
import signal
import sys
import threading

from rich.markup import escape

from indexing.models import FileStatus


STOP_GRACE_S = 30.0
EXIT_INTERRUPTED = 130


def _leave_if_stuck(seconds: float, err) -> threading.Timer:
    """Ctrl+C must stop the watch. If stopping (the running job, closing the library, the parse
    workers) takes longer than `seconds`, say so, print where every thread is (for a bug report),
    and leave: the index is crash-safe, so the next run completes the job, as after a kill."""

    def give_up() -> None:
        import faulthandler

        err.print(f"citewise: the watch did not stop within {seconds:.0f} s; leaving now "
                  "(the next `citewise index` or `watch` completes what was running)")
        sys.stderr.flush()
        faulthandler.dump_traceback(file=sys.stderr, all_threads=True)
        sys.stderr.flush()
        sys.stdout.flush()
        os._exit(EXIT_INTERRUPTED)

    timer = threading.Timer(seconds, give_up)
    timer.daemon = True  # a normal exit does not wait for it; a stuck one is ended by it
    timer.start()
    return timer


def cmd_watch(services, args) -> int:
    from app.commands import _show_path, err, out
    from indexing.progress import LibraryBusyError
    from indexing.store import StoreError

    library = services.library()
    stop = threading.Event()

    def show(p) -> None:
        r = p.report
        if r is not None and r.status not in (FileStatus.UNCHANGED, FileStatus.SKIPPED):
            detail = f"  ({r.reason})" if r.reason else (f"  ({r.chunks} chunks)" if r.chunks else "")
            out.print(f"{r.status.value:<9} {escape(_show_path(r.path))}[dim]{escape(detail)}[/dim]")

    def removed(reports) -> None:
        for r in reports:
            out.print(f"removed   {escape(_show_path(r.path))}")

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
        _leave_if_stuck(STOP_GRACE_S, err)  # runs on through closing the library and exit
        watcher.stop()
    return 0
