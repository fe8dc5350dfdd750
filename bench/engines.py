"""Answer engines on the same 20 RAG prompts: time to first token, decode tokens/s, end-to-end.

    .venv/bin/python bench/engines.py [--prompts 20] [--engines vllm-cpu,remote,llamacpp]

The prompts: 20 answerable SQuAD 2.0 dev questions (../shared/data) over two of its articles,
indexed into a temporary Citewise library; each question's passages come from Citewise's own
retriever, packer and prompt builder, so every engine gets exactly the same messages.

Engines, one after the other (2 cores: never two at once), each warmed up with one prompt first:
- vllm-cpu   Citewise's vLLM child engine (vllm-cpu, the bundled model converted for it);
- remote     the OpenAI-compatible client against a vLLM server started as a user would start one
             on another machine (here on 127.0.0.1): the remote path;
- llamacpp   llama.cpp in process, the same SmolLM2-135M as a Q4_1 GGUF: the peer.
The settings are the app's (max 256 new tokens, temperature 0.1, seed 0). Output tokens are
counted with the one SmolLM2 tokenizer for all engines. Prints a table (ratio = how many times
faster than llama.cpp) and writes bench/results/engines-<date>.json with machine and versions.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from indexing.offline import offline_env  # noqa: E402  (the app's own: no hub, no telemetry)

offline_env()

SQUAD = ROOT.parent / "shared" / "data" / "squad2-dev" / "dev-v2.0.json"
ARTICLES = ("1973_oil_crisis", "Packet_switching")
PEER = "llamacpp"


def build_prompts(n: int, workdir: Path, settings):
    """(question, messages) pairs through Citewise's retriever, packer and prompt builder."""
    from app.services import build_services
    from retrieval.prompts import build_messages, pack

    data = json.loads(SQUAD.read_text(encoding="utf-8"))["data"]
    docs = workdir / "docs"
    docs.mkdir()
    questions = []
    for article in (a for a in data if a["title"] in ARTICLES):
        (docs / f"{article['title']}.txt").write_text(
            "\n\n".join(p["context"] for p in article["paragraphs"]), encoding="utf-8")
        qs = [q["question"] for p in article["paragraphs"] for q in p["qas"] if not q["is_impossible"]]
        step = max(1, len(qs) // (n // len(ARTICLES) + 1))
        questions += qs[::step][: n // len(ARTICLES) + (n % len(ARTICLES))]
    questions = questions[:n]
    services = build_services(settings)
    library = services.library()
    for _ in library.add([str(docs)]):
        pass
    from app.engines.llamacpp import LlamaCppEngine

    counter = LlamaCppEngine("bundled")  # the packer's token counts, the same for every engine
    budget = settings.llm.vllm_max_model_len - settings.llm.max_tokens - 400
    prompts = []
    for q in questions:
        passages = library.retriever.search(q, k=settings.retrieval.top_k)
        prompts.append((q, build_messages(q, pack(passages, budget, counter.count_tokens))))
    services.close()
    return prompts, counter


def run_engine(engine, prompts, llm, counter) -> dict:
    """One warm-up prompt, then each prompt once: TTFT, decode tokens/s, end-to-end seconds."""
    t0 = time.perf_counter()
    if hasattr(engine, "load"):
        engine.load()
    ready_s = getattr(engine, "server_start_s", 0.0) + time.perf_counter() - t0
    warm_up = [{"role": "user", "content": "Say hello."}]  # not one of the prompts: no cached prefix to gain
    list(engine.stream_chat(warm_up, max_tokens=16, temperature=llm.temperature, repetition_penalty=llm.repetition_penalty))
    rows = []
    for question, messages in prompts:
        start = time.perf_counter()
        first = None
        text = ""
        for delta in engine.stream_chat(messages, max_tokens=llm.max_tokens, temperature=llm.temperature,
                                        repetition_penalty=llm.repetition_penalty):
            if first is None:
                first = time.perf_counter()
            text += delta
        end = time.perf_counter()
        tokens = counter.count_tokens(text)
        decode = (tokens - 1) / (end - first) if first and tokens > 1 and end > first else None
        rows.append({
            "question": question, "prompt_tokens": counter.count_tokens(messages[-1]["content"]),
            "ttft_s": round(first - start, 4) if first else None, "output_tokens": tokens,
            "decode_tok_s": round(decode, 2) if decode else None, "e2e_s": round(end - start, 4),
            "answer": text[:300],
        })
    return {"ready_s": round(ready_s, 2), "prompts": rows, "summary": summarize(rows)}


def summarize(rows: list[dict]) -> dict:
    def med(key):
        values = [r[key] for r in rows if r[key] is not None]
        return round(statistics.median(values), 4) if values else None

    def mean(key):
        values = [r[key] for r in rows if r[key] is not None]
        return round(statistics.fmean(values), 4) if values else None

    return {"ttft_s_median": med("ttft_s"), "ttft_s_mean": mean("ttft_s"), "decode_tok_s_median": med("decode_tok_s"),
            "e2e_s_median": med("e2e_s"), "e2e_s_mean": mean("e2e_s"), "e2e_s_total": round(sum(r["e2e_s"] for r in rows), 2),
            "output_tokens_mean": mean("output_tokens"), "prompt_tokens_mean": mean("prompt_tokens")}


def start_remote_vllm(settings, workdir: Path):
    """A vLLM server started as a user would on another machine; Citewise only gets its URL."""
    from app.engines.process import ServerProcess, free_port
    from app.engines.select import vllm_python
    from app.engines.vllm_server import VllmOptions, VllmServerEngine

    template = VllmServerEngine(VllmOptions(python=vllm_python(settings), device="cpu", data_dir=settings.data_dir))
    port = free_port()
    server = ServerProcess(template.command(port), env=template.environment(), log_path=workdir / "remote-vllm.log",
                           name="remote vLLM")
    server.start()
    return server, f"http://127.0.0.1:{port}/v1", template.api_key, template.model


def make_engine(name: str, settings, workdir: Path, cleanup: list):
    from app.engines.select import create_engine

    from app.engines import hf_model

    for _ in hf_model.prepare_bundled(settings.data_dir):  # once, before any timing
        pass
    if name == "remote":
        import urllib.request

        from app.engines.openai_compat import OpenAICompatEngine

        t0 = time.perf_counter()
        server, url, key, model = start_remote_vllm(settings, workdir)
        cleanup.append(server.stop)
        deadline = time.monotonic() + 600
        while time.monotonic() < deadline:
            try:
                urllib.request.urlopen(url.removesuffix("/v1") + "/health", timeout=2)
                break
            except OSError:
                if not server.alive():
                    raise RuntimeError(f"the remote vLLM server exited: {server.log_tail()}")
                time.sleep(0.5)
        engine = OpenAICompatEngine(url, model, api_key=key, timeout_s=settings.llm.timeout_s, seed=settings.llm.seed)
        engine.server_start_s = round(time.perf_counter() - t0, 2)
        return engine
    engine_setting = "vllm" if name.startswith("vllm") else name
    return create_engine(settings.model_copy(update={"llm": settings.llm.model_copy(update={"engine": engine_setting})}))


def versions(settings) -> dict:
    import importlib.metadata as md

    from app.engines.select import _probe_env, vllm_python

    def v(name):
        try:
            return md.version(name)
        except md.PackageNotFoundError:
            return None

    commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    return {"citewise_commit": commit, "python": platform.python_version(), "torch": v("torch"),
            "llama-cpp-python": v("llama_cpp_python"), "transformers": v("transformers"), "openai": v("openai"),
            "vllm_env": _probe_env(str(vllm_python(settings)))}


def machine(load_at_start) -> dict:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), platform.processor())
    import psutil

    return {"cpu": cpu, "cores": os.cpu_count(), "ram_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "os": platform.platform(), "load_avg_at_start": load_at_start,
            "gpu": "none: this run had no GPU machine, so there are no GPU rows (nothing is estimated)"}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--prompts", type=int, default=20)
    ap.add_argument("--engines", default="vllm-cpu,remote,llamacpp")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args()
    if not SQUAD.is_file():
        print(f"bench: {SQUAD} is missing (../shared/data)", file=sys.stderr)
        return 2
    from app.settings import load_settings

    load_at_start = os.getloadavg()  # other work on the machine skews every number: recorded
    workdir = Path(tempfile.mkdtemp(prefix="citewise-bench-"))
    settings = load_settings(data_dir=workdir / "data", **{"embedding.device": "cpu"})
    prompts, counter = build_prompts(args.prompts, workdir, settings)
    print(f"{len(prompts)} prompts, {statistics.fmean(counter.count_tokens(m[-1]['content']) for _, m in prompts):.0f} "
          "prompt tokens on average", file=sys.stderr)
    results: dict = {}
    for name in [e.strip() for e in args.engines.split(",") if e.strip()]:
        cleanup: list = []
        engine = make_engine(name, settings, workdir, cleanup)
        print(f"bench: {name} ({engine.name}, {engine.model})…", file=sys.stderr)
        try:
            results[name] = {"engine": engine.name, "model": engine.model, **run_engine(engine, prompts, settings.llm, counter)}
        finally:
            engine.close()
            for stop in cleanup:
                stop()
    report(results, settings, args.out, load_at_start)
    return 0


