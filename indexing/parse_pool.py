"""Parsing in worker processes: files are read and chunked while the embedder works, and a
parser that hangs, crashes or balloons costs one file, never the job.

Each worker is a separate process (pebble's ProcessPool, started with `spawn` so it never
inherits torch's threads) that loads the chunker's tokenizer once and then parses files:
`load_document` + `Chunker.chunk_document`. Limits, per file:

- time: a file taking longer than `timeout_s` has its worker killed (and replaced) and is
  refused as "took longer than N s to read";
- memory: the worker's address space is capped with `setrlimit(RLIMIT_AS)`, so a
  decompression bomb fails with MemoryError (refused as too large to parse) instead of
  exhausting the machine; a worker killed outright (a crash in a C library) is reported with
  its exit signal;
- the parent: workers die with the indexing process (`PR_SET_PDEATHSIG`), so a killed job
  leaves no parser behind.
"""

from __future__ import annotations

import functools
import logging
import multiprocessing
import os
import signal
import threading
from concurrent.futures import Future, TimeoutError as FutureTimeout
from dataclasses import dataclass
from pathlib import Path

from indexing.chunking import Chunker, ChunkingConfig
from indexing.models import Chunk, DocumentError, ParsedDocument

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ParseLimits:
    workers: int = 1
    timeout_s: float = 120.0  # per file
    memory_mb: int = 4096  # address space of a worker; 0 = no cap
    ocr: bool = True  # OCR image-only PDF pages when the OCR extra is installed
    ocr_page_timeout_s: float = 120.0  # OCR gets this much per page, apart from the file's limit
    max_pages: int = 2000  # pages read of one file (the rest left out, and said so); 0 = all
    max_chunks: int = 10000  # passages kept of one file (likewise); 0 = all
    # a PDF still being read when this share of timeout_s has passed is indexed as far as it got
    soft_timeout_share: float = 0.8


@dataclass
class Parsed:
    """What a worker sends back for one file."""

    doc: ParsedDocument
    chunks: list[Chunk]


# -- inside a worker ---------------------------------------------------------------------------

_chunker: Chunker | None = None
_limits = ParseLimits()


@functools.cache
def _glibc():
    """The C library on Linux (glibc), else None."""
    try:
        import ctypes

        return ctypes.CDLL("libc.so.6", use_errno=True)
    except OSError:
        return None


def _die_with_parent() -> None:
    try:
        _glibc().prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except AttributeError:  # not Linux: the pipe to the parent closing ends the worker
        pass


def _release_memory() -> None:
    """Hand the heap's free memory back to the system: glibc keeps it otherwise, and a worker that
    read a scan by OCR stayed at its peak size for the rest of the run (bench/robustness.py)."""
    try:
        _glibc().malloc_trim(0)
    except AttributeError:  # not glibc
        pass


def _cap_memory(memory_mb: int) -> None:
    """Caps the worker's address space (0: no cap), so a decompression bomb fails with MemoryError."""
    if memory_mb > 0:
        import resource

        limit = memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def _init_worker(tokenizer_dir: str, config: ChunkingConfig, limits: ParseLimits) -> None:
    global _chunker, _limits
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's to handle
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # the embedder has the cores; a parser takes one
    _limits = limits
    _cap_memory(limits.memory_mb)
    _chunker = Chunker.from_model_dir(tokenizer_dir, config)


def parse_file(path: str, content_hash: str) -> Parsed:
    """Load and chunk one file (runs in a worker, or in process when there is no pool)."""
    from indexing.loaders import load_document

    assert _chunker is not None, "parse_file runs in a worker started by ParsePool"
    import time

    _release_memory()  # the previous file's, sent to the parent by now

    soft = _limits.timeout_s * _limits.soft_timeout_share if _limits.timeout_s > 0 else 0
    try:
        doc = load_document(path, ocr=_limits.ocr, max_pages=_limits.max_pages,
                            deadline=time.monotonic() + soft if soft else None)
    except RecursionError:
        raise DocumentError("the file's structure is nested too deeply to read", code="malformed") from None
    except MemoryError:
        raise DocumentError("too large to parse within the memory limit (a decompression bomb?)", code="too-large") from None
    chunks = _chunker.chunk_document(doc, path=path, content_hash=content_hash, max_chunks=_limits.max_chunks)
    return Parsed(doc, chunks)


def _init_reader(memory_mb: int) -> None:
    """A worker that only reads documents (the source viewer): the same limits, no chunker."""
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    _cap_memory(memory_mb)


def read_unit(path: str, unit: int) -> str | None:
    """The text of one page/chapter of a file as the loaders read it; None if it has no such unit."""
    from indexing.loaders import load_document

    try:
        doc = load_document(path)
    except RecursionError:
        raise DocumentError("the file's structure is nested too deeply to read", code="malformed") from None
    except MemoryError:
        raise DocumentError("too large to read within the memory limit (a decompression bomb?)", code="too-large") from None
    return next((u.text for u in doc.units if u.number == unit), None)


