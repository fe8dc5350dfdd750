"""Files → chunks → vectors → store, incrementally, one writer at a time, resumable.

`Indexer.index(paths)` is a generator of `Progress`: the caller (CLI, desktop worker, folder
watcher) shows it and may cancel between files. Files are compared with the manifest by size
and mtime first, then by content hash; unchanged files cost a `stat`. Changed files are parsed
and chunked in worker processes (parse_pool.py: a time and memory limit per file). Each file
read is committed at once, in two stages: first its record, its lexical rows and its chunks
(queued for their vectors: waiting.py) in one transaction — searchable by its words — then,
while the workers read the next files and after the last, this process embeds the queue in
length-sorted batches that span several small files and writes each batch to the store in one
call. A file that fails is reported with its reason and never stops the job; if an earlier
version of it was indexed, that version is kept. See manifest.py and upkeep.py for how a kill at
any moment is recovered.
"""

from __future__ import annotations

import copy
import os
import threading
import time
from collections import OrderedDict, deque
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np
from filelock import FileLock, Timeout

from indexing.chunking import Chunker
from indexing.discover import discover, file_hash
from indexing.embedder import Embedder
from indexing.manifest import FileRecord, Manifest
from indexing.models import Chunk, DocumentError, FileReport, FileStatus, ParsedDocument, Unit, UnitKind
from indexing.normalize import has_words
from indexing.parse_pool import ParsePool
from indexing.progress import IndexOptions, LibraryBusyError, Progress
from indexing.store import ChunkStore
from indexing.upkeep import Upkeep

__all__ = ["Indexer", "IndexOptions", "LibraryBusyError", "Progress", "discover", "file_hash"]

RECENT_TEXTS = 4096  # texts embedded lately, kept with their vectors (~12 MB): repeats cost nothing


@dataclass
class _ToParse:
    path: str
    size: int
    mtime_ns: int
    content_hash: str
    old: FileRecord | None
    started: float
    ocr_of: ParsedDocument | None = None  # set while its image-only pages are being OCRed
    ocr_pages: int = 0


@dataclass
class _Prepared:
    path: str
    size: int
    mtime_ns: int
    content_hash: str
    doc: ParsedDocument
    chunks: list[Chunk]
    old: FileRecord | None
    seconds: float


