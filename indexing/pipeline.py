"""Files → chunks → vectors → store, incrementally, one writer at a time, resumable.

`Indexer.index(paths)` is a generator of `Progress`: the caller (CLI, desktop worker) shows
it and may cancel between files. Files are compared with the manifest by size and mtime
first, then by content hash; unchanged files cost a `stat`. A file that fails is reported
with its reason and never stops the job; if an earlier version of it was indexed, that version
is kept. See manifest.py for how a kill at any moment is recovered.
"""

from __future__ import annotations

import copy
import hashlib
import logging
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator, Sequence

from filelock import FileLock, Timeout

from indexing.chunking import Chunker
from indexing.embedder import Embedder
from indexing.loaders import is_supported, load_document
from indexing.manifest import FileRecord, Manifest
from indexing.models import Chunk, DocumentError, FileReport, FileStatus, ParsedDocument
from indexing.store import ChunkStore

log = logging.getLogger(__name__)

JUNK_NAMES = {"thumbs.db", "desktop.ini", ".ds_store"}


class LibraryBusyError(RuntimeError):
    """Another indexing job holds the library."""


@dataclass
class IndexOptions:
    max_file_bytes: int = 512 * 1024 * 1024
    flush_chunks: int = 256  # embed chunks of several small files in one batch
    lock_timeout: float = 0.0  # seconds to wait for another job to finish