def ocr_file(path: str, pages: list[int]) -> list[tuple[int, str]]:
    """OCR the given pages of a PDF (runs in a worker)."""
    from indexing.ocr import ocr_pdf_pages

    try:
        return ocr_pdf_pages(path, pages)
    except MemoryError:
        raise DocumentError("a page is too large to render within the memory limit", code="too-large") from None
    finally:  # the heap an OCR leaves (hundreds of MB) is not kept while the worker waits
        _release_memory()


# -- in the indexing process -------------------------------------------------------------------


class _Together(Future):
    """One Future for the parts of a job shared among the workers: their results in order, or the
    first failed part's error; cancelling it cancels the parts."""

    def __init__(self, parts: list[Future]):
        super().__init__()
        self.parts = parts
        self._left = len(parts)
        self._lock = threading.Lock()
        for part in parts:
            part.add_done_callback(self._part_done)

    def _part_done(self, _part: Future) -> None:
        with self._lock:
            self._left -= 1
            if self._left or self.done():
                return
        try:
            result = [item for part in self.parts for item in part.result()]
        except BaseException as exc:  # the part's own error: ParsePool.result says what it means
            self.set_exception(exc)
        else:
            self.set_result(result)

    def cancel(self) -> bool:
        for part in self.parts:
            part.cancel()
        return super().cancel()


class ParsePool:
    """Worker processes that parse files; `submit(path, hash)` returns a Future of `Parsed`.

    Without a tokenizer (`tokenizer_dir=None`) the workers only read documents: `read(path, unit)`
    gives one unit's text under the same limits (the source viewer: a file a worker would have
    stopped must not freeze or crash the app when its citation is clicked)."""

    def __init__(
        self, tokenizer_dir: str | Path | None, config: ChunkingConfig | None, limits: ParseLimits | None = None, *,
        target=None, reader=None,
    ):
        self.tokenizer_dir = str(tokenizer_dir) if tokenizer_dir is not None else None
        self.config = config
        self.limits = limits or ParseLimits()
        self.target = target or parse_file  # a module-level function (spawned workers import it)
        self.reader = reader or read_unit
        self._pool = None

    def _start(self):
        if self._pool is None:
            from pebble import ProcessPool

            if self.tokenizer_dir is None:
                init, args = _init_reader, (self.limits.memory_mb,)
            else:
                init, args = _init_worker, (self.tokenizer_dir, self.config, self.limits)
            self._pool = ProcessPool(
                max_workers=max(1, self.limits.workers), initializer=init, initargs=args,
                context=multiprocessing.get_context("spawn"),
            )
        return self._pool

    def submit(self, path: str, content_hash: str) -> Future:
        timeout = self.limits.timeout_s if self.limits.timeout_s > 0 else None
        return self._start().schedule(self.target, args=(path, content_hash), timeout=timeout)

    def submit_ocr(self, path: str, pages: list[int]) -> Future:
        """A Future of `[(page, text)]`. A scan's pages are shared out among the workers (OCR takes
        seconds a page: a 21-page scan read by one worker held a whole folder back)."""
        size = -(-len(pages) // max(1, self.limits.workers))
        parts = [self._schedule_ocr(path, pages[i:i + size]) for i in range(0, len(pages), size)] if pages else []
        return parts[0] if len(parts) == 1 else _Together(parts)

    def _schedule_ocr(self, path: str, pages: list[int]) -> Future:
        timeout = self.limits.ocr_page_timeout_s * len(pages) if self.limits.ocr_page_timeout_s > 0 else None
        return self._start().schedule(ocr_file, args=(path, pages), timeout=timeout)

    def read(self, path: str, unit: int) -> str | None:
        """One unit's text, read in a worker under the limits; DocumentError with the reason."""
        timeout = self.limits.timeout_s if self.limits.timeout_s > 0 else None
        return self.result(self._start().schedule(self.reader, args=(path, unit), timeout=timeout))

    def result(self, future: Future):
        """The parsed file, or DocumentError with the reason the worker gave or died of."""
        from pebble import ProcessExpired

        try:
            return future.result()
        except DocumentError:
            raise
        except FutureTimeout:
            raise DocumentError("took too long to read; the parser was stopped (a time limit per file)", code="timeout") from None
        except ProcessExpired as exc:
            code = exc.exitcode or 0
            if code < 0:
                try:
                    how = signal.Signals(-code).name
                except ValueError:
                    how = f"signal {-code}"
            else:
                how = f"exit code {code}"
            raise DocumentError(f"the parser crashed on this file ({how})", code="crashed") from None
        except MemoryError:
            raise DocumentError("too large to parse within the memory limit", code="too-large") from None
        except Exception as exc:  # a loader bug must not stop the job
            log.info("the reader failed: %r", exc)  # the details, for --verbose
            raise DocumentError("the reader failed on this file in a way Citewise does not expect (a bug: "
                                "run with --verbose for the details, and please report it)", code="bug") from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.stop()
            self._pool.join(timeout=10)
            self._pool = None

    def __enter__(self) -> "ParsePool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