def report(results: dict, settings, out_dir: Path, load_at_start) -> None:
    peer = results.get(PEER, {}).get("summary")
    header = f"{'engine':<10} {'TTFT med s':>10} {'×peer':>6} {'decode tok/s':>12} {'×peer':>6} {'e2e med s':>9} {'×peer':>6} {'out tok':>7} {'ready s':>7}"
    print(header)
    for name, r in results.items():
        s = r["summary"]

        def ratio(key, higher_is_better=False):
            if not peer or not s.get(key) or not peer.get(key):
                return "-"
            return f"{(s[key] / peer[key] if higher_is_better else peer[key] / s[key]):.2f}"

        print(f"{name:<10} {s['ttft_s_median']:>10.3f} {ratio('ttft_s_median'):>6} {s['decode_tok_s_median'] or 0:>12.1f} "
              f"{ratio('decode_tok_s_median', True):>6} {s['e2e_s_median']:>9.2f} {ratio('e2e_s_median'):>6} "
              f"{s['output_tokens_mean']:>7.0f} {r['ready_s']:>7.1f}")
    print("×peer: times faster than llama.cpp in process (the peer); ready: model load / server start")
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / f"engines-{time.strftime('%Y-%m-%d')}.json"
    llm = settings.llm
    payload = {
        "benchmark": "engines", "when": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "peer": PEER,
        "machine": {**machine(load_at_start), "load_avg_at_end": os.getloadavg()}, "versions": versions(settings),
        "settings": {"max_tokens": llm.max_tokens, "temperature": llm.temperature, "seed": llm.seed,
                     "repetition_penalty": llm.repetition_penalty, "top_k": settings.retrieval.top_k,
                     "vllm_max_model_len": llm.vllm_max_model_len, "vllm_kv_cache_gib": 1, "vllm_enforce_eager": True,
                     "data": f"SQuAD 2.0 dev, articles {', '.join(ARTICLES)}"},
        "ratio_meaning": "peer time / engine time (TTFT, e2e); engine tok/s / peer tok/s: above 1 = faster than llama.cpp",
        "results": results,
    }
    path.write_text(json.dumps(payload, indent=2, ensure_ascii=False), encoding="utf-8")
    print(f"wrote {path}")


if __name__ == "__main__":
    sys.exit(main())