@dataclass
class Progress:
    phase: str  # scanning | indexing | done | cancelled
    files_total: int = 0
    files_done: int = 0
    chunks_done: int = 0
    bytes_total: int = 0
    bytes_done: int = 0
    current: str | None = None
    elapsed: float = 0.0
    work_seconds: float = 0.0
    work_bytes: int = 0
    report: FileReport | None = None
    reports: list[FileReport] = field(default_factory=list)

    @property
    def chunks_per_s(self) -> float:
        return self.chunks_done / self.elapsed if self.elapsed > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        if self.work_bytes <= 0 or self.bytes_total <= 0:
            return None
        return max(0.0, (self.bytes_total - self.bytes_done) * self.work_seconds / self.work_bytes)

    def counts(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for r in self.reports:
            out[r.status.value] = out.get(r.status.value, 0) + 1
        return out


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _hidden(name: str) -> bool:
    return name.startswith(".") or name.startswith("~$") or name.lower() in JUNK_NAMES


def discover(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[FileReport]]:
    """Supported files under `paths` (recursively), and reports for what was skipped."""
    files: list[Path] = []
    skipped: list[FileReport] = []
    seen: set[Path] = set()

    def add(p: Path) -> None:
        rp = p.resolve()
        if rp not in seen:
            seen.add(rp)
            files.append(rp)

    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                hidden_dirs = [d for d in dirs if _hidden(d)]
                for d in hidden_dirs:
                    skipped.append(FileReport(str(Path(root, d).resolve()), FileStatus.SKIPPED, "hidden folder"))
                dirs[:] = sorted(d for d in dirs if not _hidden(d))
                for name in sorted(names):
                    p = Path(root, name)
                    if _hidden(name):
                        skipped.append(FileReport(str(p.resolve()), FileStatus.SKIPPED, "hidden file"))
                    elif not is_supported(p):
                        skipped.append(
                            FileReport(str(p.resolve()), FileStatus.SKIPPED, f"unsupported file type {p.suffix or '(no extension)'}")
                        )
                    elif p.is_file():
                        add(p)
        elif path.is_file():
            add(path)  # named explicitly: tried whatever its extension, the loader says why not
        elif path.exists():
            skipped.append(FileReport(str(path.resolve()), FileStatus.SKIPPED, "not a regular file"))
        else:
            skipped.append(FileReport(str(path.absolute()), FileStatus.FAILED, "no such file or folder"))
    return files, skipped


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


class Indexer:
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

    # -- consistency -------------------------------------------------------------------------

    def _acquire(self) -> None:
        try:
            self.lock.acquire(timeout=self.options.lock_timeout)
        except Timeout:
            raise LibraryBusyError(
                f"another indexing job is running on library '{self.store.library}'; wait for it to finish"
            ) from None

    def recover(self) -> int:
        """Settle what a killed run left pending. Returns the number of chunk ids settled."""
        pending = self.manifest.pending()
        if not pending:
            return 0
        committed: dict[str, set[str]] = {}
        doomed: list[str] = []
        for chunk_id, path, op in pending:
            if op == "add":
                if path not in committed:
                    rec = self.manifest.get(path)
                    committed[path] = set(rec.chunk_ids) if rec else set()
                if chunk_id in committed[path]:
                    continue  # the same content committed earlier: keep it
            doomed.append(chunk_id)
        self.store.delete(doomed)
        self.manifest.clear_pending([c for c, _, _ in pending])
        log.info("recovered %d pending chunk ids (%d deleted)", len(pending), len(doomed))
        return len(pending)

    # -- indexing ----------------------------------------------------------------------------

    def _prepare(self, path: Path, force: bool) -> FileReport | _Prepared:
        """Decide what a file needs; parse and chunk it when it changed."""
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
                spath, old, st, "",
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
        try:
            doc = load_document(path)
        except DocumentError as exc:
            return self._failed(spath, old, st, digest, exc.reason)
        except RecursionError:
            return self._failed(spath, old, st, digest, "the file's structure is nested too deeply to read")
        except Exception as exc:  # a loader bug must not stop the job
            log.exception("unexpected error reading %s", spath)
            return self._failed(spath, old, st, digest, f"unexpected error while reading: {type(exc).__name__}: {exc}")
        chunks = self.chunker.chunk_document(doc, path=spath, content_hash=digest)
        if not chunks:
            return self._failed(spath, old, st, digest, "no text found in the file")
        return _Prepared(spath, st.st_size, st.st_mtime_ns, digest, doc, chunks, old, time.perf_counter() - t0)

    def _failed(self, path: str, old: FileRecord | None, st, digest: str, reason: str) -> FileReport:
        if old and old.indexed:
            # keep what was indexed; remember why the new version could not be read
            old.error = reason
            old.size, old.mtime_ns = st.st_size, st.st_mtime_ns
            self.manifest.put(old)
            return FileReport(path, FileStatus.FAILED, f"{reason}; the previously indexed version is kept", kind=old.kind)
        self.manifest.put(
            FileRecord(path=path, content_hash=digest, size=st.st_size, mtime_ns=st.st_mtime_ns, status="failed", error=reason)
        )
        return FileReport(path, FileStatus.FAILED, reason)

    def _commit(self, item: _Prepared, vectors) -> FileReport:
        new_ids = [c.id for c in item.chunks]
        self.manifest.mark_pending(new_ids, item.path, "add")
        self.store.add(item.chunks, vectors)
        old_ids = set(item.old.chunk_ids) if item.old else set()
        stale = sorted(old_ids - set(new_ids))
        record = FileRecord(
            path=item.path,
            content_hash=item.content_hash,
            size=item.size,
            mtime_ns=item.mtime_ns,
            status="indexed",
            kind=item.doc.kind,
            title=item.doc.title,
            pages=item.doc.page_count,
            chunks=len(item.chunks),
            chars=item.doc.char_count,
            warnings=item.doc.warnings,
            chunk_ids=new_ids,
            indexed_at=time.time(),
        )
        with self.manifest.transaction() as db:
            self.manifest.put(record, db)
            self.manifest.clear_pending(new_ids, db)
            self.manifest.mark_pending(stale, item.path, "delete", db)
            self.manifest.lexical.delete(stale, db)
            self.manifest.lexical.add([(c.id, c.path, c.text) for c in item.chunks], db)
        if stale:
            self.store.delete(stale)
            self.manifest.clear_pending(stale)
        return FileReport(
            item.path, FileStatus.INDEXED, kind=item.doc.kind, pages=item.doc.page_count,
            chunks=len(item.chunks), chars=item.doc.char_count, warnings=item.doc.warnings,
        )

    def index(
        self,
        paths: Sequence[str | os.PathLike[str]],
        *,
        prune: bool = False,
        force: bool = False,
        cancel: Callable[[], bool] | None = None,
    ) -> Iterator[Progress]:
        cancel = cancel or (lambda: False)
        t0 = time.perf_counter()
        progress = Progress(phase="scanning")
        yield progress
        files, skipped = discover(paths)
        sizes = {}
        for f in files:
            try:
                sizes[str(f)] = f.stat().st_size
            except OSError:
                sizes[str(f)] = 0
        progress.files_total = len(files)
        progress.bytes_total = sum(sizes.values())
        progress.reports.extend(skipped)
        progress.phase = "indexing"

        self._acquire()
        try:
            self.recover()
            batch: list[_Prepared] = []
            batch_chunks = 0

            def finish(report: FileReport, work: float = 0.0) -> Progress:
                progress.files_done += 1
                progress.bytes_done += sizes.get(report.path, 0)
                if work:
                    progress.work_seconds += work
                    progress.work_bytes += sizes.get(report.path, 0)
                progress.chunks_done += report.chunks if report.status is FileStatus.INDEXED else 0
                progress.elapsed = time.perf_counter() - t0
                progress.report = report
                progress.reports.append(report)
                return copy.copy(progress)  # a snapshot: the consumer may read it on another thread

            def flush() -> Iterator[Progress]:
                nonlocal batch, batch_chunks
                if not batch:
                    return
                t = time.perf_counter()
                vectors = self.embedder.embed([c.text for item in batch for c in item.chunks])
                embed_each = (time.perf_counter() - t) / max(batch_chunks, 1)
                offset = 0
                for item in batch:
                    if cancel():  # the rest of the batch is simply not committed
                        break
                    n = len(item.chunks)
                    tc = time.perf_counter()
                    report = self._commit(item, vectors[offset : offset + n])
                    offset += n
                    report.seconds = item.seconds + embed_each * n + (time.perf_counter() - tc)
                    yield finish(report, report.seconds)
                batch, batch_chunks = [], 0

            for path in files:
                if cancel():
                    break
                progress.current = str(path)
                progress.report = None
                progress.elapsed = time.perf_counter() - t0
                yield copy.copy(progress)
                result = self._prepare(path, force)
                if isinstance(result, FileReport):
                    yield finish(result)
                    continue
                batch.append(result)
                batch_chunks += len(result.chunks)
                if batch_chunks >= self.options.flush_chunks:
                    yield from flush()
            if not cancel():
                yield from flush()
                if prune:
                    for report in self._prune(paths, {str(f) for f in files}):
                        progress.reports.append(report)
            else:
                batch = []  # parsed but not embedded: not committed, redone next run
        finally:
            self.lock.release()
        progress.current = None
        progress.report = None
        progress.elapsed = time.perf_counter() - t0
        progress.phase = "cancelled" if cancel() else "done"
        yield progress

    def _prune(self, paths: Sequence[str | os.PathLike[str]], present: set[str]) -> list[FileReport]:
        gone: list[str] = []
        for raw in paths:
            root = str(Path(raw).expanduser().resolve())
            for rec in self.manifest.files(under=root):
                if rec.path not in present and not Path(rec.path).exists():
                    gone.append(rec.path)
        return self._remove_records(gone)

    def _remove_records(self, paths: Iterable[str]) -> list[FileReport]:
        reports = []
        for path in paths:
            rec = self.manifest.get(path)
            if rec is None:
                continue
            with self.manifest.transaction() as db:
                self.manifest.mark_pending(rec.chunk_ids, path, "delete", db)
                self.manifest.drop(path, db)
                self.manifest.lexical.delete(rec.chunk_ids, db)
            self.store.delete(rec.chunk_ids)
            self.manifest.clear_pending(rec.chunk_ids)
            reports.append(FileReport(path, FileStatus.REMOVED, kind=rec.kind, pages=rec.pages, chunks=rec.chunks))
        return reports

    def remove(self, paths: Sequence[str | os.PathLike[str]]) -> list[FileReport]:
        """Drop files (or everything under folders) from the library; the files stay on disk."""
        self._acquire()
        try:
            self.recover()
            targets: list[str] = []
            for raw in paths:
                p = Path(raw).expanduser()
                key = str(p.resolve()) if p.exists() else str(p.absolute())
                recs = self.manifest.files(under=key)
                if not recs and not p.exists():
                    # a relative path that was indexed from elsewhere: match by resolved absolute path
                    recs = self.manifest.files(under=os.path.abspath(raw))
                targets.extend(r.path for r in recs)
            return self._remove_records(targets)
        finally:
            self.lock.release()

    def check(self) -> dict[str, int]:
        """Compare the store with the manifest: orphans in the store, chunks missing from it."""
        in_store = set(self.store.all_ids())
        in_manifest = self.manifest.all_chunk_ids()
        in_lexical = self.manifest.lexical_ids()
        return {
            "store_chunks": len(in_store),
            "manifest_chunks": len(in_manifest),
            "orphans": len(in_store - in_manifest),
            "missing": len(in_manifest - in_store),
            "pending": len(self.manifest.pending()),
            "lexical_mismatch": len(in_lexical ^ in_manifest),
        }
