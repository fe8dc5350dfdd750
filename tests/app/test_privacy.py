"""Nothing leaves the machine: `index` and `ask` run with a guard on every outbound connection.

The guard (tests/netguard.py) is an audit hook on socket connects and name lookups, installed
in the `citewise` process (and every Python process it starts) through `sitecustomize`. The CLI
runs with a user's plain environment: HF_HUB_OFFLINE, ANONYMIZED_TELEMETRY and the like are
removed, so the app has to keep itself offline. Allowed: loopback connections to the one Chroma
server the test configured. Anything else (telemetry, a model hub, an update check, a DNS
lookup) is recorded and refused, and the record must stay empty.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
from pathlib import Path
from urllib.parse import urlparse

import pytest

from tests import docs, netguard
from tests.conftest import VENV_BIN, files_holding, free_port

QUESTION = "How much does the museum night tour cost?"


@pytest.fixture
def folder(tmp_path):
    return docs.make_papers(tmp_path / "papers")


def guarded_cli(*args: str, data_dir: Path, record: Path, allow_ports=(), timeout: float = 300, env: dict | None = None):
    """`citewise ARGS` with the guard installed, answering with the bundled model (generate mode)."""
    env = {**netguard.child_env(record, allow_ports), "CITEWISE_RETRIEVAL__ANSWER_MODE": "generate",
           "CITEWISE_LLM__ENGINE": "llamacpp", "CITEWISE_EMBEDDING__DEVICE": "cpu", **(env or {})}
    return subprocess.run(
        [str(VENV_BIN / "citewise"), "--data-dir", str(data_dir), *args],
        capture_output=True, text=True, timeout=timeout, env=env,
    )


def recorded(record: Path) -> list[str]:
    return record.read_text(encoding="utf-8").splitlines() if record.exists() else []


# -- the guard itself can fail a test ---------------------------------------------------------


def test_guard_refuses_and_records_a_connection_elsewhere():
    guard = netguard.install()
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        with guard.watching(allow_ports={port}):
            with pytest.raises(netguard.NetworkBlocked):
                socket.create_connection(("10.255.255.1", 80), timeout=0.5)
            with pytest.raises(netguard.NetworkBlocked), socket.socket() as raw:
                raw.settimeout(0.5)
                raw.connect(("10.255.255.1", 80))
            with pytest.raises(netguard.NetworkBlocked):
                socket.getaddrinfo("huggingface.co", 443)
            with pytest.raises(netguard.NetworkBlocked):  # loopback, but not a port the test configured
                socket.create_connection(("127.0.0.1", free_other_port(port)), timeout=0.5)
            socket.create_connection(("127.0.0.1", port), timeout=2).close()  # the configured one
    assert len(guard.violations) == 4, guard.violations
    assert "10.255.255.1:80" in guard.violations[1] and "huggingface.co" in guard.violations[2]
    assert guard.allowed == [f"127.0.0.1:{port}"]


def free_other_port(taken: int) -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return port if port != taken else port + 1


def test_guard_sees_the_cli_process(data_dir, folder, tmp_path):
    """The guard is live inside `citewise`: a Chroma URL off the machine is caught and refused."""
    record = tmp_path / "net.txt"
    proc = guarded_cli("--chroma-url", "http://10.255.255.1:8000", "index", str(folder), data_dir=data_dir, record=record, timeout=120)
    assert proc.returncode != 0
    assert "cannot be reached" in proc.stderr
    assert any("10.255.255.1" in line for line in recorded(record)), recorded(record)


# -- the CLI -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_index_and_ask_with_embedded_chroma_connect_nowhere(data_dir, folder, tmp_path):
    from indexing.embedder import Embedder

    record = tmp_path / "net.txt"
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    indexed = guarded_cli("index", str(folder), data_dir=data_dir, record=record, env={"HOME": str(home)})
    assert indexed.returncode == 0, indexed.stderr
    assert "Indexed 2 files" in indexed.stdout
    # the question goes through the ONNX Runtime copy (as after the app's warm-up): ONNX Runtime
    # >= 1.29 phones home from Linux unless told not to, and the guard cannot see native sockets
    assert Embedder("bundled", "cpu", cache_dir=data_dir / "models").prepare_query_encoder()
    asked = guarded_cli("ask", "--json", QUESTION, data_dir=data_dir, record=record, env={"HOME": str(home)})
    assert asked.returncode == 0, asked.stderr
    answer = json.loads(asked.stdout)
    assert answer["engine"] == "llama.cpp" and answer["citations"][0]["file"].endswith("facts.pdf")
    assert recorded(record) == []
    assert recorded(Path(f"{record}.allowed")) == []  # embedded: no socket at all
    for cache in (home / ".cache", Path(os.environ["XDG_CACHE_HOME"])):  # ONNX Runtime's telemetry id and queue
        assert not (cache / "Microsoft").exists()


def test_onnx_runtime_telemetry_is_off_wherever_citewise_loads_it(tmp_path):
    """Loaded through Citewise's packages (question encoder, int8, OCR), ONNX Runtime has its
    telemetry off; loaded bare, the same runtime writes a device id into ~/.cache/Microsoft."""
    env = netguard.child_env(tmp_path / "net.txt")  # a user's plain environment
    for name, code in (("bare", "import onnxruntime"), ("citewise", "import indexing, onnxruntime")):
        home = tmp_path / name
        home.mkdir()
        subprocess.run([str(VENV_BIN / "python"), "-c", code], check=True, timeout=120,
                       env={**env, "HOME": str(home), "XDG_CACHE_HOME": str(home / ".cache")})
    assert (tmp_path / "bare" / ".cache" / "Microsoft").exists()  # so the check below can fail
    assert not (tmp_path / "citewise" / ".cache" / "Microsoft").exists()


@pytest.mark.slow
@pytest.mark.server
def test_with_a_chroma_server_only_its_port_is_contacted(data_dir, folder, tmp_path, chroma_server):
    import chromadb

    port = urlparse(chroma_server).port
    record = tmp_path / "net.txt"
    indexed = guarded_cli("--chroma-url", chroma_server, "index", str(folder), data_dir=data_dir, record=record, allow_ports={port})
    assert indexed.returncode == 0, indexed.stderr
    asked = guarded_cli("--chroma-url", chroma_server, "ask", "--json", QUESTION, data_dir=data_dir, record=record, allow_ports={port})
    assert asked.returncode == 0, asked.stderr
    assert json.loads(asked.stdout)["citations"][0]["page"] == 2
    assert recorded(record) == []
    allowed = recorded(Path(f"{record}.allowed"))
    assert allowed and set(allowed) <= {f"127.0.0.1:{port}"}
    # the chunks really went to the server
    server = chromadb.HttpClient(host="127.0.0.1", port=port)
    assert sum(c.count() for c in server.list_collections()) >= 2
    assert not os.path.exists(data_dir / "chroma")


# -- secrets -----------------------------------------------------------------------------------


@pytest.mark.slow
def test_api_key_never_reaches_output_files_or_logs(data_dir, folder, tmp_path):
    """A remote engine's key given in the environment: verbose logs, a failing remote answer
    (nothing listens on its loopback port), doctor and a settings error never show it."""
    key = "sk-cw-" + secrets.token_hex(16)
    port = free_port()  # closed: nothing listens there
    record = tmp_path / "net.txt"
    remote = {"CITEWISE_LLM__API_KEY": key, "CITEWISE_LLM__REMOTE_URL": f"http://127.0.0.1:{port}/v1",
              "CITEWISE_LLM__REMOTE_MODEL": "remote-model"}

    def run(*args, env=remote):
        return guarded_cli("--verbose", *args, data_dir=data_dir, record=record, allow_ports={port}, env=env)

    indexed = run("index", str(folder))
    doctor = run("doctor", "--json")
    remote_ask = run("--engine", "remote", "ask", QUESTION)
    bad = run("ask", QUESTION, env={**remote, "CITEWISE_LLM__TEMPERATURE": "9"})
    assert indexed.returncode == 0, indexed.stderr
    assert f"127.0.0.1:{port}" in doctor.stdout  # the remote engine's settings were read
    assert remote_ask.returncode == 1 and "\ncitewise: " in "\n" + remote_ask.stderr  # failed, and said so
    assert bad.returncode == 2 and "temperature" in bad.stderr
    for proc in (indexed, doctor, remote_ask, bad):
        assert key not in proc.stdout and key not in proc.stderr
    assert files_holding(tmp_path, key) == []  # data dir, settings, caches, logs
    assert recorded(record) == []  # and the only place it could go is the configured loopback port


@pytest.mark.slow
def test_a_model_download_connects_to_the_configured_hub_and_nowhere_else(tmp_path):
    """`citewise models download` is the one outbound connection Citewise makes, and only to the
    hub configured (models.endpoint): the download's child process is guarded too, and every
    connection it made went to that server."""
    from app.models import catalog
    from app.engines.llamacpp import bundled_gguf
    from tests.hubserver import HubServer

    entry = catalog.get("qwen2.5-0.5b")
    record = tmp_path / "net.txt"
    with HubServer({entry.repo: {entry.files[0]: bundled_gguf()}}) as srv:
        r = guarded_cli("models", "download", entry.id, data_dir=tmp_path / "data", record=record,
                        allow_ports={srv.port}, env={"CITEWISE_MODELS__ENDPOINT": srv.url})
    assert r.returncode == 0, r.stderr
    assert recorded(record) == []
    allowed = recorded(Path(f"{record}.allowed"))
    assert allowed and set(allowed) == {f"127.0.0.1:{srv.port}"}
    assert any(line.startswith("GET /Qwen/") for line in srv.requests)
