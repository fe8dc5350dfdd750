"""The model catalog (app/catalog.toml): what Citewise recommends, what fits this computer, what is
installed, and what a model's "use" changes in the settings.

A downloaded model lives in `<data dir>/models/<id>/` with a marker file written last
(app/hub.py), so a folder without it is never taken for a model.
"""

from __future__ import annotations

import functools
import json
import os
import shutil
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

MARKER = "citewise-download.json"  # written last by a download: its presence means complete


@dataclass(frozen=True)
class Entry:
    id: str
    kind: str  # llm | embedding
    engine: str  # llamacpp | vllm | embedding
    repo: str
    files: tuple[str, ...]
    quant: str
    params_b: float
    size_mb: int
    ram_gb: float
    vram_gb: float
    context: int
    licence: str
    languages: tuple[str, ...]
    good_for: str
    revision: str = "main"
    gpu_only: bool = False
    bundled: bool = False

    @property
    def single_file(self) -> bool:
        """One named file (a GGUF), not a folder of patterns."""
        return len(self.files) == 1 and not any(c in self.files[0] for c in "*?[")

    @property
    def size_text(self) -> str:
        """The download size as the catalog lists it ("bundled" when it ships with Citewise)."""
        if self.bundled:
            return "bundled"
        return f"{self.size_mb / 1024:.1f} GB" if self.size_mb >= 1024 else f"{self.size_mb} MB"

    @property
    def needs_text(self) -> str:
        return f"{self.ram_gb:g} GB" + (f", GPU {self.vram_gb:g} GB" if self.vram_gb else "")

    @property
    def commercial_use(self) -> bool:
        return "non-commercial" not in self.licence.lower()


@functools.lru_cache(maxsize=4)
def _load(path: str) -> tuple[Entry, ...]:
    data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    entries = []
    for raw in data.get("model", []):
        raw = dict(raw)
        raw["files"] = tuple(raw["files"])
        raw["languages"] = tuple(raw.get("languages", ()))
        entries.append(Entry(**raw))
    ids = [e.id for e in entries]
    if len(ids) != len(set(ids)):
        raise ValueError(f"{path}: duplicate model ids")
    return tuple(entries)


def entries(path: Path | None = None) -> tuple[Entry, ...]:
    return _load(str(path or Path(__file__).with_name("catalog.toml")))


class UnknownModel(KeyError):
    def __str__(self) -> str:
        return self.args[0]


def get(name: str, path: Path | None = None) -> Entry:
    all_entries = entries(path)
    for e in all_entries:
        if e.id == name.lower():
            return e
    close = [e.id for e in all_entries if name.lower() in e.id]
    hint = f" (did you mean {', '.join(close)}?)" if close else ""
    raise UnknownModel(f"no model named '{name}' in the catalog{hint}; `citewise models list` shows them")


# -- this computer ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Gpu:
    name: str
    total_gb: float
    free_gb: float


@dataclass(frozen=True)
class Hardware:
    ram_gb: float
    available_gb: float
    cores: int
    gpus: tuple[Gpu, ...] = ()
    vllm_cpu: bool = False  # a vllm-cpu environment is installed
    cpu_flags: frozenset[str] = field(default_factory=frozenset)

    @property
    def best_gpu(self) -> Gpu | None:
        return max(self.gpus, key=lambda g: g.total_gb, default=None)

    def describe(self) -> str:
        gpu = self.best_gpu
        parts = [f"{self.ram_gb:.0f} GB memory ({self.available_gb:.0f} GB free)", f"{self.cores} cores"]
        parts.append(f"{gpu.name} with {gpu.total_gb:.0f} GB ({gpu.free_gb:.0f} GB free)" if gpu else "no CUDA GPU")
        return ", ".join(parts)


def nvidia_gpus() -> tuple[Gpu, ...]:
    """CUDA GPUs as nvidia-smi reports them (no torch import: that costs seconds)."""
    exe = shutil.which("nvidia-smi")
    if not exe:
        return ()
    try:
        out = subprocess.run([exe, "--query-gpu=name,memory.total,memory.free", "--format=csv,noheader,nounits"],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.TimeoutExpired):
        return ()
    gpus = []
    for line in out.stdout.splitlines():
        try:
            name, total, free = (p.strip() for p in line.split(","))
            gpus.append(Gpu(name, float(total) / 1024, float(free) / 1024))
        except ValueError:
            continue
    return tuple(gpus)


def hardware(settings=None) -> Hardware:
    import psutil

    from indexing.fastest import cpu_flags

    vm = psutil.virtual_memory()
    vllm_cpu = False
    if settings is not None:
        from app.engines.select import vllm_cpu_status

        vllm_cpu = vllm_cpu_status(settings).available
    return Hardware(
        ram_gb=vm.total / 2**30,
        available_gb=vm.available / 2**30,
        cores=psutil.cpu_count(logical=False) or os.cpu_count() or 1,
        gpus=nvidia_gpus(),
        vllm_cpu=vllm_cpu,
        cpu_flags=frozenset(cpu_flags()),
    )