class Indexer(Upkeep):
    """Writes one library: its Chroma collection and its manifest."""

    def __init__(
        self,
        store: ChunkStore,
        manifest: Manifest,
        chunker: Chunker,
        embedder: Embedder,
        *,
        lock_path: Path,
        options: IndexOptions | None = None,
    ):
        self.store = store
        self.manifest = manifest
        self.chunker = chunker
        self.embedder = embedder
        self.lock = FileLock(str(lock_path))
        self.options = options or IndexOptions()
        self.pool = ParsePool(embedder.model_dir, chunker.config, self.options.parse)
        self.recent: OrderedDict[str, np.ndarray] = OrderedDict()  # text → vector, this indexer's latest
        self.reused = 0  # chunks that took a vector already made (bench/indexing.py reports it)
        self._unread: set[str] = set()  # the files of the run in progress not read yet
        self._unread_lock = threading.Lock()

    def close(self) -> None:
        self.pool.close()

    def unread(self) -> list[str]:
        """The files of the run in progress that are not read yet (none between runs): what a
        question asked meanwhile cannot find."""
        with self._unread_lock:
            return sorted(self._unread)

    def _reading(self, paths: Sequence[str] = (), done: str | None = None, *, over: bool = False) -> None:
        with self._unread_lock:
            if over:
                self._unread.clear()
            self._unread.update(paths)
            self._unread.discard(done)

    # -- consistency -------------------------------------------------------------------------

    def acquire(self) -> None:
        """Take the library's writer lock (LibraryBusyError when another job holds it)."""
        try:
            self.lock.acquire(timeout=self.options.lock_timeout)
        except Timeout:
            raise LibraryBusyError(
                f"another indexing job is running on library '{self.store.library}'; wait for it to finish"
            ) from None

    # -- one file ----------------------------------------------------------------------------

    def _check(self, path: Path, force: bool) -> FileReport | _ToParse:
        """Decide what a file needs without parsing it: unchanged, refused, or to be parsed."""
        spath = str(path)
        t0 = time.perf_counter()
        old = self.manifest.get(spath)
        try:
            st = path.stat()
        except FileNotFoundError:
            return FileReport(spath, FileStatus.FAILED, "the file disappeared before it could be read")
        except OSError as exc:
            return FileReport(spath, FileStatus.FAILED, f"cannot read the file ({exc.strerror or exc})")
        if old and not force and old.size == st.st_size and old.mtime_ns == st.st_mtime_ns:
            if old.indexed and not old.error:
                return FileReport(spath, FileStatus.UNCHANGED, kind=old.kind, pages=old.pages, chunks=old.chunks)
            return FileReport(spath, FileStatus.FAILED, f"{old.error} (unchanged since the last attempt)", kind=old.kind)
        if st.st_size > self.options.max_file_bytes:
            return self._failed(
                spath, old, st.st_size, st.st_mtime_ns, "",
                f"too large: {st.st_size / 2**20:.0f} MB (the limit is {self.options.max_file_bytes / 2**20:.0f} MB)",
            )
        try:
            digest = file_hash(path)
        except FileNotFoundError:
            return FileReport(spath, FileStatus.FAILED, "the file disappeared before it could be read")
        except OSError as exc:
            return FileReport(spath, FileStatus.FAILED, f"cannot read the file ({exc.strerror or exc})")
        if old and not force and old.content_hash == digest and old.indexed and not old.error:
            self.manifest.touch(spath, st.st_size, st.st_mtime_ns)
            return FileReport(spath, FileStatus.UNCHANGED, kind=old.kind, pages=old.pages, chunks=old.chunks)
        return _ToParse(spath, st.st_size, st.st_mtime_ns, digest, old, t0)

    def _parsed(self, todo: _ToParse, future: Future) -> FileReport | _Prepared | tuple[_ToParse, list[int]]:
        """The outcome of a worker's future: a report (failed), the prepared file, or, for a PDF
        with image-only pages, the same file again for its OCR stage with the pages to OCR (the
        run hands them to a worker once every file is handed out: OCR takes seconds a page, and
        the files with text are searchable first)."""
        try:
            if todo.ocr_of is not None:
                chunks = self._with_ocr(todo, todo.ocr_of, future)
                doc = todo.ocr_of
            else:
                parsed = self.pool.result(future)
                if parsed.doc.ocr_pages:
                    pages, parsed.doc.ocr_pages = parsed.doc.ocr_pages, []
                    return replace(todo, ocr_of=parsed.doc, ocr_pages=len(pages)), pages
                doc, chunks = parsed.doc, parsed.chunks
        except DocumentError as exc:
            return self._failed(todo.path, todo.old, todo.size, todo.mtime_ns, todo.content_hash, exc.reason)
        if not chunks:
            return self._failed(todo.path, todo.old, todo.size, todo.mtime_ns, todo.content_hash, "no text found in the file")
        return _Prepared(
            todo.path, todo.size, todo.mtime_ns, todo.content_hash, doc, chunks, todo.old,
            time.perf_counter() - todo.started,
        )

    def _with_ocr(self, todo: _ToParse, doc: ParsedDocument, future: Future) -> list[Chunk]:
        """Merge the OCR worker's text of the document's image-only pages, and chunk it."""
        try:
            read = self.pool.result(future)
        except DocumentError as exc:
            if not doc.units:
                raise DocumentError(f"no text layer, and OCR failed: {exc.reason}", code=exc.code) from None
            doc.warnings.append(f"{todo.ocr_pages} pages without a text layer could not be OCRed ({exc.reason})")
            read = []
        found = [Unit(number=n, text=t, kind=UnitKind.PAGE) for n, t in read if has_words(t, 3)]
        if read and not found and not doc.units:
            raise DocumentError("no text layer, and OCR found no text on its pages", code="no-text-layer")
        if found:
            doc.units = sorted(doc.units + found, key=lambda u: u.number)
            doc.warnings.append(f"{len(found)} of {doc.page_count} pages read by OCR")
        if len(found) < len(read):
            doc.warnings.append(f"{len(read) - len(found)} of {doc.page_count} pages have no text, even by OCR")
        return self.chunker.chunk_document(doc, path=todo.path, content_hash=todo.content_hash,
                                           max_chunks=self.pool.limits.max_chunks)

    def _failed(self, path: str, old: FileRecord | None, size: int, mtime_ns: int, digest: str, reason: str) -> FileReport:
        if old and old.indexed:
            # keep what was indexed; remember why the new version could not be read
            old.error = reason
            old.size, old.mtime_ns = size, mtime_ns
            self.manifest.put(old)
            return FileReport(path, FileStatus.FAILED, f"{reason}; the previously indexed version is kept", kind=old.kind)
        self.manifest.put(
            FileRecord(path=path, content_hash=digest, size=size, mtime_ns=mtime_ns, status="failed", error=reason)
        )
        return FileReport(path, FileStatus.FAILED, reason)

    def _searchable(self, item: _Prepared) -> FileReport:
        """The first stage of a parsed file: its record, its lexical rows and its chunks (in the
        queue for their vectors) in one transaction, so it answers by its words at once. Chunks
        whose text has a vector already (a page of the file's indexed version, boilerplate
        embedded lately) are written to the store with it now; the earlier version's other
        chunks are deleted. Each store write is recorded ahead in `pending`."""
        new_ids = [c.id for c in item.chunks]
        known = self._known_vectors(item)
        ready = [(c, known[c.embed_text]) for c in item.chunks if c.embed_text in known]
        if ready:
            with self.manifest.transaction() as db:
                self.manifest.mark_pending([c.id for c, _ in ready], item.path, "add", db)
            self.store.add([c for c, _ in ready], np.asarray([v for _, v in ready], dtype=np.float32))
            self.reused += len(ready)
        ready_ids = {c.id for c, _ in ready}
        old_stale = sorted(set(item.old.chunk_ids if item.old else ()) - set(new_ids))
        with self.manifest.transaction() as db:
            self.manifest.put(
                FileRecord(
                    path=item.path, content_hash=item.content_hash, size=item.size, mtime_ns=item.mtime_ns,
                    status="indexed", kind=item.doc.kind, title=item.doc.title, pages=item.doc.page_count,
                    chunks=len(item.chunks), chars=item.doc.char_count, warnings=item.doc.warnings,
                    chunk_ids=new_ids, indexed_at=time.time(), identity=item.doc.identity,
                ),
                db,
            )
            self.manifest.clear_pending(ready_ids, db)
            self.manifest.mark_pending(old_stale, item.path, "delete", db)
            # the lexical index and the queue change in this same transaction: never out of step
            self.manifest.lexical.delete(old_stale, db)
            self.manifest.lexical.add([(c.id, c.path, c.search_text) for c in item.chunks], db)
            self.manifest.waiting.delete(old_stale, db)
            self.manifest.waiting.add([c for c in item.chunks if c.id not in ready_ids], db)
        if old_stale:
            self.store.delete(old_stale)
            self.manifest.clear_pending(old_stale)
        return FileReport(
            item.path, FileStatus.INDEXED, kind=item.doc.kind, pages=item.doc.page_count,
            chunks=len(item.chunks), chars=item.doc.char_count, warnings=item.doc.warnings,
        )

    def _known_vectors(self, item: _Prepared) -> dict[str, np.ndarray]:
        """Vectors this file's texts have already: embedded lately in this indexer, or held by the
        file's indexed version (an edited file: its unchanged pages)."""
        known = {c.embed_text: self.recent[c.embed_text] for c in item.chunks if c.embed_text in self.recent}
        old_ids = list(item.old.chunk_ids) if item.old else []
        if old_ids:
            try:
                known |= {c.embed_text: v for c, v in self.store.get_with_vectors(old_ids)}
            except Exception:  # an unreadable old version: its texts are embedded again
                pass
        return known

    def _embed_waiting(self, limit: int) -> int:
        """The second stage, for the oldest `limit` waiting chunks: embed each distinct text once
        (a text seen lately takes the vector it got then), write them to the store, and take
        them off the queue. Returns how many chunks got their vectors."""
        chunks = self.manifest.next_waiting(limit)
        if not chunks:
            return 0
        todo: dict[str, int] = {}
        for c in chunks:
            if c.embed_text not in self.recent:
                todo.setdefault(c.embed_text, len(todo))
        fresh = self.embedder.embed(list(todo)) if todo else None
        self.reused += len(chunks) - len(todo)
        vectors = []
        for c in chunks:
            if c.embed_text in todo:
                vector = fresh[todo[c.embed_text]]
                self.recent[c.embed_text] = vector
            else:
                vector = self.recent[c.embed_text]
                self.recent.move_to_end(c.embed_text)
            vectors.append(vector)
        while len(self.recent) > RECENT_TEXTS:
            self.recent.popitem(last=False)
        # a kill after this write and before the delete below: the next run writes them again
        # (an upsert: the same ids, the same vectors)
        self.store.add(chunks, np.asarray(vectors, dtype=np.float32).reshape(len(chunks), -1))
        with self.manifest.transaction() as db:
            self.manifest.waiting.delete([c.id for c in chunks], db)
        return len(chunks)

    # -- a run -------------------------------------------------------------------------------

    def index(
        self,
        paths: Sequence[str | os.PathLike[str]],
        *,
        prune: bool = False,
        force: bool = False,
        cancel: Callable[[], bool] | None = None,
    ) -> Iterator[Progress]:
        """Index the files under `paths`, yielding Progress (a snapshot per file and step); the
        last one's phase is "done" or "cancelled", its reports one per file found. Each file is
        searchable by its words once read (its report comes then); the vectors follow, written
        while the parse workers read the next files, then the rest once all are read, so a run
        ends with every chunk embedded (a cancelled or killed one leaves them queued: the next
        run embeds them first)."""
        run = _Run(self, cancel or (lambda: False))
        yield run.progress
        files, skipped = discover(paths)
        files = run.plan(files)
        run.progress.reports.extend(skipped)
        run.progress.phase = "indexing"
        self.acquire()
        try:
            self.recover()
            self._reading([str(f) for f in files], over=True)
            for path in files:
                if run.cancel():
                    break
                yield run.at(path)
                todo = self._check(path, force)
                if isinstance(todo, FileReport):
                    yield run.finish(todo)
                    continue
                run.inflight.append((todo, self.pool.submit(todo.path, todo.content_hash)))
                yield from run.collect(block=run.too_many())
            if not run.cancel():
                run.ocr_when_free(handed_out=True)
            while (run.inflight or run.scans) and not run.cancel():
                yield from run.collect(block=True)  # returns when all are in (or on cancel)
                run.ocr_when_free()
            if not run.cancel():
                yield run.all_read()
                if prune:
                    run.progress.reports.extend(self.prune(paths, {str(f) for f in files}))
            while run.progress.chunks_waiting and not run.cancel():
                yield from run.embed()
        finally:
            for _, future in run.inflight:
                future.cancel()  # handed out, not read yet: read again next run
            self._reading(over=True)
            self.lock.release()
        yield run.end()


