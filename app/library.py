"""One library (a Chroma collection and its manifest) and the use cases on it."""

from __future__ import annotations

import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

from indexing.chunking import Chunker
from indexing.embedder import Embedder
from indexing.manifest import FileRecord, Manifest
from indexing.models import DocumentError, FileReport
from indexing.pipeline import Indexer, IndexOptions, Progress
from indexing.store import ChunkStore
from retrieval.search import Retriever, SearchSettings


MAX_SCOPE = 30_000  # files a question may be asked within (SQLite's limit on one query's values)


@dataclass(frozen=True)
class Unfinished:
    """What a library has not finished indexing at the moment a question is asked: files not read
    yet (a run in progress: a question cannot find them) and files read whose vectors are still
    being written (found by their words only)."""

    unread: list[str]
    embedding: list[str]
    files: int  # the library's files and the run's unread ones

    def note(self) -> str:
        """What an answer given now says of them: "3 of 147 files are still being indexed: …"."""
        parts = []
        if self.unread:
            parts.append(f"{_count(self.unread, self.files)} not read yet ({_names(self.unread)}), so this answer "
                         "could not use them")
        if self.embedding:
            parts.append(f"{_count(self.embedding, self.files)} still being indexed ({_names(self.embedding)}): "
                         "this answer found their passages by their words only")
        return "; ".join(parts) + "."

    def not_yet(self) -> str:
        """Why a question found nothing while the library is unfinished: not a refusal."""
        waiting = sorted(set(self.unread) | set(self.embedding))
        return (f"{_count(waiting, self.files)} still being indexed ({_names(waiting)}); "
                "ask again when indexing has finished.")


def _count(paths: Sequence[str], total: int) -> str:
    n = len(paths)
    return f"{n} of {max(n, total):,} file{'s' * (max(n, total) != 1)} {'is' if n == 1 else 'are'}"


def _names(paths: Sequence[str], shown: int = 3) -> str:
    names = [Path(p).name for p in paths[:shown]]
    return ", ".join(names) + (f" and {len(paths) - shown:,} more" if len(paths) > shown else "")


@dataclass(frozen=True)
class LibraryParts:
    """What a library is made of, given by the composition root (app.services). The embedder,
    store and chunker are made on first use: which embedder depends on the vectors the library's
    collection already holds, and a library that is only listed loads no model."""

    state_dir: Path
    embedder: Callable[[], Embedder]
    store: Callable[[Embedder], ChunkStore]
    chunker: Callable[[], Chunker]
    options: IndexOptions
    search: SearchSettings


