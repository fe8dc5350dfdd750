"""Composition root: builds the parts from settings, lazily, and closes them."""

from __future__ import annotations

import os
import re
import threading
from pathlib import Path
from typing import Iterator, Sequence
from urllib.parse import urlparse

from app.settings import Settings
from indexing.chunking import Chunker, ChunkingConfig
from indexing.embedder import Embedder, model_max_tokens
from indexing.manifest import FileRecord, Manifest
from indexing.models import FileReport
from indexing.pipeline import Indexer, IndexOptions, Progress
from indexing.workers import ParseLimits
from indexing.store import COLLECTION_PREFIX, ChunkStore, open_client
from retrieval.search import Retriever, SearchSettings


def _slug(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9._-]+", "-", name.strip()).strip("-._") or "library"


def index_options(settings: Settings) -> IndexOptions:
    i = settings.indexing
    workers = i.parse_workers or max(1, min(4, (os.cpu_count() or 2) // 2))
    return IndexOptions(
        max_file_bytes=i.max_file_mb * 2**20,
        flush_chunks=i.batch_chunks,
        parse=ParseLimits(workers=workers, timeout_s=i.parse_timeout_s, memory_mb=i.parse_memory_mb, ocr=i.ocr != "off"),
    )


class Library:
    """One library (a Chroma collection and its manifest) and the use cases on it."""

    def __init__(self, services: "Services", name: str):
        self.services = services
        self.name = name
        self.state_dir = services.state_root / _slug(name)
        self.state_dir.mkdir(parents=True, exist_ok=True)
        self.manifest = Manifest(self.state_dir / "manifest.sqlite")
        self.manifest.set_meta("name", name)
        self._store: ChunkStore | None = None
        self._indexer: Indexer | None = None
        self._lock = threading.Lock()

    @property
    def store(self) -> ChunkStore:
        with self._lock:
            if self._store is None:
                s = self.services
                self._store = ChunkStore(
                    s.client,
                    self.name,
                    embed_model=s.embedder.model_id,
                    dim=s.embedder.dim,
                    chunker=s.chunking_config.fingerprint,
                    variant=s.embedder.variant,
                )
            return self._store

    @property
    def indexer(self) -> Indexer:
        if self._indexer is None:
            s = self.services
            self._indexer = Indexer(
                self.store,
                self.manifest,
                s.chunker,
                s.embedder,
                lock_path=self.state_dir / "index.lock",
                options=index_options(s.settings),
            )
        return self._indexer

    @property
    def retriever(self) -> Retriever:
        r = self.services.settings.retrieval
        return Retriever(self.store, self.services.embedder, SearchSettings(top_k=r.top_k, candidates=r.candidates))

    # use cases
    def add(self, paths: Sequence[str | Path], *, prune: bool = False, force: bool = False, cancel=None) -> Iterator[Progress]:
        return self.indexer.index(paths, prune=prune, force=force, cancel=cancel)

    def remove(self, paths: Sequence[str | Path]) -> list[FileReport]:
        return self.indexer.remove(paths)

    def watcher(self, paths: Sequence[str | Path], **kw):
        """A FolderWatcher on `paths` (not started): the CLI's watch and the app's toggle."""
        from indexing.watch import FolderWatcher

        return FolderWatcher(self.indexer, paths, **kw)

    def files(self) -> list[FileRecord]:
        return self.manifest.files()

    def stats(self) -> dict[str, int]:
        return self.manifest.stats()

    def close(self) -> None:
        if self._indexer is not None:
            self._indexer.close()
        self.manifest.close()


class Services:
    """Builds the parts lazily. `embedder` / `engine` may be passed in to share loaded models."""

    def __init__(self, settings: Settings, *, embedder: Embedder | None = None, engine=None):
        self.settings = settings
        self.data_dir = settings.data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.store.chroma_url
        if url:
            parsed = urlparse(url if "://" in url else f"http://{url}")
            self.state_root = self.data_dir / "servers" / _slug(f"{parsed.hostname}_{parsed.port or 8000}")
        else:
            self.state_root = self.data_dir / "libraries"
        self._embedder: Embedder | None = embedder
        self._chunker: Chunker | None = None
        self._client = None
        self._libraries: dict[str, Library] = {}
        self._engine = engine
        self._owns_engine = engine is None
        self._lock = threading.RLock()

    @property
    def chroma_path(self) -> Path:
        return self.data_dir / "chroma"

    @property
    def chunking_config(self) -> ChunkingConfig:
        i = self.settings.indexing
        return ChunkingConfig(max_tokens=i.chunk_tokens, overlap_tokens=i.overlap_tokens)

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                e = self.settings.embedding
                self._embedder = Embedder(
                    e.model, e.device, e.batch_size, precision=e.precision, cache_dir=self.data_dir / "models"
                )
            return self._embedder

    @property
    def chunker(self) -> Chunker:
        with self._lock:
            if self._chunker is None:
                embedder = self.embedder
                config = self.chunking_config
                limit = model_max_tokens(embedder.model_dir) - 2  # [CLS] and [SEP]
                if config.max_tokens > limit:
                    config = ChunkingConfig(max_tokens=limit, overlap_tokens=config.overlap_tokens)
                self._chunker = Chunker.from_model_dir(embedder.model_dir, config)
            return self._chunker

    @property
    def client(self):
        with self._lock:
            if self._client is None:
                self._client = open_client(self.chroma_path, self.settings.store.chroma_url)
            return self._client

    def library(self, name: str | None = None) -> Library:
        name = name or self.settings.library
        with self._lock:
            if name not in self._libraries:
                self._libraries[name] = Library(self, name)
            return self._libraries[name]

    def library_names(self) -> list[str]:
        names = set()
        if self.state_root.is_dir():
            for d in self.state_root.iterdir():
                m = d / "manifest.sqlite"
                if m.is_file():
                    manifest = Manifest(m)
                    names.add(manifest.get_meta("name") or d.name)
                    manifest.close()
        return sorted(names | {self.settings.library})

    def engine(self):
        with self._lock:
            if self._engine is None:
                from app.engines.select import create_engine

                self._engine = create_engine(self.settings)
            return self._engine

    def chat(self, library: str | None = None):
        from app.chat import Chat

        return Chat(self, self.library(library))

    def close(self) -> None:
        with self._lock:
            if self._engine is not None and self._owns_engine:
                self._engine.close()
            self._engine = None
            for lib in self._libraries.values():
                lib.close()
            self._libraries.clear()


def build_services(settings: Settings, **shared) -> Services:
    return Services(settings, **shared)


__all__ = ["Services", "Library", "build_services", "COLLECTION_PREFIX"]
