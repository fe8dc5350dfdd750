"""Which embedder path indexes fastest on this computer's CPU: measured where it can be.

The int8 ONNX Runtime copy of the model (onnx_models.py) indexed faster than the float path on
each CPU kind bench/indexing.py ran on (AVX2 only, AVX512-VNNI, native bf16: docs/benchmarks.md,
"Indexing"), with recall@5 within a point of fp32. So under
precision `auto` a new library on a CPU takes int8 where

- a measurement on this CPU says so: `measure()` times both paths on the same chunks (a few
  seconds; `citewise models prepare` and the desktop app's warm-up run it once) and keeps the
  result beside the converted models, keyed by the CPU and the runtimes' versions;
- else the CPU has int8 dot products (x86 AVX2: vpmaddubsw; AVX512-VNNI, AVX-VNNI; ARM dot-product),
  the kernels ONNX Runtime's int8 matrix products use.

Only for models the int8 copy reproduces: mean pooling then L2 normalisation (the bundled
MiniLM and most sentence-transformers models); a model with CLS pooling or a Dense layer stays float.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import platform
import sys
import time
from pathlib import Path

PROBE_FILE = "fastest-path.json"
# ordinary prose; doubled, a probe chunk is ~138 word-pieces (the measurement's chunks)
_PROBE_TEXT = (
    "The committee reviewed the quarterly figures and found that revenue from services rose while "
    "product sales fell slightly, mainly because of lower volumes in the second half of the period. "
    "Operating expenses were held flat, and the board approved a plan to invest in new equipment "
    "for the northern plant, which is expected to reduce maintenance costs over the next three years. "
)


@functools.lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags, lower case: /proc/cpuinfo on Linux, NumPy's detection elsewhere."""
    flags: set[str] = set()
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            key = line.split(":", 1)[0].strip().lower()
            if key in ("flags", "features"):  # x86 / ARM
                flags.update(line.split(":", 1)[1].split())
                break
    except OSError:
        pass
    try:  # also on macOS and Windows
        from numpy._core._multiarray_umath import __cpu_features__ as features

        flags.update(name.lower() for name, present in features.items() if present)
    except ImportError:
        pass
    return frozenset(flags)


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(errors="replace").splitlines():
            if line.lower().startswith(("model name", "hardware", "cpu model")):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def int8_dot_product(flags: frozenset[str] | None = None) -> str | None:
    """The int8 dot-product instructions this CPU has ("vnni", "avx2", "dotprod"), or None."""
    flags = cpu_flags() if flags is None else flags
    if flags & {"avx512_vnni", "avx512vnni", "avx_vnni", "amx_int8"}:
        return "vnni"
    if "avx2" in flags:
        return "avx2"
    if flags & {"asimddp", "dotprod"}:
        return "dotprod"
    return None


def cuda_possible() -> bool:
    """False where no CUDA GPU can be (no NVIDIA driver): then torch need not be imported to know."""
    if sys.platform.startswith("linux"):
        return os.path.exists("/proc/driver/nvidia/version")
    if sys.platform == "win32":
        import ctypes.util

        return ctypes.util.find_library("nvcuda") is not None
    return False  # macOS: no CUDA


def mean_pooled(model_dir: Path) -> bool:
    """The model pools by mean and normalises, with nothing after: what the ONNX copy computes."""
    try:
        modules = json.loads((Path(model_dir) / "modules.json").read_text())
        kinds = [m.get("type", "").rsplit(".", 1)[-1] for m in modules]
        pooling = next(m for m in modules if m.get("type", "").endswith("Pooling"))
        config = json.loads((Path(model_dir) / pooling.get("path", "") / "config.json").read_text())
    except (OSError, ValueError, StopIteration):
        return False
    mean_only = config.get("pooling_mode_mean_tokens") and not any(
        config.get(k) for k in config if k.startswith("pooling_mode_") and k != "pooling_mode_mean_tokens"
    )
    return bool(mean_only) and kinds == ["Transformer", "Pooling", "Normalize"]


def _machine_key() -> str:
    from importlib.metadata import PackageNotFoundError, version

    parts = [cpu_name(), str(os.cpu_count()), ",".join(sorted(cpu_flags()))]
    for pkg in ("onnxruntime", "torch"):
        try:
            parts.append(f"{pkg}={version(pkg)}")
        except PackageNotFoundError:
            parts.append(f"{pkg}=-")
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


def measured_pick(cache_dir: Path) -> str | None:
    """"int8" or "float" as measured on this CPU (with these runtimes) before, else None."""
    try:
        data = json.loads((Path(cache_dir) / PROBE_FILE).read_text())
    except (OSError, ValueError):
        return None
    if data.get("machine") != _machine_key() or data.get("pick") not in ("int8", "float"):
        return None
    return data["pick"]


def measure(float_embedder, int8_embedder, cache_dir: Path, chunks: int = 16) -> dict:
    """Time both embedders on the same chunks (one warm-up batch each, then `chunks` texts in
    batches of 8, best of two) and keep the pick in `cache_dir`. Returns what was written."""
    texts = [f"{i}. " + _PROBE_TEXT * 2 for i in range(chunks)]
    timings = {}
    for name, embedder in (("float", float_embedder), ("int8", int8_embedder)):
        embedder.embed(texts[:8])
        best = float("inf")
        for _ in range(2):
            t = time.perf_counter()
            embedder.embed(texts)
            best = min(best, time.perf_counter() - t)
        timings[name] = {"precision": embedder.precision, "seconds": round(best, 4), "chunks_per_s": round(chunks / best, 1)}
    result = {
        "machine": _machine_key(), "cpu": cpu_name(), "cores": os.cpu_count(), "int8_dot_product": int8_dot_product(),
        "measured_at": time.strftime("%Y-%m-%dT%H:%M:%S"), **timings,
        "pick": "int8" if timings["int8"]["seconds"] < timings["float"]["seconds"] else "float",
    }
    Path(cache_dir).mkdir(parents=True, exist_ok=True)
    tmp = Path(cache_dir) / (PROBE_FILE + ".tmp")
    tmp.write_text(json.dumps(result, indent=2))
    os.replace(tmp, Path(cache_dir) / PROBE_FILE)
    return result
