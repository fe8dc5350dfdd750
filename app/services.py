"""Composition root: builds the parts from settings, lazily, and closes them."""

from __future__ import annotations

import logging
import os
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

from app.library import Library, LibraryParts
from app.settings import Settings
from indexing.chunking import Chunker, ChunkingConfig
from indexing.embedder import Embedder, model_max_tokens, pick_device
from indexing.manifest import Manifest
from indexing.parse_pool import ParseLimits
from indexing.pipeline import IndexOptions
from indexing.store import ChunkStore, collection_name, is_missing_collection, library_slug as slug, open_client
from retrieval.search import SearchSettings

log = logging.getLogger(__name__)


def index_options(settings: Settings) -> IndexOptions:
    i = settings.indexing
    workers = i.parse_workers or max(1, min(4, (os.cpu_count() or 2) // 2))
    return IndexOptions(
        max_file_bytes=i.max_file_mb * 2**20,
        flush_chunks=i.batch_chunks,
        parse=ParseLimits(workers=workers, timeout_s=i.parse_timeout_s, memory_mb=i.parse_memory_mb, ocr=i.ocr != "off"),
    )


class Services:
    """Builds the parts lazily. `embedder` / `engine` may be passed in to share loaded models."""

    def __init__(self, settings: Settings, *, embedder: Embedder | None = None, engine=None):
        self.settings = settings
        self.data_dir = settings.data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        url = settings.store.chroma_url
        if url:
            parsed = urlparse(url if "://" in url else f"http://{url}")
            self.state_root = self.data_dir / "servers" / slug(f"{parsed.hostname}_{parsed.port or 8000}")
        else:
            self.state_root = self.data_dir / "libraries"
        self._embedder: Embedder | None = embedder
        self._int8_embedder: Embedder | None = None
        self._other_embedders: dict[tuple[str, str | None], Embedder] = {}  # libraries made with another model
        self._int8_default: bool | None = None
        self._chunker: Chunker | None = None
        self._client = None
        self._libraries: dict[str, Library] = {}
        self._engine = engine
        self._owns_engine = engine is None
        self._engine_used = time.monotonic()
        self._conversations = None
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
                    e.model, e.device, e.batch_size, precision=e.precision, cache_dir=self.models_dir
                )
            return self._embedder

    @property
    def models_dir(self) -> Path:
        """Where converted copies of the embedding model (ONNX) are made and kept."""
        return self.settings.embedding.cache_dir or self.data_dir / "models"

    def embedder_for(self, variant: str | None) -> Embedder:
        """The embedder for a library that holds `variant` vectors (None: a new library). Under
        precision auto a new library takes the int8 copy where it indexes fastest on this CPU
        (`int8_by_default`), and a library keeps the vectors it holds; with a precision set, the
        configured embedder (the store refuses a mismatch)."""
        auto = self.settings.embedding.precision == "auto"
        if auto and (variant == "int8-onnx" or (variant is None and self.int8_by_default() and self._int8_ready())):
            return self._int8()
        return self.embedder

    def _int8_ready(self) -> bool:
        """The int8 copy is made (making it now if need be: ~5-10 s, once; the app's warm-up and
        `citewise index` do it first, saying so). Where it cannot be made, new libraries take
        float vectors and the reason is logged: indexing never fails for want of the copy."""
        try:
            self._int8().embed(["warm up"])
            return True
        except Exception as exc:
            log.warning("the int8 copy of the embedding model could not be made (%s: %s); new libraries use float vectors",
                        type(exc).__name__, exc)
            self._int8_default = False
            self._int8_embedder = None
            return False

    def int8_by_default(self) -> bool:
        """Whether a new library embeds with the int8 copy: precision auto, `int8_can_run`, and
        the int8 path measured faster on this CPU (indexing/fastest.py; without a measurement, a
        CPU with int8 dot products)."""
        if self._int8_default is None:
            self._int8_default = self._decide_int8()
        return self._int8_default

    def int8_can_run(self) -> bool:
        """The int8 copy can index here: no CUDA GPU to embed on, onnxruntime present (and onnx,
        unless the copy is made), a mean-pooled model."""
        from indexing import fastest, onnx_models

        e = self.settings.embedding
        if e.device == "cuda" or not onnx_models.can_run():
            return False
        if e.device == "auto" and fastest.cuda_possible() and pick_device("auto") == "cuda":
            return False
        model_dir = self.embedder.model_dir
        if not fastest.mean_pooled(model_dir):
            return False
        return onnx_models.cached_model(model_dir, self.models_dir, "int8") is not None or onnx_models.can_export()

    def _decide_int8(self) -> bool:
        from indexing import fastest

        if self.settings.embedding.precision != "auto" or not self.int8_can_run():
            return False
        pick = fastest.measured_pick(self.models_dir)
        return pick == "int8" if pick else fastest.int8_dot_product() is not None

    def int8_to_prepare(self) -> bool:
        """True when the next new library's int8 copy must be made first (~5-10 s, once)."""
        from indexing import onnx_models

        return self.int8_by_default() and onnx_models.cached_model(self.embedder.model_dir, self.models_dir, "int8") is None

    def prepare_int8(self, measure: bool = True) -> dict | None:
        """Make the int8 copy (once), then, unless done before on this CPU, time the float and
        int8 paths here and keep the pick (indexing/fastest.py). Returns the measurement made."""
        from indexing import fastest

        if not self._int8_ready() or not measure or fastest.measured_pick(self.models_dir):
            return None
        result = fastest.measure(self.embedder, self._int8(), self.models_dir)
        self._int8_default = None  # decided again, from the measurement
        return result

    def _int8(self) -> Embedder:
        with self._lock:
            if self._int8_embedder is None:
                s = self.settings.embedding
                self._int8_embedder = Embedder(s.model, "cpu", s.batch_size, precision="int8", cache_dir=self.models_dir)
            return self._int8_embedder

    def recorded_variant(self, library: str) -> str | None:
        """The kind of vectors a library's collection holds, None when it has no collection yet."""
        meta = self._recorded(library)
        return None if meta is None else meta.get("embed_variant", "float")

    def _recorded(self, library: str) -> dict | None:
        try:
            collection = self.client.get_collection(collection_name(library), embedding_function=None)
        except Exception as exc:
            if is_missing_collection(exc):
                return None
            raise
        return dict(collection.metadata or {})

    def libraries_using(self, entry) -> list[str]:
        """The libraries whose vectors came from this catalog embedding model (removing it would
        leave them unable to search), by name."""
        from app.catalog import folder

        if entry.kind != "embedding":
            return []
        model = str(folder(entry, self.settings.data_dir).resolve())
        return [name for name in self.library_names() if (self._recorded(name) or {}).get("embed_model") == model]

    def library_embedder(self, library: str) -> Embedder:
        """The embedder a library's vectors were made with: a library indexed with another model
        than the configured one (Settings → Models, `citewise models use`) keeps its own, so a new
        embedding model never mixes vector spaces; new libraries take the configured one."""
        meta = self._recorded(library)
        variant = None if meta is None else meta.get("embed_variant", "float")
        model = None if meta is None else meta.get("embed_model")
        if model is None or model == self.embedder.model_id:
            return self.embedder_for(variant)
        with self._lock:
            key = (model, variant)
            if key not in self._other_embedders:
                e = self.settings.embedding
                precision = "int8" if variant == "int8-onnx" else ("auto" if e.precision == "int8" else e.precision)
                try:
                    self._other_embedders[key] = Embedder(model, "cpu" if precision == "int8" else e.device, e.batch_size,
                                                          precision=precision, cache_dir=self.models_dir)
                except FileNotFoundError:
                    raise FileNotFoundError(
                        f"library '{library}' was indexed with the embedding model {model}, which is no longer here: "
                        "download it again (Settings → Models, `citewise models download`), or index into a new library"
                    ) from None
            return self._other_embedders[key]

    def chunker_for(self, embedder: Embedder) -> Chunker:
        """Chunks cut to the library's embedding model (its tokenizer and token limit)."""
        if embedder.model_dir == self.embedder.model_dir:
            return self.chunker
        return self._chunker_of(embedder.model_dir)

    def _chunker_of(self, model_dir: Path) -> Chunker:
        config = self.chunking_config
        limit = model_max_tokens(model_dir) - 2  # [CLS] and [SEP]
        if config.max_tokens > limit:
            config = ChunkingConfig(max_tokens=limit, overlap_tokens=config.overlap_tokens)
        return Chunker.from_model_dir(model_dir, config)

    @property
    def chunker(self) -> Chunker:
        with self._lock:
            if self._chunker is None:
                self._chunker = self._chunker_of(self.embedder.model_dir)
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
                self._libraries[name] = Library(name, self._parts(name))
            return self._libraries[name]

    def _parts(self, name: str) -> LibraryParts:
        def store(embedder: Embedder) -> ChunkStore:
            return ChunkStore(
                self.client, name, embed_model=embedder.model_id, dim=embedder.dim,
                chunker=self.chunking_config.fingerprint, variant=embedder.variant,
            )

        r = self.settings.retrieval
        return LibraryParts(
            state_dir=self.state_root / slug(name),
            embedder=lambda: self.library_embedder(name),
            store=store,
            chunker=lambda: self.chunker_for(self.library(name).embedder),
            options=index_options(self.settings),
            search=SearchSettings(top_k=r.top_k, candidates=r.candidates),
        )

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

    # -- libraries (collections) --------------------------------------------------------------

    def _check_name(self, name: str) -> str:
        name = " ".join(name.split())
        if not name or len(name) > 120:
            raise ValueError("a library needs a name of 1 to 120 characters")
        return name

    def create_library(self, name: str, *, int8: bool | None = None) -> Library:
        """A new, empty library. `int8`: its vectors come from the int8 ONNX copy of the model
        (the fastest indexing on a CPU), recorded in its collection from the start; False: float
        vectors; None: what this computer indexes fastest with (`int8_by_default`)."""
        name = self._check_name(name)
        if name in self.library_names() and (self.state_root / slug(name) / "manifest.sqlite").exists():
            raise ValueError(f"a library named '{name}' already exists")
        if int8:
            from indexing import onnx_models

            if self.settings.embedding.precision not in ("auto", "int8"):
                raise ValueError(f"an int8 library needs the embedding precision auto or int8, not "
                                 f"{self.settings.embedding.precision}")
            if not onnx_models.can_export():
                raise ValueError("an int8 library needs the onnx and onnxruntime packages (pip install onnx onnxruntime)")
        lib = self.library(name)
        if int8 is not None:
            lib.use_embedder(self._int8() if int8 else self.embedder)
            lib.store  # noqa: B018 (the collection is made now, with its vector kind recorded)
        return lib

    def rename_library(self, old: str, new: str) -> Library:
        """Renames the collection and its manifest; the documents stay indexed."""
        new = self._check_name(new)
        if slug(new) == slug(old):
            raise ValueError(f"'{new}' is the same name")
        if (self.state_root / slug(new)).exists():
            raise ValueError(f"a library named '{new}' already exists")
        lib = self.library(old)
        with lib.writing():
            try:
                collection = self.client.get_collection(collection_name(old))
                meta = dict(collection.metadata or {})
                meta["library"] = new
                collection.modify(name=collection_name(new), metadata=meta)
            except Exception as exc:
                if not is_missing_collection(exc):
                    raise
            lib.close()
            (self.state_root / slug(old)).rename(self.state_root / slug(new))
        with self._lock:
            self._libraries.pop(old, None)
        renamed = self.library(new)
        renamed.manifest.set_meta("name", new)
        return renamed

    def delete_library(self, name: str) -> None:
        """Deletes the library's index (collection and manifest). The documents on disk stay."""
        import shutil

        lib = self.library(name)
        with lib.writing():
            try:
                self.client.delete_collection(collection_name(name))
            except Exception as exc:
                if not is_missing_collection(exc):
                    raise
            lib.close()
            shutil.rmtree(self.state_root / slug(name), ignore_errors=True)
        with self._lock:
            self._libraries.pop(name, None)

    @property
    def conversations(self):
        from app.conversations import ConversationStore

        with self._lock:
            if self._conversations is None:
                self._conversations = ConversationStore(self.data_dir / "conversations.sqlite")
            return self._conversations

    def engine(self):
        """The answer engine, made on first use (quote mode never makes one). Each call counts as a
        use for the idle stop."""
        with self._lock:
            if self._engine is None:
                from app.engines.select import create_engine

                self._engine = create_engine(self.settings)
            self._engine_used = time.monotonic()
            return self._engine

    def engine_running(self) -> bool:
        """Whether an engine holds memory now: a model loaded in process, or a server started."""
        return self.running_engine is not None

    @property
    def running_engine(self):
        """The engine when it holds memory now (a model loaded, a server started), else None."""
        engine = self._engine
        return engine if engine is not None and getattr(engine, "running", False) else None

    def stop_engine(self) -> bool:
        """Stops the engine (it starts again with the next written answer); True when one ran."""
        with self._lock:
            engine = self._engine if self._owns_engine else None
            if engine is None:
                return False
            self._engine = None
        was_running = bool(getattr(engine, "running", False))
        engine.close()
        return was_running

    def engine_idle(self, now: float | None = None) -> bool:
        """An engine runs and has not been used for llm.idle_stop_minutes (0: never idle)."""
        minutes = self.settings.llm.idle_stop_minutes
        if not minutes or not self.engine_running():
            return False
        return (now if now is not None else time.monotonic()) - self._engine_used >= minutes * 60

    def stop_idle_engine(self, now: float | None = None) -> bool:
        """Stops an idle engine, giving its memory back; True when it did."""
        return self.engine_idle(now) and self.stop_engine()

    def engine_choice(self) -> str:
        """Which engine answers and why, in one line (for the settings and the status bar)."""
        from app.engines.base import EngineError
        from app.engines.select import choose

        try:
            name, why = choose(self.settings)
        except EngineError as exc:
            return f"no engine: {exc}"
        return f"{name}: {why}"

    def chat(self, library: str | None = None):
        from app.chat import Chat

        lib = self.library(library)
        return Chat(lib.retriever, self.engine, self.embedder.embed, self.settings, chunks_of=lib.chunks_of)

    def summarize(self, path, *, cancel=None, mode: str | None = None):
        """The current library's document summarised (Library.summarize): written map-reduce by the
        answer engine when answers are written (`mode` or the settings' answer mode), else extractive."""
        from app.chat import answer_mode

        library = self.library()
        if (mode or answer_mode(self.settings)) == "generate":
            return library.summarize(path, cancel=cancel, engine=self.engine(), llm=self.settings.llm,
                                     embed=self.embedder.embed)
        return library.summarize(path, cancel=cancel)

    def close(self) -> None:
        with self._lock:
            if self._engine is not None and self._owns_engine:
                self._engine.close()
            self._engine = None
            for lib in self._libraries.values():
                lib.close()
            self._libraries.clear()
            if self._conversations is not None:
                self._conversations.close()
                self._conversations = None


def build_services(settings: Settings, **shared) -> Services:
    return Services(settings, **shared)


__all__ = ["Services", "Library", "build_services"]
