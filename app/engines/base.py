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
    running: bool  # holds memory now (a loaded model, a started server): what idle stop gives back

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

    def load_steps(self) -> Iterator[str]:
        """Get ready (load the model, start or reach the server), yielding what it is doing
        ("starting vLLM (CPU)…") for the UI to show; yields nothing when ready already."""
        ...

    def load(self) -> None:
        """Get ready without reporting the steps."""
        ...

    def close(self) -> None:
        """Give back what it holds (a model, a server process); it loads again when next asked."""
        ...


class EngineBase:
    """Defaults for the optional parts of the protocol: ready at once; `load` runs `load_steps`;
    `running` (holds memory here: a loaded model, a started server) false, as for a remote server."""

    running = False

    def load_steps(self) -> Iterator[str]:
        yield from ()

    def load(self) -> None:
        for _ in self.load_steps():
            pass

    def close(self) -> None:
        pass