@dataclass(frozen=True)
class Fit:
    fits: bool
    why: str


HEADROOM_GB = 2.0  # the system, Citewise itself, Chroma and the embedding model


def fit(entry: Entry, hw: Hardware) -> Fit:
    gpu = hw.best_gpu
    if entry.engine == "vllm":
        if gpu is not None:
            if entry.vram_gb <= gpu.total_gb * 0.9:
                return Fit(True, f"needs {entry.vram_gb:g} GB of GPU memory; {gpu.name} has {gpu.total_gb:.0f} GB")
            return Fit(False, f"needs {entry.vram_gb:g} GB of GPU memory; {gpu.name} has {gpu.total_gb:.0f} GB")
        if entry.gpu_only:
            return Fit(False, "needs a CUDA GPU (4-bit AWQ kernels); this computer has none")
        if not hw.vllm_cpu:
            return Fit(False, "needs vLLM: a CUDA GPU, or vllm-cpu (x86-64 Linux, `make setup`)")
    need = entry.ram_gb + HEADROOM_GB
    if need > hw.ram_gb:
        return Fit(False, f"needs {entry.ram_gb:g} GB of memory (+{HEADROOM_GB:g} GB for Citewise); this computer has {hw.ram_gb:.0f} GB")
    where = "on vllm-cpu" if entry.engine == "vllm" else "on this CPU"
    return Fit(True, f"needs {entry.ram_gb:g} GB of memory {where}; this computer has {hw.ram_gb:.0f} GB")


def _cpu_params_limit(hw: Hardware) -> float:
    """The largest model (billions of parameters) that writes at a readable pace on this CPU:
    4-bit decoding reads every weight per token, ~0.6 GB per billion, and two cores stream a few
    GB/s, so two to four cores get ~5 words/s from a 1.5B model and ~1 from a 7B one."""
    x86 = bool(hw.cpu_flags & {"sse2", "sse4_2", "SSE2", "SSE42"})
    if x86 and not hw.cpu_flags & {"avx2", "AVX2"}:  # llama.cpp's fast kernels need AVX2: ~3x slower without
        return 0.5
    if hw.cores <= 4:
        return 1.5
    if hw.cores <= 8:
        return 3.2
    return 8.0


def recommended(engine: str, hw: Hardware, path: Path | None = None) -> Entry | None:
    """The one model per engine to suggest: the most capable that fits and answers at a readable
    pace here, free for any use (a non-commercial licence is shown, never recommended)."""
    candidates = [e for e in entries(path) if e.engine == engine and not e.bundled and e.commercial_use and fit(e, hw).fits]
    if engine == "llamacpp":
        candidates = [e for e in candidates if e.params_b <= _cpu_params_limit(hw)]
    elif engine == "vllm" and hw.best_gpu is None:  # bf16 weights on vllm-cpu: 3x the bytes of 4-bit
        candidates = [e for e in candidates if e.params_b <= _cpu_params_limit(hw) / 3]
    if engine == "embedding":
        return None  # the bundled model is the recommendation for English; others are a choice
    if not candidates:
        return None
    # among as capable: the one needing less memory
    return max(candidates, key=lambda e: (e.params_b, -e.ram_gb))


# -- installed models ----------------------------------------------------------------------------------


def models_root(data_dir: Path) -> Path:
    return Path(data_dir) / "models"


def folder(entry: Entry, data_dir: Path) -> Path:
    return models_root(data_dir) / entry.id


def installed(entry: Entry, data_dir: Path) -> bool:
    return entry.bundled or (folder(entry, data_dir) / MARKER).is_file()


def install_record(entry: Entry, data_dir: Path) -> dict | None:
    try:
        return json.loads((folder(entry, data_dir) / MARKER).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def model_path(entry: Entry, data_dir: Path) -> str:
    """What the settings name for this model: `bundled`, a GGUF file, or a folder."""
    if entry.bundled:
        return "bundled"
    base = folder(entry, data_dir)
    return str(base / entry.files[0]) if entry.single_file else str(base)


def use_changes(entry: Entry, data_dir: Path) -> dict[str, object]:
    """The settings "use" writes: the engine and model (LLMs), or the embedding model."""
    path = model_path(entry, data_dir)
    if entry.kind == "embedding":
        return {"embedding.model": path}
    engine = "vllm" if entry.engine == "vllm" else "llamacpp"
    if entry.bundled:
        engine = "auto"
    return {"llm.engine": engine, "llm.model": path}


def in_use(entry: Entry, settings) -> bool:
    path = model_path(entry, settings.data_dir)
    if entry.kind == "embedding":
        return settings.embedding.model == path
    return settings.llm.model == path and (entry.bundled or settings.llm.engine != "remote")
