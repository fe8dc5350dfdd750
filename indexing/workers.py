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

import logging
import multiprocessing
import os
import signal
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


@dataclass
class Parsed:
    """What a worker sends back for one file."""

    doc: ParsedDocument
    chunks: list[Chunk]


# -- inside a worker ---------------------------------------------------------------------------

_chunker: Chunker | None = None
_ocr = False


def _die_with_parent() -> None:
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):  # not Linux: the pipe to the parent closing ends the worker
        pass


def _init_worker(tokenizer_dir: str, config: ChunkingConfig, memory_mb: int, ocr: bool) -> None:
    global _chunker, _ocr
    _die_with_parent()
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's to handle
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # the embedder has the cores; a parser takes one
    _ocr = ocr
    if memory_mb > 0:
        import resource

        limit = memory_mb * 2**20
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    _chunker = Chunker.from_model_dir(tokenizer_dir, config)


def parse_file(path: str, content_hash: str) -> Parsed:
    """Load and chunk one file (runs in a worker, or in process when there is no pool)."""
    from indexing.loaders import load_document

    assert _chunker is not None, "parse_file runs in a worker started by ParsePool"
    try:
        doc = load_document(path, ocr=_ocr)
    except RecursionError:
        raise DocumentError("the file's structure is nested too deeply to read", code="malformed") from None
    except MemoryError:
        raise DocumentError("too large to parse within the memory limit (a decompression bomb?)", code="too-large") from None
    chunks = _chunker.chunk_document(doc, path=path, content_hash=content_hash)
    return Parsed(doc, chunks)


def ocr_file(path: str, pages: list[int]) -> list[tuple[int, str]]:
    """OCR the given pages of a PDF (runs in a worker)."""
    from indexing.ocr import ocr_pdf_pages

    try:
        return ocr_pdf_pages(path, pages)
    except MemoryError:
        raise DocumentError("a page is too large to render within the memory limit", code="too-large") from None


# -- in the indexing process -------------------------------------------------------------------


class ParsePool:
    """Worker processes that parse files; `submit(path, hash)` returns a Future of `Parsed`."""

    def __init__(
        self, tokenizer_dir: str | Path, config: ChunkingConfig, limits: ParseLimits | None = None, *, target=None
    ):
        self.tokenizer_dir = str(tokenizer_dir)
        self.config = config
        self.limits = limits or ParseLimits()
        self.target = target or parse_file  # a module-level function (spawned workers import it)
        self._pool = None

    def _start(self):
        if self._pool is None:
            from pebble import ProcessPool

            self._pool = ProcessPool(
                max_workers=max(1, self.limits.workers),
                initializer=_init_worker,
                initargs=(self.tokenizer_dir, self.config, self.limits.memory_mb, self.limits.ocr),
                context=multiprocessing.get_context("spawn"),
            )
        return self._pool

    def submit(self, path: str, content_hash: str) -> Future:
        timeout = self.limits.timeout_s if self.limits.timeout_s > 0 else None
        return self._start().schedule(self.target, args=(path, content_hash), timeout=timeout)

    def submit_ocr(self, path: str, pages: list[int]) -> Future:
        timeout = self.limits.ocr_page_timeout_s * len(pages) if self.limits.ocr_page_timeout_s > 0 else None
        return self._start().schedule(ocr_file, args=(path, pages), timeout=timeout)

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
            log.warning("unexpected error parsing: %r", exc)
            raise DocumentError(f"unexpected error while reading: {type(exc).__name__}: {exc}", code="bug") from None

    def close(self) -> None:
        if self._pool is not None:
            self._pool.stop()
            self._pool.join(timeout=10)
            self._pool = None

    def __enter__(self) -> "ParsePool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()