# chunks embedded at a time while files are still being read (a full batch once all are read)
READING_BATCH = 32

# a file this large (a 5,000-page PDF, a database dump named .txt) is indexed after the others, so
# the ordinary documents of a drop are searchable first
GIANT_BYTES = 8 * 2**20


class _Run:
    """One `Indexer.index` run: its Progress and the files handed to the parse workers
    (`inflight`). The chunks waiting for their vectors are in the manifest's queue."""

    def __init__(self, indexer: Indexer, cancel: Callable[[], bool]):
        self.indexer = indexer
        self.cancel = cancel
        self.t0 = time.perf_counter()
        self.progress = Progress(phase="scanning")
        self.sizes: dict[str, int] = {}
        self.inflight: deque[tuple[_ToParse, Future]] = deque()
        # scanned pages to OCR, handed to the workers once every file is (OCR is the slowest
        # reading there is: the files with a text layer are searchable first)
        self.scans: list[tuple[_ToParse, list[int]]] = []
        self.handed_out = False
        self.reading_done = False
        self.progress.chunks_waiting = indexer.manifest.waiting_count()  # a killed run's, if any
        # files handed to the parse workers ahead: enough that they never run dry while a batch is
        # embedded (a 3 MB PDF parses for seconds), few enough that read files waiting to be
        # collected stay small in memory (bench/indexing.py)
        self.lookahead = 8 * max(1, indexer.options.parse.workers) + 4
        self.lookahead_bytes = 64 * 2**20
        self.cores = os.cpu_count() or 1

    def plan(self, files: list[Path]) -> list[Path]:
        """The files in the order they are indexed: as found, giants last."""
        for f in files:
            try:
                self.sizes[str(f)] = f.stat().st_size
            except OSError:
                self.sizes[str(f)] = 0
        self.progress.files_total = len(files)
        self.progress.bytes_total = sum(self.sizes.values())
        return sorted(files, key=lambda f: self.sizes[str(f)] >= GIANT_BYTES)

    def too_many(self) -> bool:
        return len(self.inflight) > self.lookahead or (
            len(self.inflight) > 1 and sum(t.size for t, _ in self.inflight) > self.lookahead_bytes
        )

    def at(self, path: Path) -> Progress:
        self.progress.current = str(path)
        return self.snapshot()

    def finish(self, report: FileReport, work: bool = False) -> Progress:
        self.indexer._reading(done=report.path)
        p = self.progress
        p.files_done += 1
        p.bytes_done += self.sizes.get(report.path, 0)
        p.elapsed = time.perf_counter() - self.t0
        if work:
            p.work_bytes += self.sizes.get(report.path, 0)
            p.work_seconds = p.elapsed
        p.chunks_done += report.chunks if report.status is FileStatus.INDEXED else 0
        p.report = report
        p.reports.append(report)
        self._text_read()
        return copy.copy(p)  # a snapshot: the consumer may read it on another thread

    def ocr_when_free(self, handed_out: bool = False) -> None:
        """Hand the scanned pages to the workers once every file is handed out."""
        self.handed_out = self.handed_out or handed_out
        if not self.handed_out:
            return
        for todo, pages in self.scans:
            self.inflight.append((todo, self.indexer.pool.submit_ocr(todo.path, pages)))
        self.scans = []

    def core_free(self) -> bool:
        """Whether a core is left over by the parse workers: while files are unread they come
        first (the files are searchable by their words once read), and the vectors are written
        on the cores the reading leaves free (bench/indexing.py's time to searchable)."""
        # a scan's OCR shared among the workers holds one core per part
        reading = sum(1 for _, f in self.inflight for part in getattr(f, "parts", (f,)) if not part.done())
        return reading < self.cores

    def embed(self) -> Iterator[Progress]:
        """Embed one batch of the waiting chunks (cancelled meanwhile: they stay queued). While
        files are still being read the batch is small, so the workers are handed the next files
        within seconds (a full batch takes a quarter of a minute on two cores, and they ran dry
        meanwhile: bench/indexing.py's time to searchable)."""
        t = time.perf_counter()
        limit = self.indexer.options.flush_chunks
        done = self.indexer._embed_waiting(limit if self.reading_done else min(limit, READING_BATCH))
        p = self.progress
        p.embed_seconds += time.perf_counter() - t
        p.chunks_embedded += done
        p.chunks_waiting = max(0, p.chunks_waiting - done) if done else 0
        yield self.snapshot()

    def snapshot(self) -> Progress:
        """The progress now, with no file's report (a copy: the consumer may read it on another thread)."""
        self.progress.elapsed = time.perf_counter() - self.t0
        self.progress.report = None
        return copy.copy(self.progress)

    def all_read(self) -> Progress:
        """Every file of the run is read: searchable; what is left is vectors."""
        self.reading_done = True
        p = self.progress
        p.elapsed = p.searchable_s = time.perf_counter() - self.t0
        p.text_searchable_s = p.searchable_s if p.text_searchable_s is None else p.text_searchable_s
        p.current = None
        p.report = None
        p.phase = "embedding" if p.chunks_waiting else p.phase
        return copy.copy(p)

    def collect(self, block: bool) -> Iterator[Progress]:
        """Take the files the workers have finished, in the order they finish (a large PDF or its
        OCR does not hold up the files behind it). With `block`, wait until fewer than the
        look-ahead are out, embedding what is parsed meanwhile."""
        while self.inflight and not self.cancel():
            ready = next((i for i, (_, f) in enumerate(self.inflight) if f.done()), None)
            if ready is None:
                if not block:
                    return
                if self.progress.chunks_waiting and self.core_free():  # embed what is read meanwhile
                    yield from self.embed()
                else:
                    wait([f for _, f in self.inflight], timeout=1.0, return_when=FIRST_COMPLETED)
                continue
            todo, future = self.inflight[ready]
            del self.inflight[ready]
            result = self.indexer._parsed(todo, future)
            if isinstance(result, tuple):  # its image-only pages go to OCR: comes back later
                self.scans.append(result)
                self.progress.files_to_ocr += 1
                self.progress.pages_to_ocr += len(result[1])
                self.ocr_when_free()
                self._text_read()
                yield self.snapshot()  # the bar says what waits for OCR
                continue
            if todo.ocr_of is not None:
                self.progress.files_to_ocr -= 1
                self.progress.pages_to_ocr -= todo.ocr_pages
            if isinstance(result, _Prepared):
                report = self.indexer._searchable(result)
                report.seconds = result.seconds
                self.progress.chunks_waiting = self.indexer.manifest.waiting_count()
                result = report
            yield self.finish(result, work=True)
            block = block and self.too_many()

    def _text_read(self) -> None:
        """Every file is read but those whose scanned pages wait for OCR: the moment is kept."""
        p = self.progress
        if p.text_searchable_s is None and p.files_done + p.files_to_ocr >= p.files_total:
            p.text_searchable_s = time.perf_counter() - self.t0

    def end(self) -> Progress:
        p = self.progress
        p.current = None
        p.report = None
        p.elapsed = time.perf_counter() - self.t0
        p.phase = "cancelled" if self.cancel() else "done"
        return p
