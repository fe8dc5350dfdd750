"""ONNX Runtime copies of a sentence-transformers model, made offline from its folder: an int8
one (precision `int8`: indexing) and an fp32 one (the questions of a float library: same
vectors as torch's, cosine 1.0000, in about half the time of torch for one short question).

sentence-transformers' own ONNX backend needs `optimum`, whose releases pin transformers < 5
(installing it here downgrades the transformers that sentence-transformers 6 needs), so the
export uses the libraries already installed: torch's ONNX exporter traces the model with its
mean pooling and L2 normalisation, ONNX Runtime's transformer optimizer fuses embeddings +
LayerNorm, attention and GELU, and, for int8, ONNX Runtime's dynamic quantizer stores the
weights as per-channel int8 (per-tensor int8 was measured to lose too much: cosine 0.94 to the
fp32 vectors, against 0.994 per channel).
The export needs the `onnx` package; running a made copy needs only onnxruntime.

Each file is made once, under `cache_dir/<model>-<kind>-<key>/model.onnx`, where the key covers
the model's weights, the recipe and the ONNX Runtime version; it is written to a temporary folder and
renamed, so a kill during the export leaves nothing half-written.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.util
import json
import os
import shutil
import tempfile
import warnings
from pathlib import Path
from typing import Sequence

import numpy as np

RECIPES = {
    "int8": "v2-eagerattn-meanpool-l2-ortopt1-qint8-perchannel-qattention",
    "fp32": "v2-eagerattn-meanpool-l2-ortopt1-fp32",
}


def can_run() -> bool:
    """onnxruntime is installed (a made copy can be run)."""
    return importlib.util.find_spec("onnxruntime") is not None


@functools.lru_cache(maxsize=1)
def can_export() -> bool:
    """onnxruntime, onnx and ONNX Runtime's optimizer and quantizer import (a copy can be made).
    The optimizer's fusions import each other as top-level modules, which a frozen bundle may
    lack: then no copy is made there and new libraries keep float vectors."""
    if not can_run() or importlib.util.find_spec("onnx") is None:
        return False
    try:
        import onnxruntime.transformers.optimizer  # noqa: F401
        from onnxruntime.quantization import quantize_dynamic  # noqa: F401
    except Exception:
        return False
    return True


def cache_key(model_dir: Path, kind: str = "int8") -> str:
    files = []
    for name in sorted(os.listdir(model_dir)):
        p = Path(model_dir) / name
        if p.is_file() and (name.endswith((".safetensors", ".bin")) or name == "config.json"):
            st = p.stat()
            files.append((name, st.st_size, st.st_mtime_ns))
    return _cache_key(str(model_dir), kind, tuple(files))


@functools.lru_cache(maxsize=16)
def _cache_key(model_dir: str, kind: str, files: tuple) -> str:
    """Keyed by the weights' sizes and times, so the app's start-up reads their heads once."""
    import onnxruntime

    h = hashlib.sha256(RECIPES[kind].encode())
    h.update(onnxruntime.__version__.encode())
    for name, size, _ in files:
        h.update(f"{name}:{size}".encode())
        with open(Path(model_dir) / name, "rb") as fh:  # the head and tail identify the weights without reading 90 MB
            h.update(fh.read(1 << 16))
            fh.seek(max(0, size - (1 << 16)))
            h.update(fh.read())
    return h.hexdigest()[:16]


def _export(model_dir: Path, out: Path, kind: str) -> None:
    with warnings.catch_warnings():  # torch's exporter warns of its own deprecation and of traced branches
        warnings.simplefilter("ignore")
        _export_quietly(model_dir, out, kind)


def _export_quietly(model_dir: Path, out: Path, kind: str) -> None:
    import torch
    from transformers import AutoConfig, AutoModel

    config = AutoConfig.from_pretrained(str(model_dir), local_files_only=True)
    # eager attention: the graph ORT's BERT optimizer recognises and fuses into Attention nodes,
    # which the quantizer turns into QAttention (int8 Q/K/V projections). The SDPA graph fused
    # nothing there: int8 ran at 1.68x torch fp32 on 256-token chunks, fused at 2.36x (bench/indexing.py)
    model = AutoModel.from_pretrained(str(model_dir), local_files_only=True, attn_implementation="eager").eval()

    class Pooled(torch.nn.Module):
        def __init__(self, inner):
            super().__init__()
            self.inner = inner

        def forward(self, input_ids, attention_mask, token_type_ids):
            h = self.inner(input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(h.dtype)
            pooled = (h * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            return torch.nn.functional.normalize(pooled, p=2, dim=1)

    example = tuple(torch.ones(2, 16, dtype=torch.long) for _ in range(3))
    axes = {name: {0: "batch", 1: "tokens"} for name in ("input_ids", "attention_mask", "token_type_ids")}
    fp32 = out / "model-fp32.onnx"
    with torch.no_grad():
        torch.onnx.export(
            Pooled(model), example, str(fp32), input_names=list(axes), output_names=["sentence_embedding"],
            dynamic_axes={**axes, "sentence_embedding": {0: "batch"}}, opset_version=17, dynamo=False,
        )
    from onnxruntime.transformers.optimizer import optimize_model

    optimized = out / "model-opt.onnx"
    optimize_model(
        str(fp32), model_type="bert", num_heads=config.num_attention_heads, hidden_size=config.hidden_size, opt_level=1
    ).save_model_to_file(str(optimized))
    fp32.unlink()
    if kind == "fp32":
        optimized.rename(out / "model.onnx")
        return
    import logging

    from onnxruntime.quantization import QuantType, quantize_dynamic

    # the quantizer logs "Please consider to run pre-processing before quantization" on the root
    # logger, which the command line printed into answers: the graph is pre-optimised above
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        quantize_dynamic(
            str(optimized), str(out / "model.onnx"), weight_type=QuantType.QInt8, per_channel=True,
            op_types_to_quantize=["MatMul", "Attention"],
            extra_options={"DefaultTensorType": 1},  # FLOAT, for the fused nodes shape inference cannot type
        )
    finally:
        root.setLevel(level)
    optimized.unlink()


def _target(model_dir: Path, cache_dir: Path, kind: str) -> Path:
    if kind not in RECIPES:
        raise ValueError(f"no ONNX recipe for {kind!r}")
    return Path(cache_dir) / f"{model_dir.name}-{kind}-{cache_key(model_dir, kind)}"


def cached_model(model_dir: Path, cache_dir: Path, kind: str) -> Path | None:
    """The `kind` ONNX file for `model_dir` if it was made before, else None (nothing is made)."""
    path = _target(model_dir, cache_dir, kind) / "model.onnx"
    return path if path.is_file() else None


def ensure_model(model_dir: Path, cache_dir: Path, kind: str = "int8") -> Path:
    """The `kind` (int8 | fp32) ONNX file for `model_dir`, exported into `cache_dir` on first use."""
    target = _target(model_dir, cache_dir, kind)
    if (target / "model.onnx").is_file():
        return target / "model.onnx"
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".export-", dir=target.parent))
    try:
        _export(model_dir, tmp, kind)
        (tmp / "source.json").write_text(json.dumps({"model_dir": str(model_dir), "recipe": RECIPES[kind]}))
        try:
            os.replace(tmp, target)
        except OSError:  # another process finished first
            pass
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target / "model.onnx"


class OnnxEncoder:
    """`encode(texts)` → L2-normalised float32 vectors, batched by length (least padding)."""

    def __init__(self, onnx_path: Path, tokenizer_path: Path, max_tokens: int, threads: int | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        options = ort.SessionOptions()
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        # no busy-waiting between kernels: it starves the parse workers on a small CPU
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        self.session = ort.InferenceSession(str(onnx_path), options, providers=["CPUExecutionProvider"])
        self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.no_padding()
        self.dim = int(self.session.get_outputs()[0].shape[1] or 0) or None

    def encode(self, texts: Sequence[str], batch_size: int = 8) -> np.ndarray:
        enc = self.tokenizer.encode_batch(list(texts))
        order = sorted(range(len(texts)), key=lambda i: -len(enc[i].ids))  # batches of equal lengths
        out: list[np.ndarray] = [None] * len(texts)  # type: ignore[list-item]
        for start in range(0, len(order), batch_size):
            idx = order[start : start + batch_size]
            width = len(enc[idx[0]].ids)
            ids = np.zeros((len(idx), width), dtype=np.int64)  # padded with [PAD] = 0, masked out
            mask = np.zeros((len(idx), width), dtype=np.int64)
            for row, i in enumerate(idx):
                n = len(enc[i].ids)
                ids[row, :n] = enc[i].ids
                mask[row, :n] = 1
            vecs = self.session.run(None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)})[0]
            for i, v in zip(idx, vecs):
                out[i] = v
        return np.asarray(out, dtype=np.float32)
