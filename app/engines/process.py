"""A server child process that never outlives Citewise, nor leaves a child of its own behind.

- It starts in a new session: its own process group, so a terminal's Ctrl-C reaches Citewise
  alone, which then stops the server in order.
- `stop()` sends SIGTERM to the group and to every descendant psutil finds (a child that left the
  group included), waits, then SIGKILLs what is left and reaps it.
- Every live server is stopped at interpreter exit (atexit), after an exception too.
- When Citewise is killed outright (SIGKILL, a crash: no Python runs any more), a tiny watchdog
  process sees its parent go and stops the server's group the same way.
"""

from __future__ import annotations

import atexit
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import psutil

log = logging.getLogger(__name__)

# Runs in its own session with the app's Python (-I: no site or environment in the way).
# argv: the app's pid (our parent) and the server's process group.
_WATCHDOG = r"""
import os, signal, sys, time
parent, group = int(sys.argv[1]), int(sys.argv[2])
def exists():
    try:
        os.killpg(group, 0)
        return True
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
while exists():
    if os.getppid() != parent:
        try:
            os.killpg(group, signal.SIGTERM)
        except ProcessLookupError:
            sys.exit(0)
        deadline = time.time() + 15
        while exists() and time.time() < deadline:
            time.sleep(0.2)
        if exists():
            os.killpg(group, signal.SIGKILL)
        sys.exit(0)
    time.sleep(0.5)
"""

_live: set["ServerProcess"] = set()
_live_lock = threading.Lock()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


class ServerProcess:
    """One child process, its log file and everything it spawns."""

    def __init__(self, cmd: list[str], *, env: dict[str, str], log_path: Path, name: str = "server"):
        self.cmd = cmd
        self.env = env
        self.log_path = log_path
        self.name = name
        self._proc: subprocess.Popen | None = None
        self._watchdog: subprocess.Popen | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log_path, "ab") as out:
            self._proc = subprocess.Popen(
                self.cmd, env=self.env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True, close_fds=True,
            )
        with _live_lock:
            _live.add(self)
        self._watchdog = subprocess.Popen(
            [sys.executable, "-I", "-c", _WATCHDOG, str(os.getpid()), str(self._proc.pid)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True,
        )
        log.info("started %s (pid %d), log: %s", self.name, self._proc.pid, self.log_path)

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    @property
    def watchdog_pid(self) -> int | None:
        return self._watchdog.pid if self._watchdog else None

    def returncode(self) -> int | None:
        """None while it runs; its exit code (negative: the signal that killed it) once it has stopped."""
        return self._proc.poll() if self._proc else None

    def alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def processes(self) -> list[psutil.Process]:
        """The server and all its descendants, as they are now."""
        if self._proc is None:
            return []
        try:
            root = psutil.Process(self._proc.pid)
            return [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return []

    def log_tail(self, lines: int = 15) -> str:
        try:
            with open(self.log_path, "rb") as f:
                f.seek(max(0, f.seek(0, os.SEEK_END) - 64_000))
                text = f.read().decode("utf-8", "replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])

    def stop(self, grace_s: float = 15.0) -> None:
        """Stops the server and every process it spawned; returns once they are all gone."""
        proc, self._proc = self._proc, None
        with _live_lock:
            _live.discard(self)
        if proc is not None:
            procs = []
            try:
                root = psutil.Process(proc.pid)
                procs = [root, *root.children(recursive=True)]
            except psutil.NoSuchProcess:
                pass
            _signal_group(proc.pid, signal.SIGTERM)
            for p in procs:  # one that left the group
                _quietly(p.terminate)
            _gone, alive = psutil.wait_procs(procs, timeout=grace_s)
            if alive:
                log.warning("%s did not stop in %.0f s: killing %s", self.name, grace_s, [p.pid for p in alive])
                _signal_group(proc.pid, signal.SIGKILL)
                for p in alive:
                    _quietly(p.kill)
                psutil.wait_procs(alive, timeout=5)
            try:
                proc.wait(timeout=5)  # reap it
            except subprocess.TimeoutExpired:
                pass
            log.info("stopped %s (pid %d)", self.name, proc.pid)
        watchdog, self._watchdog = self._watchdog, None
        if watchdog is not None and watchdog.poll() is None:
            watchdog.kill()
            watchdog.wait(timeout=5)


def _signal_group(pgid: int, sig: int) -> None:
    try:
        os.killpg(pgid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _quietly(fn) -> None:
    try:
        fn()
    except psutil.Error:
        pass


def wait_gone(procs: list, timeout: float) -> list[int]:
    """The pids of `procs` (pids or psutil.Process objects: these survive pid reuse) still
    running after up to `timeout` seconds; zombies count as gone."""
    tracked = []
    for p in procs:
        try:
            tracked.append(p if isinstance(p, psutil.Process) else psutil.Process(p))
        except psutil.NoSuchProcess:
            pass
    deadline = time.monotonic() + timeout
    while True:
        left = []
        for p in tracked:
            try:
                if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                    left.append(p.pid)
            except psutil.NoSuchProcess:
                pass
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.2)


@atexit.register
def stop_all() -> None:
    """Stops every server still running: at interpreter exit, whatever way it ends."""
    with _live_lock:
        servers = list(_live)
    for server in servers:
        try:
            server.stop()
        except Exception:  # keep going: the others must stop too
            log.exception("could not stop %s", server.name)
