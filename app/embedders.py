"""The embedding models a session uses, made on first use: the configured one, its int8 ONNX copy
where that indexes fastest on this CPU, and the models older libraries were made with; with the
chunker cut to each model's tokenizer."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from app.settings import Settings
from indexing.chunking import Chunker, ChunkingConfig
from indexing.embedder import Embedder, model_max_tokens, pick_device

log = logging.getLogger(__name__)


class Embedders:
    """`embedder` (the configured model), `for_library` (what a library's vectors came from),
    `for_new_library`, the int8 policy (`int8_by_default`, `prepare_int8`) and `chunker_for`."""

    def __init__(self, settings: Settings, *, embedder: Embedder | None = None):
        self.settings = settings
        self._embedder = embedder
        self._int8_embedder: Embedder | None = None
        self._other: dict[tuple[str, str | None], Embedder] = {}  # libraries made with another model
        self._int8_default: bool | None = None
        self._chunker: Chunker | None = None
        self._lock = threading.RLock()

    @property
    def models_dir(self) -> Path:
        """Where converted copies of the embedding model (ONNX) are made and kept."""
        return self.settings.embedding.cache_dir or self.settings.data_dir / "models"

    @property
    def embedder(self) -> Embedder:
        with self._lock:
            if self._embedder is None:
                e = self.settings.embedding
                self._embedder = Embedder(e.model, e.device, e.batch_size, precision=e.precision, cache_dir=self.models_dir)
            return self._embedder

    def for_variant(self, variant: str | None) -> Embedder:
        """The embedder for a library that holds `variant` vectors (None: a new library). Under
        precision auto a new library takes the int8 copy where it indexes fastest on this CPU
        (`int8_by_default`), and a library keeps the vectors it holds; with a precision set, the
        configured embedder (the store refuses a mismatch)."""
        auto = self.settings.embedding.precision == "auto"
        if auto and (variant == "int8-onnx" or (variant is None and self.int8_by_default() and self._int8_ready())):
            return self.int8()
        return self.embedder

    def for_library(self, library: str, recorded: dict | None) -> Embedder:
        """The embedder a library's vectors were made with (`recorded`: its collection's metadata,
        None for a new library): a library indexed with another model than the configured one
        keeps its own, so a new embedding model never mixes vector spaces."""
        variant = None if recorded is None else recorded.get("embed_variant", "float")
        model = None if recorded is None else recorded.get("embed_model")
        if model is None or model == self.embedder.model_id:
            return self.for_variant(variant)
        with self._lock:
            key = (model, variant)
            if key not in self._other:
                e = self.settings.embedding
                precision = "int8" if variant == "int8-onnx" else ("auto" if e.precision == "int8" else e.precision)
                try:
                    self._other[key] = Embedder(model, "cpu" if precision == "int8" else e.device, e.batch_size,
                                                precision=precision, cache_dir=self.models_dir)
                except FileNotFoundError:
                    raise FileNotFoundError(
                        f"library '{library}' was indexed with the embedding model {model}, which is no longer here: "
                        "download it again (Settings → Models, `citewise models download`), or index into a new library"
                    ) from None
            return self._other[key]

    # -- the int8 copy -------------------------------------------------------------------------

    def _int8_ready(self) -> bool:
        """The int8 copy is made (making it now if need be, once; the app's warm-up and `citewise
        index` do it first, saying so). Where it cannot be made, new libraries take float vectors
        and the reason is logged: indexing never fails for want of the copy."""
        try:
            self.int8().embed(["warm up"])
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
        """True when the next new library's int8 copy must be made first (seconds, once)."""
        from indexing import onnx_models

        return self.int8_by_default() and onnx_models.cached_model(self.embedder.model_dir, self.models_dir, "int8") is None

    def prepare_int8(self, measure: bool = True) -> dict | None:
        """Make the int8 copy (once), then, unless done before on this CPU, time the float and
        int8 paths here and keep the pick (indexing/fastest.py). Returns the measurement made."""
        from indexing import fastest

        if not self._int8_ready() or not measure or fastest.measured_pick(self.models_dir):
            return None
        result = fastest.measure(self.embedder, self.int8(), self.models_dir)
        self._int8_default = None  # decided again, from the measurement
        return result

    def int8(self) -> Embedder:
        with self._lock:
            if self._int8_embedder is None:
                s = self.settings.embedding
                self._int8_embedder = Embedder(s.model, "cpu", s.batch_size, precision="int8", cache_dir=self.models_dir)
            return self._int8_embedder

    # -- chunkers ------------------------------------------------------------------------------

    @property
    def chunking_config(self) -> ChunkingConfig:
        i = self.settings.indexing
        return ChunkingConfig(max_tokens=i.chunk_tokens, overlap_tokens=i.overlap_tokens)

    @property
    def chunker(self) -> Chunker:
        """Chunks for the configured model."""
        with self._lock:
            if self._chunker is None:
                self._chunker = self._chunker_of(self.embedder.model_dir)
            return self._chunker

    def chunker_for(self, embedder: Embedder) -> Chunker:
        """Chunks cut to a library's embedding model (its tokenizer and token limit)."""
        if embedder.model_dir == self.embedder.model_dir:
            return self.chunker
        return self._chunker_of(embedder.model_dir)

    def _chunker_of(self, model_dir: Path) -> Chunker:
        config = self.chunking_config
        limit = model_max_tokens(model_dir) - 2  # [CLS] and [SEP]
        if config.max_tokens > limit:
            config = ChunkingConfig(max_tokens=limit, overlap_tokens=config.overlap_tokens)
        return Chunker.from_model_dir(model_dir, config)

