"""The one small protocol every answer engine implements."""

from __future__ import annotations

from typing import Iterator, Protocol, runtime_checkable


class EngineError(RuntimeError):
    """The engine cannot answer: not installed, not reachable, crashed. The message says what to do."""


@runtime_checkable
class Engine(Protocol):
    name: str  # "llama.cpp", "vLLM (CPU)", "remote"
    model: str  # what the user would recognise: a file name, a model id
    context_tokens: int

    def stream_chat(
        self,
        messages: list[dict[str, str]],
        *,
        max_tokens: int = 256,
        temperature: float = 0.1,
        repetition_penalty: float = 1.0,
        stop: list[str] | None = None,
    ) -> Iterator[str]:
        """Yield the answer's text as it is generated."""
        ...

    def count_tokens(self, text: str) -> int: ...

    def close(self) -> None: ...


# Optional, where getting ready takes a while (Chat.ask shows each step as a Status):
#   load() -> None                   load the model / start the server now
#   load_steps() -> Iterator[str]    the same, yielding what it is doing ("starting vLLM (CPU)…");
#                                    yields nothing when the engine is ready already
