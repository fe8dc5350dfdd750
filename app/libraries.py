"""The libraries of a data dir (or of a Chroma server): opening one by name, listing, creating,
renaming and deleting them (their collections and manifests; the documents on disk stay), and
what kind of vectors each holds."""

from __future__ import annotations

import os
import shutil
import threading

from app.embedders import Embedders
from app.library import Library, LibraryParts
from app.settings import Settings
from indexing.embedder import Embedder
from indexing.manifest import Manifest
from indexing.parse_pool import ParseLimits
from indexing.pipeline import IndexOptions
from indexing.store import ChunkStore, chroma_server, collection_name, library_slug as slug, missing_collection, open_client
from retrieval.search import SearchSettings


def index_options(settings: Settings) -> IndexOptions:
    i = settings.indexing
    # one worker per core (at most 4): reading comes first, the vectors take the cores it leaves
    workers = i.parse_workers or max(1, min(4, os.cpu_count() or 1))
    return IndexOptions(
        max_file_bytes=i.max_file_mb * 2**20,
        flush_chunks=i.batch_chunks,
        parse=ParseLimits(workers=workers, timeout_s=i.parse_timeout_s, memory_mb=i.parse_memory_mb, ocr=i.ocr != "off",
                          max_pages=i.max_pages_per_file, max_chunks=i.max_chunks_per_file),
    )


class Libraries:
    def __init__(self, settings: Settings, embedders: Embedders):
        self.settings = settings
        self.embedders = embedders
        data_dir = settings.data_dir
        server = chroma_server(settings.store.chroma_url)
        # each store keeps its own manifests: a server's libraries are not the embedded store's
        self.state_root = data_dir / "servers" / slug(f"{server[1]}_{server[2] or 8000}") if server else data_dir / "libraries"
        self._client = None
        self._open: dict[str, Library] = {}
        self._lock = threading.RLock()

    @property
    def client(self):
        """The Chroma client: embedded in the data dir, or the configured `chroma run` server."""
        with self._lock:
            if self._client is None:
                self._client = open_client(self.settings.data_dir / "chroma", self.settings.store.chroma_url)
            return self._client

    def get(self, name: str | None = None) -> Library:
        """The library `name` (default: the current one), opened once."""
        name = name or self.settings.library
        with self._lock:
            if name not in self._open:
                self._open[name] = Library(name, self._parts(name))
            return self._open[name]

    def _parts(self, name: str) -> LibraryParts:
        def store(embedder: Embedder) -> ChunkStore:
            return ChunkStore(
                self.client, name, embed_model=embedder.model_id, dim=embedder.dim,
                chunker=self.embedders.chunking_config.fingerprint, variant=embedder.variant,
            )

        r = self.settings.retrieval
        return LibraryParts(
            state_dir=self.state_root / slug(name),
            embedder=lambda: self.embedders.for_library(name, self.recorded(name)),
            store=store,
            chunker=lambda: self.embedders.chunker_for(self.get(name).embedder),
            options=index_options(self.settings),
            search=SearchSettings(top_k=r.top_k, candidates=r.candidates),
        )

    def names(self) -> list[str]:
        found = set()
        if self.state_root.is_dir():
            for d in self.state_root.iterdir():
                m = d / "manifest.sqlite"
                if m.is_file():
                    manifest = Manifest(m)
                    found.add(manifest.get_meta("name") or d.name)
                    manifest.close()
        return sorted(found | {self.settings.library})

    # -- what a library holds --------------------------------------------------------------------

    def recorded(self, library: str) -> dict | None:
        """The library's collection metadata (its embedding model and kind of vectors), None when
        it has no collection yet."""
        try:
            collection = self.client.get_collection(collection_name(library), embedding_function=None)
        except missing_collection():
            return None
        return dict(collection.metadata or {})

    def recorded_variant(self, library: str) -> str | None:
        """The kind of vectors a library's collection holds, None when it has no collection yet."""
        meta = self.recorded(library)
        return None if meta is None else meta.get("embed_variant", "float")

    def using(self, entry) -> list[str]:
        """The libraries whose vectors came from this catalog embedding model (removing it would
        leave them unable to search), by name."""
        from app.models.catalog import folder

        if entry.kind != "embedding":
            return []
        model = str(folder(entry, self.settings.data_dir).resolve())
        return [name for name in self.names() if (self.recorded(name) or {}).get("embed_model") == model]

    # -- create, rename, delete ----------------------------------------------------------------

    @staticmethod
    def _check_name(name: str) -> str:
        name = " ".join(name.split())
        if not name or len(name) > 120:
            raise ValueError("a library needs a name of 1 to 120 characters")
        return name

    def create(self, name: str, *, int8: bool | None = None) -> Library:
        """A new, empty library. `int8`: its vectors come from the int8 ONNX copy of the model
        (the fastest indexing on a CPU), recorded in its collection from the start; False: float
        vectors; None: what this computer indexes fastest with (`int8_by_default`)."""
        name = self._check_name(name)
        if name in self.names() and (self.state_root / slug(name) / "manifest.sqlite").exists():
            raise ValueError(f"a library named '{name}' already exists")
        if int8:
            from indexing import onnx_models

            if self.settings.embedding.precision not in ("auto", "int8"):
                raise ValueError(f"an int8 library needs the embedding precision auto or int8, not "
                                 f"{self.settings.embedding.precision}")
            if not onnx_models.can_export():
                raise ValueError("an int8 library needs the onnx and onnxruntime packages (pip install onnx onnxruntime)")
        lib = self.get(name)
        if int8 is not None:
            lib.use_embedder(self.embedders.int8() if int8 else self.embedders.embedder)
            lib.store  # noqa: B018 (the collection is made now, with its vector kind recorded)
        return lib

    def rename(self, old: str, new: str) -> Library:
        """Renames the collection and its manifest; the documents stay indexed."""
        new = self._check_name(new)
        if slug(new) == slug(old):
            raise ValueError(f"'{new}' is the same name")
        if (self.state_root / slug(new)).exists():
            raise ValueError(f"a library named '{new}' already exists")
        lib = self.get(old)
        with lib.writing():
            try:
                collection = self.client.get_collection(collection_name(old))
                meta = dict(collection.metadata or {})
                meta["library"] = new
                collection.modify(name=collection_name(new), metadata=meta)
            except missing_collection():
                pass
            lib.close()
            (self.state_root / slug(old)).rename(self.state_root / slug(new))
        with self._lock:
            self._open.pop(old, None)
        renamed = self.get(new)
        renamed.manifest.set_meta("name", new)
        return renamed

    def delete(self, name: str) -> None:
        """Deletes the library's index (collection and manifest). The documents on disk stay."""
        lib = self.get(name)
        with lib.writing():
            try:
                self.client.delete_collection(collection_name(name))
            except missing_collection():
                pass
            lib.close()
            shutil.rmtree(self.state_root / slug(name), ignore_errors=True)
        with self._lock:
            self._open.pop(name, None)

    def close(self) -> None:
        with self._lock:
            for lib in self._open.values():
                lib.close()
            self._open.clear()