class Library:
    """One library (a Chroma collection and its manifest) and the use cases on it."""

    def __init__(self, name: str, parts: LibraryParts):
        self.name = name
        self.parts = parts
        self.state_dir = parts.state_dir
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.manifest = Manifest(self.state_dir / "manifest.sqlite")
        self.manifest.set_meta("name", name)
        self._store: ChunkStore | None = None
        self._embedder: Embedder | None = None
        self._indexer: Indexer | None = None
        self._retriever: Retriever | None = None
        self._lexical_checked = False
        self._lock = threading.Lock()
        self._reader_pool = None  # the viewer's document reader (a worker process), started on first use

    @property
    def embedder(self) -> Embedder:
        """What embeds this library's chunks and questions (chosen by the vectors it holds)."""
        if self._embedder is None:
            self._embedder = self.parts.embedder()
        return self._embedder

    def use_embedder(self, embedder: Embedder) -> None:
        """Before the library's store is opened: make (or open) it with this embedder's vectors."""
        if self._store is not None:
            raise RuntimeError(f"library '{self.name}' is already open")
        self._embedder = embedder

    @property
    def store(self) -> ChunkStore:
        with self._lock:
            if self._store is None:
                self._store = self.parts.store(self.embedder)
            return self._store

    @property
    def indexer(self) -> Indexer:
        if self._indexer is None:
            self._indexer = Indexer(
                self.store,
                self.manifest,
                self.parts.chunker(),
                self.embedder,
                lock_path=self.state_dir / "index.lock",
                options=self.parts.options,
            )
        return self._indexer

    @property
    def retriever(self) -> Retriever:
        """The library's retriever (made once: its store and embedder are the library's)."""
        if self._retriever is None:
            self._backfill_lexical()
            self._retriever = Retriever(
                self.store, self.embedder, self.parts.search, lexical=self.manifest.lexical_search,
                documents=self._documents, frequency=self.manifest.lexical_frequency,
                size=self.manifest.lexical_count, waiting=self.manifest.waiting_chunks,
            )
        return self._retriever

    def _documents(self) -> dict[str, str]:
        """path → identity of the indexed documents, read again only when the manifest changed."""
        version = self.manifest.version()
        cached = getattr(self, "_identities", None)
        if cached is None or cached[0] != version:
            self._identities = (version, self.manifest.identities())
        return self._identities[1]

    def _backfill_lexical(self) -> None:
        """Libraries indexed before the lexical index existed get it from the store, once."""
        if self._lexical_checked:
            return
        self._lexical_checked = True
        if self.manifest.lexical.count() == self.manifest.stats()["chunks"]:
            return  # in step: both change in the same transactions (no id sets: 1 s at 300k chunks)
        expected = self.manifest.all_chunk_ids()
        missing = sorted(expected - self.manifest.lexical_ids())
        for i in range(0, len(missing), 2000):
            chunks = self.store.get(missing[i : i + 2000])
            with self.manifest.transaction() as db:
                self.manifest.lexical.add([(c.id, c.path, c.search_text) for c in chunks], db)

    # use cases
    def add(self, paths: Sequence[str | Path], *, prune: bool = False, force: bool = False, cancel=None) -> Iterator[Progress]:
        return self.indexer.index(paths, prune=prune, force=force, cancel=cancel)

    def remove(self, paths: Sequence[str | Path]) -> list[FileReport]:
        return self.indexer.remove(paths)

    def watcher(self, paths: Sequence[str | Path], **kw):
        """A FolderWatcher on `paths` (not started): the CLI's watch and the app's toggle."""
        from indexing.watch import FolderWatcher

        return FolderWatcher(self.indexer, paths, **kw)

    @contextmanager
    def writing(self):
        """Hold the library's writer lock (no indexing job may run meanwhile)."""
        indexer = self.indexer
        indexer.acquire()
        try:
            yield
        finally:
            indexer.lock.release()

    def unit_text(self, path: str, unit: int) -> tuple[str, bool]:
        """The text of one page/chapter of an indexed file as it was indexed, and whether the
        file changed since (then the cited span may have moved). Raises DocumentError."""
        from indexing.pipeline import file_hash

        text = self._reader().read(path, unit)
        if text is None:
            raise DocumentError(f"{Path(path).name} has no unit {unit} any more")
        record = self.manifest.get(path)
        stale = bool(record) and file_hash(Path(path)) != record.content_hash
        return text, stale

    def _reader(self):
        """One worker process that reads documents for the viewer, with the indexing limits
        (time, memory): a hostile file costs an error message, never the app."""
        if self._reader_pool is None:
            from dataclasses import replace

            from indexing.parse_pool import ParsePool

            limits = replace(self.parts.options.parse, workers=1)
            self._reader_pool = ParsePool(None, None, limits)
        return self._reader_pool

    def files(self) -> list[FileRecord]:
        return self.manifest.files()

    def scope(self, paths: Sequence[str | Path]) -> list[str]:
        """The indexed files a question may be asked within: each path is a file or a folder (all
        indexed files under it). DocumentError naming what holds none, or when there are too many."""
        chosen: list[str] = []
        for p in paths:
            path = str(Path(p).expanduser().resolve())
            files = [r.path for r in self.manifest.files(under=path) if r.indexed]
            if not files:
                raise DocumentError(f"nothing indexed in library '{self.name}' is in {path}")
            chosen.extend(files)
        chosen = sorted(set(chosen))
        if len(chosen) > MAX_SCOPE:
            raise DocumentError(f"a question can be asked within at most {MAX_SCOPE:,} files, not {len(chosen):,}: choose fewer folders")
        return chosen

    def chunks_of(self, path: str | Path) -> list:
        """The chunks of one indexed file, in reading order. DocumentError when it is not indexed."""
        path = str(Path(path).expanduser().resolve())
        record = self.manifest.get(path)
        if record is None or not record.indexed:
            raise DocumentError(f"{Path(path).name} is not indexed in library '{self.name}'"
                                + (f" ({record.error})" if record is not None and record.error else ""))
        chunks = self.store.get(record.chunk_ids)
        if len(chunks) < len(record.chunk_ids):  # its vectors are still being written
            have = {c.id for c in chunks}
            chunks += self.manifest.waiting_chunks([i for i in record.chunk_ids if i not in have])
        return sorted(chunks, key=lambda c: c.index)

    def summarize(self, path: str | Path, *, cancel=None, engine=None, llm=None, embed=None):
        """A whole document summarised, each bullet cited: a generator of Progress (and, with an
        engine, its loading Status), then the Answer. Extractive (retrieval/summary.py), or written
        by `engine` map-reduce with `llm` settings, its bullets checked with `embed`
        (app/written_summary.py). DocumentError when the file is not indexed."""
        from retrieval.summary import summarize

        chunks = self.chunks_of(path)
        path = str(Path(path).expanduser().resolve())
        if engine is not None:
            from app.written_summary import written_summary

            return written_summary(path, chunks, engine, embed or self.embedder.embed, llm, cancel=cancel)
        return summarize(path, chunks, self.embedder.embed, cancel=cancel)

    def unfinished(self) -> Unfinished | None:
        """What is not fully indexed yet (None when nothing is): files a run in progress has not
        read, and files whose vectors are still being written."""
        unread = self._indexer.unread() if self._indexer is not None else []
        embedding = sorted(self.manifest.waiting_files())
        if not unread and not embedding:
            return None
        known = self.manifest.stats()["files"]
        new = sum(1 for p in unread if self.manifest.get(p) is None)
        return Unfinished(unread=unread, embedding=embedding, files=known + new)

    def file(self, path: str) -> FileRecord | None:
        """One file's record (None when the library does not hold it)."""
        return self.manifest.get(path)

    def stats(self) -> dict[str, int]:
        return self.manifest.stats()

    def close(self) -> None:
        if self._reader_pool is not None:
            self._reader_pool.close()
            self._reader_pool = None
        if self._indexer is not None:
            self._indexer.close()
        self.manifest.close()



