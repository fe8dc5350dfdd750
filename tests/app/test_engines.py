"""The remote engine against a real OpenAI-compatible server on loopback (llama-cpp-python's, a
separate process), its errors as a user reads them, which engine `auto` picks and why, and the
bundled model's conversion for vLLM surviving a kill."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.chat import Done, Status, Token
from app.engines.base import EngineError
from app.engines.openai_compat import OpenAICompatEngine, normalize_base_url
from app.settings import load_settings
from tests.conftest import free_port, run_cli

QUESTION = [{"role": "user", "content": "What is the capital of France? Answer in one short sentence."}]


@pytest.mark.server
def test_remote_engine_streams_from_a_real_server(llama_server):
    engine = OpenAICompatEngine(llama_server.url, api_key=llama_server.key, timeout_s=60)
    list(engine.load_steps())
    assert engine.model == "smollm2"  # the server's model, asked of it
    chunks = list(engine.stream_chat(QUESTION, max_tokens=24, temperature=0.0))
    assert len(chunks) > 3, chunks  # streamed as it is generated, not in one piece
    assert "Paris" in "".join(chunks)
    assert engine.count_tokens("one two three four") >= 4  # no /tokenize there: a safe overestimate
    engine.close()


@pytest.mark.server
@pytest.mark.slow
def test_rag_answer_with_citations_through_a_remote_server(llama_server, data_dir, embedder, tmp_path, monkeypatch):
    """Settings → engine → Chat.ask, with the server a user would point Citewise at."""
    from app.services import build_services
    from tests.conftest import add_fact_docs

    monkeypatch.setenv("CITEWISE_LLM__API_KEY", llama_server.key)
    settings = load_settings(data_dir=data_dir, **{"llm.engine": "remote", "llm.remote_url": llama_server.url,
                                                   "embedding.device": "cpu", "retrieval.answer_mode": "generate"})
    services = build_services(settings, embedder=embedder)
    try:
        add_fact_docs(services.library(), tmp_path / "docs")
        events = list(services.chat().ask("How much does the museum night tour cost?"))
    finally:
        services.close()
    assert any(isinstance(e, Status) and e.text.startswith("connecting to http://127.0.0.1") for e in events)
    answer = events[-1].answer
    assert isinstance(events[-1], Done) and sum(isinstance(e, Token) for e in events) > 3
    assert not answer.refused and answer.engine == "remote" and answer.model == "smollm2"
    top = answer.citations[0].to_dict()
    assert top["file_name"] == "facts.pdf" and top["page"] == 2


@pytest.mark.server
def test_a_wrong_api_key_is_named_but_never_shown(llama_server):
    engine = OpenAICompatEngine(llama_server.url, api_key="wrong-secret-4711", timeout_s=30)
    with pytest.raises(EngineError) as caught:
        engine.load()
    message = str(caught.value)
    assert llama_server.url in message and "API key" in message and "CITEWISE_LLM__API_KEY" in message
    assert "wrong-secret-4711" not in message


@pytest.mark.server
def test_a_model_the_server_does_not_have_is_named_with_the_ones_it_has(llama_server):
    engine = OpenAICompatEngine(llama_server.url, "gpt-9", api_key=llama_server.key)
    with pytest.raises(EngineError, match=r"does not serve the model 'gpt-9'; it serves: smollm2"):
        engine.load()


def test_an_unreachable_url_is_a_clear_error_at_once():
    url = f"http://127.0.0.1:{free_port()}/v1"  # nothing listens there
    engine = OpenAICompatEngine(url, timeout_s=30)
    t0 = time.monotonic()
    with pytest.raises(EngineError) as caught:
        list(engine.stream_chat(QUESTION))
    assert time.monotonic() - t0 < 5  # no retries with backoff
    assert f"cannot reach the answer server at {url}" in str(caught.value) and "llm.remote_url" in str(caught.value)


def test_a_server_that_never_answers_times_out_with_a_clear_error():
    with socket.socket() as silent:  # accepts connections (the kernel's backlog) and never replies
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        url = f"http://127.0.0.1:{silent.getsockname()[1]}/v1"
        engine = OpenAICompatEngine(url, "m", timeout_s=1.5)
        t0 = time.monotonic()
        with pytest.raises(EngineError, match=r"did not answer within 1.5 s.*llm.timeout_s"):
            list(engine.stream_chat(QUESTION))
        assert time.monotonic() - t0 < 10


@pytest.mark.slow
def test_cli_ask_with_the_remote_server_down_names_the_url(data_dir, tmp_path):
    (tmp_path / "note.md").write_text("# Boat\n\nLife jackets are stored under the rear bench.\n", encoding="utf-8")
    run_cli("index", str(tmp_path / "note.md"), data_dir=data_dir, check_exit=0)
    url = f"http://127.0.0.1:{free_port()}/v1"
    env = {"CITEWISE_LLM__ENGINE": "remote", "CITEWISE_LLM__REMOTE_URL": url, "CITEWISE_LLM__API_KEY": "sk-never-shown",
           "CITEWISE_RETRIEVAL__ANSWER_MODE": "generate"}
    proc = run_cli("ask", "Where are the life jackets stored?", data_dir=data_dir, env=env)
    assert proc.returncode == 1
    assert f"cannot reach the answer server at {url}" in proc.stderr and "Traceback" not in proc.stderr
    assert "sk-never-shown" not in proc.stderr + proc.stdout


def test_base_urls_are_normalised():
    assert normalize_base_url("gpu-box:8000") == "http://gpu-box:8000/v1"
    assert normalize_base_url("http://gpu-box:8000/") == "http://gpu-box:8000/v1"
    assert normalize_base_url("https://llm.example.org/v1/") == "https://llm.example.org/v1"


# -- choosing -----------------------------------------------------------------------------------


def test_auto_falls_back_to_llamacpp_without_a_vllm_environment(tmp_path):
    from app.engines.select import choose, create_engine

    settings = load_settings(data_dir=tmp_path, **{"llm.engine": "auto", "llm.vllm_python": str(tmp_path / "none" / "python")})
    name, why = choose(settings)
    assert name == "llamacpp" and "no vLLM environment at" in why and "llama-cpp-python" in why
    assert create_engine(settings).name == "llama.cpp"


def test_auto_picks_vllm_on_the_cpu_when_its_environment_is_there(tmp_path):
    from app.engines.select import choose, vllm_cpu_status

    settings = load_settings(data_dir=tmp_path, **{"llm.engine": "auto"})
    if not vllm_cpu_status(settings).available:
        pytest.skip("no vllm-cpu environment here")
    name, why = choose(settings)
    assert name == "vllm-cpu" and "vllm-cpu 0.32" in why and ".venv-vllm" in why


def test_vllm_asked_for_but_missing_says_how_to_install_it(tmp_path):
    from app.engines.select import choose

    settings = load_settings(data_dir=tmp_path, **{"llm.engine": "vllm", "llm.vllm_python": str(tmp_path / "python")})
    with pytest.raises(EngineError, match=r"vLLM is not available.*make setup"):
        choose(settings)


def test_remote_without_a_url_says_which_setting_is_missing(tmp_path):
    from app.engines.select import choose

    with pytest.raises(EngineError, match=r"llm.remote_url"):
        choose(load_settings(data_dir=tmp_path, **{"llm.engine": "remote"}))


def test_vllm_refuses_a_gguf_file_and_names_llamacpp(tmp_path):
    from app.engines.vllm_server import resolve_model

    with pytest.raises(EngineError, match=r"GGUF file: use it with llama.cpp"):
        resolve_model(str(tmp_path / "model.gguf"), tmp_path)
    with pytest.raises(EngineError, match=r"no config.json"):
        resolve_model(str(tmp_path), tmp_path)


def test_doctor_names_each_engine_the_choice_and_a_fix(data_dir, tmp_path):
    env = {"CITEWISE_LLM__ENGINE": "vllm", "CITEWISE_LLM__VLLM_PYTHON": str(tmp_path / "nowhere" / "python")}
    proc = run_cli("doctor", "--json", data_dir=data_dir, env=env)
    checks = {c["name"]: c for c in json.loads(proc.stdout)}
    assert proc.returncode == 1
    assert {"engine vllm-cuda", "engine vllm-cpu", "engine llamacpp", "engine remote"} <= set(checks)
    assert "llama-cpp-python 0.3" in checks["engine llamacpp"]["detail"]
    assert "device: cpu" in checks["torch"]["detail"]
    bad = checks["answer engine"]
    assert not bad["ok"] and "vLLM is not available" in bad["detail"] and "make setup" in bad["fix"]


def test_doctor_with_auto_says_which_engine_and_why(data_dir):
    from app.engines.select import choose

    expected, _ = choose(load_settings(data_dir=data_dir, **{"llm.engine": "auto"}))
    proc = run_cli("doctor", "--json", data_dir=data_dir, env={"CITEWISE_LLM__ENGINE": "auto"}, check_exit=0)
    checks = {c["name"]: c for c in json.loads(proc.stdout)}
    assert checks["answer engine"]["detail"].startswith(f"{expected}: auto")
    assert "SmolLM2-135M-Instruct" in checks["answer model"]["detail"]


# -- the bundled model for vLLM ------------------------------------------------------------------


@pytest.mark.slow
def test_a_conversion_killed_midway_leaves_no_half_model(tmp_path):
    """A kill at any moment leaves the whole model or none; the next run cleans up after it."""
    from app.engines import hf_model

    target = hf_model.bundled_dir(tmp_path)
    proc = subprocess.Popen([sys.executable, "-m", "app.engines.hf_model", "--out", str(target)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith("progress: loading"):
            break
    time.sleep(3)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not target.exists() and not hf_model.is_ready(target)
    leftovers = hf_model.clean_stale(target)
    assert all(p.name.startswith(".SmolLM2-135M-Instruct.") for p in leftovers)
    assert [p.name for p in Path(target.parent).iterdir() if not p.name.endswith(".lock")] == []


# -- child servers never outlive Citewise ----------------------------------------------------------

_SERVER_SCRIPT = r"""
import sys, time
from pathlib import Path
from app.engines.process import ServerProcess
tree = "import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(600)']); time.sleep(600)"
server = ServerProcess([sys.executable, "-c", tree], env={}, log_path=Path(sys.argv[1]), name="test server")
server.start()
time.sleep(1.5)
print(" ".join(str(p.pid) for p in server.processes()), server.watchdog_pid, flush=True)
if sys.argv[2] == "raise":
    raise RuntimeError("something went wrong in the app")  # and nobody calls server.stop()
time.sleep(600)
"""


@pytest.mark.parametrize("how", ["raise", "sigkill"])
def test_a_server_and_its_children_stop_when_the_app_dies(tmp_path, how):
    """An uncaught exception (atexit stops it) or SIGKILL (no Python runs: the watchdog stops it)."""
    from app.engines.process import wait_gone

    app = subprocess.Popen([sys.executable, "-c", _SERVER_SCRIPT, str(tmp_path / "server.log"), how],
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = app.stdout.readline().split()
    pids = [int(p) for p in line]
    assert len(pids) == 3, (line, app.stderr.read() if app.poll() is not None else "")  # server, its child, watchdog
    if how == "sigkill":
        app.send_signal(signal.SIGKILL)
    app.wait(60)
    assert wait_gone(pids, 25) == []
