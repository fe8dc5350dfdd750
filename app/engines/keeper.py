"""The session's answer engine: made on first use (quote mode never makes one), counted as used
at each answer, and stopped when idle for llm.idle_stop_minutes, giving its memory back; it starts
again with the next written answer. The one place the idle stop is decided."""

from __future__ import annotations

import threading
import time

from app.engines.base import Engine, EngineError


class EngineKeeper:
    def __init__(self, settings, engine: Engine | None = None):
        self.settings = settings
        self._engine = engine
        self._owns = engine is None  # an engine handed in (a test's, shared) is never stopped here
        self._used = time.monotonic()
        self._lock = threading.RLock()

    def engine(self) -> Engine:
        """The answer engine, made on first use. Each call counts as a use for the idle stop."""
        with self._lock:
            if self._engine is None:
                from app.engines.select import create_engine

                self._engine = create_engine(self.settings)
            self._used = time.monotonic()
            return self._engine

    @property
    def running(self) -> Engine | None:
        """The engine when it holds memory now (a model loaded, a server started), else None."""
        engine = self._engine
        return engine if engine is not None and getattr(engine, "running", False) else None

    def idle(self, now: float | None = None) -> bool:
        """An engine runs and has not been used for llm.idle_stop_minutes (0: never idle)."""
        minutes = self.settings.llm.idle_stop_minutes
        if not minutes or self.running is None:
            return False
        return (now if now is not None else time.monotonic()) - self._used >= minutes * 60

    def stop(self) -> bool:
        """Stops the engine (it starts again with the next written answer); True when one ran."""
        with self._lock:
            engine = self._engine if self._owns else None
            if engine is None:
                return False
            self._engine = None
        was_running = bool(getattr(engine, "running", False))
        engine.close()
        return was_running

    def choice(self) -> str:
        """Which engine answers and why, in one line (for the settings and the status bar)."""
        from app.engines.select import choose

        try:
            name, why = choose(self.settings)
        except EngineError as exc:
            return f"no engine: {exc}"
        return f"{name}: {why}"

    def close(self) -> None:
        with self._lock:
            if self._engine is not None and self._owns:
                self._engine.close()
            self._engine = None
