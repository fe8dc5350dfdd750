"""A guard on every outbound connection, for the privacy tests.

An audit hook (PEP 578) sees each `socket.connect`, `connect_ex`, `sendto`, `sendmsg`,
`getaddrinfo`, `gethostbyname` and `gethostbyaddr` made by Python code in the process, in any
thread or library (httpx, urllib, requests, posthog, huggingface_hub…). A connection is allowed
only to a loopback address on one of the ports the test configured (a Chroma server, an engine);
Unix-domain sockets are local IPC, not network, and pass. Anything else is recorded (with the
frames that made it) and refused with a PermissionError, so nothing gets out and the test sees it.

In a test process: `guard = install()` once (audit hooks cannot be removed), then
`with guard.watching(allow_ports={port}): …` and assert `guard.violations == []`.

In a child process (the `citewise` CLI): put `tests/netguard_site` first on PYTHONPATH (its
`sitecustomize` calls `install_from_env()`), name a record file in NETGUARD_RECORD and the
allowed ports in NETGUARD_ALLOW_PORTS; every violation of the process and of the Python
processes it starts is appended to the file, and each allowed connection to `<file>.allowed`.
See `child_env`.
"""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import sys
import threading
import traceback
from pathlib import Path

SITE_DIR = Path(__file__).with_name("netguard_site")
ROOT = Path(__file__).resolve().parents[1]

_LOCAL_NAMES = {"localhost", "localhost.localdomain", "ip6-localhost", "ip6-loopback"}


class NetworkBlocked(PermissionError):
    """An outbound connection the test did not allow."""


def is_loopback(host) -> bool:
    if host is None:
        return True  # getaddrinfo(None, port): the local wildcard, no lookup
    if isinstance(host, bytes):
        host = host.decode("ascii", "replace")
    host = str(host).strip("[]").split("%", 1)[0].lower()
    if host in _LOCAL_NAMES or host == "":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class Guard:
    def __init__(self, record: Path | None = None):
        self.record = record
        self.active = False
        self.allow_ports: set[int] = set()
        self.violations: list[str] = []
        self.allowed: list[str] = []  # loopback connections that were let through
        self._lock = threading.Lock()
        self._inside = threading.local()

    # -- the audit hook ----------------------------------------------------------------------

    def hook(self, event: str, args: tuple) -> None:
        if not self.active or not event.startswith("socket.") or getattr(self._inside, "busy", False):
            return
        self._inside.busy = True  # our own bookkeeping raises no events of interest, but be safe
        try:
            problem = self._check(event, args)
        finally:
            self._inside.busy = False
        if problem:
            self._violate(problem)

    def _check(self, event: str, args: tuple) -> str | None:
        if event in ("socket.connect", "socket.sendto", "socket.sendmsg"):
            sock, address = args[0], args[1]
            if address is None:  # sendmsg on a connected socket: its connect was checked
                return None
            family = getattr(sock, "family", None)
            if family == getattr(socket, "AF_UNIX", object()) or isinstance(address, (str, bytes)):
                return None  # a Unix-domain socket: local IPC, not the network
            if family not in (socket.AF_INET, socket.AF_INET6):
                return f"{event} on socket family {family!r} to {address!r}"
            host, port = address[0], address[1]
            if is_loopback(host) and int(port) in self.allow_ports:
                self._allow(f"{host}:{port}")
                return None
            return f"{event} to {host}:{port}"
        if event == "socket.getaddrinfo":
            host, port = args[0], args[1]
            return None if is_loopback(host) else f"getaddrinfo({host!r}, {port!r})"
        if event in ("socket.gethostbyname", "socket.gethostbyaddr"):
            host = args[0]
            return None if is_loopback(host) else f"{event} of {host!r}"
        return None

    def _allow(self, target: str) -> None:
        with self._lock:
            self.allowed.append(target)
            if self.record is not None:
                with open(f"{self.record}.allowed", "a", encoding="utf-8") as fh:
                    fh.write(target + "\n")

    def _violate(self, problem: str) -> None:
        frames = [f for f in traceback.extract_stack()[:-3] if "netguard" not in f.filename][-8:]
        where = " <- ".join(f"{Path(f.filename).name}:{f.lineno}" for f in reversed(frames))
        line = f"[pid {os.getpid()}] {problem}  (from {where})"
        with self._lock:
            self.violations.append(line)
            if self.record is not None:
                with open(self.record, "a", encoding="utf-8") as fh:
                    fh.write(line + "\n")
        raise NetworkBlocked(f"netguard: {problem} is not allowed in this test")

    # -- in a test process -------------------------------------------------------------------

    @contextlib.contextmanager
    def watching(self, allow_ports=()):
        self.violations.clear()
        self.allowed.clear()
        self.allow_ports = {int(p) for p in allow_ports}
        self.active = True
        try:
            yield self
        finally:
            self.active = False


_installed: Guard | None = None


def install(record: Path | None = None) -> Guard:
    """The process's guard (installed once; audit hooks stay for the life of the process)."""
    global _installed
    if _installed is None:
        _installed = Guard(record)
        sys.addaudithook(_installed.hook)
    return _installed


def install_from_env() -> None:
    record = os.environ.get("NETGUARD_RECORD")
    if not record:
        return
    guard = install(Path(record))
    guard.allow_ports = {int(p) for p in os.environ.get("NETGUARD_ALLOW_PORTS", "").split(",") if p.strip()}
    guard.active = True


# what a user's shell does not have: the app must go offline by itself, not because a test said so
_OFFLINE_HINTS = (
    "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_DATASETS_OFFLINE", "HF_HUB_DISABLE_TELEMETRY",
    "ANONYMIZED_TELEMETRY", "DO_NOT_TRACK", "ORT_DISABLE_TELEMETRY",
    # a CI job's markers: ONNX Runtime (>= 1.29) keeps its telemetry off when it sees any of them,
    # so under CI a check that Citewise switches it off would pass whatever Citewise did
    "CI", "TF_BUILD", "GITHUB_ACTIONS", "GITLAB_CI", "CIRCLECI", "TRAVIS", "JENKINS_URL",
    "CODEBUILD_BUILD_ID", "BUILDKITE", "TEAMCITY_VERSION", "APPVEYOR", "BITBUCKET_BUILD_NUMBER",
)


def child_env(record: Path, allow_ports=(), base: dict | None = None) -> dict:
    """The environment of a guarded child process: a user's plain environment plus the guard."""
    env = {k: v for k, v in (base if base is not None else os.environ).items() if k not in _OFFLINE_HINTS}
    paths = [str(SITE_DIR), str(ROOT)] + [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join(dict.fromkeys(paths))
    env["NETGUARD_RECORD"] = str(record)
    env["NETGUARD_ALLOW_PORTS"] = ",".join(str(int(p)) for p in allow_ports)
    return env
