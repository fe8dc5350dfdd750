"""Which engine answers: `auto` picks vLLM on CUDA, else vLLM on the CPU, else llama.cpp."""

from __future__ import annotations

from dataclasses import dataclass

from app.engines import llamacpp
from app.engines.base import Engine, EngineError
from app.settings import Settings


@dataclass
class EngineStatus:
    name: str
    available: bool
    detail: str


def engine_statuses(settings: Settings) -> list[EngineStatus]:
    ok, detail = llamacpp.available()
    statuses = [EngineStatus("llamacpp", ok, detail)]
    url = settings.llm.remote_url
    statuses.append(EngineStatus("remote", bool(url), url or "no remote URL configured"))
    return statuses


def choose(settings: Settings) -> tuple[str, str]:
    """`(engine name, why)` for the configured engine setting."""
    wanted = settings.llm.engine
    if wanted != "auto":
        return wanted, "set in the settings"
    ok, detail = llamacpp.available()
    if ok:
        return "llamacpp", f"auto: vLLM is not available here; llama.cpp ({detail})"
    raise EngineError(f"no answer engine is available: {detail}")


def create_engine(settings: Settings) -> Engine:
    name, _why = choose(settings)
    llm = settings.llm
    if name == "llamacpp":
        return llamacpp.LlamaCppEngine(llm.model, context_tokens=llm.context_tokens, threads=llm.threads, seed=llm.seed)
    raise EngineError(f"the {name} engine is not available in this build")
