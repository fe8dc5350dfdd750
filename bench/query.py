"""Retrieval latency at scale: libraries of 10k, 100k and 300k chunks, embedded Chroma and a
`chroma run` server, the whole retrieval path without the LLM.

    .venv/bin/python bench/query.py                       # build what is missing, then measure
    .venv/bin/python bench/query.py --sizes 10000,100000 --questions 200
    .venv/bin/python bench/query.py --build-only          # building may run beside other jobs

What is timed, per question (500: 250 SQuAD 2.0 dev + 250 COVID-QA questions, drawn with a fixed
seed): the app's own path from question to prompt-ready passages, in a process that opened the
library as the app does (Services → Library → `retriever`): embed the question (bundled MiniLM),
dense search (Chroma through llama-index's integration), lexical search (SQLite FTS5 BM25), the
vectors and chunks of lexical-only hits, reciprocal-rank fusion and dedupe (`Retriever.search`),
then abstention (`decide`) and context packing (`pack`). p50/p95/p99 over the questions, after
20 warm-up questions. A second pass with each part wrapped in a timer gives the breakdown (the
lexical side runs in a thread beside the embedding and the dense search, so parts overlap).
Also reported: index size on disk (Chroma folder; manifest + FTS5 database), resident memory of
the measuring process with the library open and the embedder loaded (and of the `chroma run`
server), the time to open the library, and the desktop app's time from process start to its
window shown over the library (`citewise gui --smoke`, offscreen; models load later, in the
background). Each measurement runs in a fresh child process.

How the libraries are made (no model can be downloaded, and the bundled embedder does ~20
chunks/s on this CPU, so embedding 100k chunks would take hours): every document of
../shared/data is chunked by the app's own parse workers and chunker (the PDFs and docs-mixed
files, without OCR, so image-only scans give nothing; the 98 COVID-QA papers and the 16 SQuAD
articles written as text files); files are taken in a fixed shuffled order until `--unique`
chunks (4,000), and those are embedded once (cached in the work dir). A library of N chunks is
copy 0 (the real chunks and vectors), then copies 1, 2, … of every file under another folder
name, until N: in a copy each word is replaced with probability 0.15 by a word drawn from the
corpus's own word frequencies (so the FTS5 posting lists grow as a real library's would), and
each vector is the original plus gaussian noise (σ = 0.02 per dimension, cosine ≈ 0.93 to the
original), renormalised. Chunks, manifest rows and FTS5 rows are written through the app's
ChunkStore and Manifest, as a commit of the indexer writes them. The same Chroma folder is then
served by `chroma run` for the server runs.

Timing waits until no other benchmark (bench/retrieval.py, bench/engines.py) is running and
records the load average. JSON goes to bench/results/query-<date>.json. Absolute times are CPU
times on this machine (2 shared cores); the 10k → 100k growth is reported as a ratio.
"""

from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import os
import pickle
import random
import re
import shutil
import socket
import sqlite3
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
DATA = ROOT.parent / "shared" / "data"
LIBRARY = "bench"
VIRTUAL = "/bench-corpus"  # where the copies "live": paths only, never read
OTHER_BENCHES = "bench/retrieval.py|bench/engines.py"


def _bench_module(name: str):
    spec = importlib.util.spec_from_file_location(f"bench_{name}", ROOT / "bench" / f"{name}.py")
    module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# -- the unique chunks ---------------------------------------------------------------------------


def collect_chunks(work: Path) -> list:
    """Every document of ../shared/data chunked by the app (cached): a list of (rel path, chunks)."""
    cache = work / "chunks.pkl"
    if cache.exists():
        return pickle.loads(cache.read_bytes())
    import dataclasses

    from app.libraries import index_options
    from app.settings import load_settings
    from indexing.chunking import ChunkingConfig
    from indexing.discover import discover, file_hash
    from indexing.embedder import bundled_embedding_dir
    from indexing.models import DocumentError
    from indexing.parse_pool import ParsePool

    qa = _bench_module("retrieval")
    text_dir = work / "qa-docs"
    for name, (docs, *_rest) in (("covid-qa", qa.load_covid()), ("squad2-dev", qa.load_squad())):
        qa.write_docs(docs, text_dir / name)
    files, _skipped = discover([DATA / "pdfs", DATA / "docs-mixed", text_dir])
    settings = load_settings(data_dir=work / "unused")
    i = settings.indexing
    limits = dataclasses.replace(index_options(settings).parse, workers=2, ocr=False)  # scans: no text here
    out, t0 = [], time.perf_counter()
    with ParsePool(bundled_embedding_dir(), ChunkingConfig(max_tokens=i.chunk_tokens, overlap_tokens=i.overlap_tokens), limits) as pool:
        futures = [(f, pool.submit(str(f), file_hash(f))) for f in files]
        for f, fut in futures:
            try:
                parsed = pool.result(fut)
            except DocumentError:
                continue
            rel = str(f.relative_to(text_dir if f.is_relative_to(text_dir) else DATA))
            if parsed.chunks:
                out.append((rel, parsed.chunks))
    print(f"chunked {len(out)} of {len(files)} files into {sum(len(c) for _, c in out)} chunks "
          f"in {time.perf_counter() - t0:.0f} s", flush=True)
    cache.write_bytes(pickle.dumps(out))
    return out


def unique_set(work: Path, unique: int):
    """(files with their chunks, vectors) of the first `unique` chunks, files in a fixed shuffle."""
    import numpy as np

    from indexing.embedder import Embedder

    files = collect_chunks(work)
    total = sum(len(c) for _, c in files)
    random.Random(0).shuffle(files)
    chosen, n = [], 0
    for rel, chunks in files:
        if n >= unique:
            break
        chunks = chunks[: unique - n]
        chosen.append((rel, chunks))
        n += len(chunks)
    cache = work / f"vectors-{n}.npy"
    if cache.exists():
        vectors = np.load(cache)
    else:
        embedder = Embedder("bundled", "cpu")
        t0 = time.perf_counter()
        vectors = embedder.embed([c.embed_text for _, chunks in chosen for c in chunks])
        print(f"embedded {n} chunks in {time.perf_counter() - t0:.0f} s ({embedder.info().dtype})", flush=True)
        np.save(cache, vectors)
    return chosen, vectors, {"chunks_in_corpus": total, "files_in_corpus": len(files), "unique_chunks": n,
                             "unique_files": len(chosen)}


# -- a library of N chunks -----------------------------------------------------------------------


def _varied(text: str, rng: random.Random, vocab: list[str]) -> str:
    parts = re.split(r"(\W+)", text)
    return "".join(rng.choice(vocab) if p.isalpha() and rng.random() < 0.15 else p for p in parts)


def build(work: Path, size: int, chosen, vectors, batch: int = 5000) -> Path:
    import dataclasses

    import numpy as np

    from app.services import build_services
    from app.settings import load_settings
    from indexing.manifest import FileRecord

    data_dir = work / f"lib-{size}"
    if (data_dir / "complete").exists():
        return data_dir
    shutil.rmtree(data_dir, ignore_errors=True)
    services = build_services(load_settings(data_dir=data_dir, library=LIBRARY))
    library = services.library()
    store, manifest = library.store, library.manifest
    vocab = [w for _, chunks in chosen for c in chunks for w in re.findall(r"[^\W\d_]{3,}", c.text)]
    offsets = np.cumsum([0] + [len(c) for _, c in chosen])
    written, copy, t0 = 0, 0, time.perf_counter()
    pending: list = []  # (FileRecord, chunks, vectors)

    def flush():
        chunks = [c for _, cs, _ in pending for c in cs]
        store.add(chunks, np.concatenate([v for _, _, v in pending]))
        with manifest.transaction() as db:
            for record, cs, _ in pending:
                manifest.put(record, db)
                manifest.lexical.add([(c.id, c.path, c.search_text) for c in cs], db)
        pending.clear()

    while written < size:
        rng, noise = random.Random(copy), np.random.default_rng(copy)
        for k, (rel, chunks) in enumerate(chosen):
            chunks = chunks[: size - written]
            if not chunks:
                break
            path = f"{VIRTUAL}/copy-{copy:03d}/{rel}"
            digest = hashlib.blake2b(f"{chunks[0].content_hash}:{copy}".encode(), digest_size=16).hexdigest()
            made = [dataclasses.replace(c, id=f"{c.id}~{copy}", path=path, content_hash=digest,
                                        text=c.text if copy == 0 else _varied(c.text, rng, vocab)) for c in chunks]
            vecs = vectors[offsets[k] : offsets[k] + len(chunks)]
            if copy:
                vecs = vecs + noise.normal(0, 0.02, vecs.shape).astype(np.float32)
                vecs /= np.linalg.norm(vecs, axis=1, keepdims=True)
            record = FileRecord(path=path, content_hash=digest, size=sum(len(c.text) for c in made), mtime_ns=0,
                                status="indexed", kind=Path(rel).suffix.lstrip(".") or "text", pages=max(c.unit for c in made),
                                chunks=len(made), chars=sum(len(c.text) for c in made), chunk_ids=[c.id for c in made])
            pending.append((record, made, vecs))
            written += len(made)
            if sum(len(cs) for _, cs, _ in pending) >= batch:
                flush()
                print(f"  lib-{size}: {written} chunks, {written / (time.perf_counter() - t0):.0f}/s", end="\r", flush=True)
        copy += 1
    if pending:
        flush()
    assert store.count() == size, (store.count(), size)
    services.close()
    (data_dir / "complete").write_text(json.dumps({"chunks": size, "copies": copy, "build_s": round(time.perf_counter() - t0, 1)}))
    print(f"  lib-{size}: {size} chunks in {time.perf_counter() - t0:.0f} s ({copy} copies)          ", flush=True)
    return data_dir


def du(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


# -- measuring (in a child process) --------------------------------------------------------------


def questions(n: int) -> list[str]:
    qa = _bench_module("retrieval")
    _, covid = qa.load_covid()
    _, squad, _ = qa.load_squad()
    rng = random.Random(0)
    half = n // 2
    return [q["q"] for q in rng.sample(squad, n - half) + rng.sample(covid, half)]


class _Timed:
    """Passes everything through to `inner`; the named methods add their time to `spent`."""

    def __init__(self, inner, names: dict[str, str], spent: dict[str, float]):
        self._inner, self._names, self._spent = inner, names, spent

    def __getattr__(self, name):
        attr = getattr(self._inner, name)
        return _timed(attr, self._names[name], self._spent) if name in self._names else attr


def _timed(fn, part: str, spent: dict[str, float]):
    def timed(*a, **kw):
        t = time.perf_counter()
        try:
            return fn(*a, **kw)
        finally:
            spent[part] = spent.get(part, 0.0) + time.perf_counter() - t

    return timed


def _pct(values: list[float], q: float) -> float:
    return round(statistics.quantiles(values, n=100, method="inclusive")[q - 1], 2)


def measure_child(args) -> None:
    import psutil

    from app.services import build_services
    from app.settings import load_settings
    from retrieval.abstain import decide
    from retrieval.prompts import pack

    qs = questions(args.questions)
    t0 = time.perf_counter()
    settings = load_settings(data_dir=Path(args.data_dir), library=LIBRARY, **{"store.chroma_url": args.url})
    services = build_services(settings)
    services.embedder.embed_query("warm up")
    services.embedder.prepare_query_encoder()  # as the app's warm-up does (made once, cached in the data dir)
    t_model = time.perf_counter()
    retriever = services.library().retriever
    t_open = time.perf_counter()
    r = settings.retrieval
    budget = settings.llm.context_tokens - settings.llm.max_tokens - 400

    def one(q: str) -> None:
        passages = retriever.search(q, k=r.top_k)
        decide(q, passages, r.strictness)
        pack(passages, budget)

    for q in qs[:20]:
        one(q)
    ms = []
    for q in qs:
        t = time.perf_counter()
        one(q)
        ms.append((time.perf_counter() - t) * 1000)
    # the breakdown: the same questions again with each part timed; the lexical side (FTS5, then
    # the chunks and vectors of its hits) runs in a thread beside embedding + dense search
    spent: dict[str, float] = {}
    retriever.embedder = _Timed(retriever.embedder, {"embed_query": "embed question"}, spent)
    retriever.store = _Timed(retriever.store, {"query": "dense (Chroma)",
                                                "get_with_vectors": "lexical hits: chunks, vectors (beside)"}, spent)
    retriever.lexical = _timed(retriever.lexical, "lexical FTS5 (beside)", spent)
    total = 0.0
    for q in qs:
        t = time.perf_counter()
        passages = retriever.search(q, k=r.top_k)
        t1 = time.perf_counter()
        decide(q, passages, r.strictness)
        pack(passages, budget)
        spent["abstain + pack"] = spent.get("abstain + pack", 0.0) + time.perf_counter() - t1
        total += time.perf_counter() - t
    spent["whole path (wall)"] = total
    breakdown = {k: round(v / len(qs) * 1000, 2) for k, v in spent.items()}
    raw = []
    collection = services.library().store.collection
    for v in [services.embedder.embed_query(q) for q in qs[:100]]:  # Chroma alone: the floor of the dense part
        t = time.perf_counter()
        collection.query(query_embeddings=[v], n_results=r.candidates, include=["documents", "metadatas", "distances"])
        raw.append((time.perf_counter() - t) * 1000)
    result = {
        "p50_ms": _pct(ms, 50), "p95_ms": _pct(ms, 95), "p99_ms": _pct(ms, 99), "mean_ms": round(statistics.fmean(ms), 2),
        "breakdown_mean_ms": breakdown, "chroma_query_alone_p50_ms": _pct(raw, 50),
        "rss_mb": round(psutil.Process().memory_info().rss / 2**20), "model_load_s": round(t_model - t0, 2),
        "open_library_s": round(t_open - t_model, 2), "questions": len(qs),
        "question_encoder": services.embedder.query_backend,
    }
    services.close()
    Path(args.out).write_text(json.dumps(result))


# -- the run -------------------------------------------------------------------------------------


def wait_for_quiet() -> None:
    while subprocess.run(["pgrep", "-f", OTHER_BENCHES], capture_output=True).returncode == 0:
        print("waiting for another benchmark to finish…", flush=True)
        time.sleep(30)


def start_server(chroma_dir: Path):
    import urllib.request

    import psutil

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    exe = Path(sys.executable).with_name("chroma")
    proc = subprocess.Popen([str(exe), "run", "--path", str(chroma_dir), "--host", "127.0.0.1", "--port", str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.STDOUT, env={**os.environ, "ANONYMIZED_TELEMETRY": "False"})
    url = f"http://127.0.0.1:{port}"
    for _ in range(600):
        try:
            with urllib.request.urlopen(f"{url}/api/v2/heartbeat", timeout=1):
                return proc, url, psutil.Process(proc.pid)
        except OSError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("chroma run did not start")


def measure(data_dir: Path, mode: str, n: int, wait: bool = True) -> dict:
    from indexing.store import library_slug as slug

    if wait:
        wait_for_quiet()
    load_before = os.getloadavg()
    server = url = link = None
    if mode == "server":
        server, url, ps = start_server(data_dir / "chroma")
        port = url.rsplit(":", 1)[1]
        link = data_dir / "servers" / slug(f"127.0.0.1_{port}")  # the manifests the app looks for
        link.parent.mkdir(exist_ok=True)
        link.symlink_to(data_dir / "libraries")
    out = Path(tempfile.mktemp(suffix=".json"))
    try:
        cmd = [sys.executable, __file__, "--child", "--data-dir", str(data_dir), "--out", str(out), "--questions", str(n)]
        subprocess.run(cmd + (["--url", url] if url else []), check=True)
        result = json.loads(out.read_text())
        if server is not None:
            result["server_rss_mb"] = round(sum(p.memory_info().rss for p in [ps, *ps.children(recursive=True)]) / 2**20)
    finally:
        out.unlink(missing_ok=True)
        if server is not None:
            server.terminate()
            server.wait(30)
            link.unlink()
    result["loadavg_before"] = [round(x, 2) for x in load_before]
    result["loadavg_after"] = [round(x, 2) for x in os.getloadavg()]
    return result


def query_embedding_threads(n: int, cache_dir: Path) -> dict:
    """The question embedding alone: torch (the library's precision) on 2 threads (its default
    here) and on 1, and the fp32 ONNX Runtime copy on 1 thread (what Embedder.embed_query uses
    once the app's warm-up made it), alternating question by question so all see the same load."""
    from indexing.embedder import Embedder, torch_threads

    embedder = Embedder("bundled", "cpu", cache_dir=cache_dir)
    embedder.embed(["warm up"])
    onnx = Embedder("bundled", "cpu", cache_dir=cache_dir)
    onnx.prepare_query_encoder()
    runs = {"torch_2_threads": (embedder.embed, 2), "torch_1_thread": (embedder.embed, 1),
            "onnxruntime_fp32_1_thread": (lambda qs: onnx.embed_query(qs[0]), None)}
    times: dict[str, list[float]] = {k: [] for k in runs}
    for q in questions(n):
        for name, (fn, threads) in runs.items():
            with torch_threads(threads):
                t = time.perf_counter()
                fn([q])
                times[name].append((time.perf_counter() - t) * 1000)
    return {k: {"p50_ms": _pct(v, 50), "p95_ms": _pct(v, 95)} for k, v in times.items()}


def gui_open_s(data_dir: Path, runs: int = 3) -> list[float]:
    """`citewise gui --smoke` on the library (offscreen): seconds from process start to the window shown."""
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    exe = Path(sys.executable).with_name("citewise")
    times = []
    for _ in range(runs):
        out = subprocess.run([str(exe), "--data-dir", str(data_dir), "--library", LIBRARY, "gui", "--smoke"],
                             capture_output=True, text=True, env=env, timeout=300).stdout
        times.append(float(re.search(r"window shown ([\d.]+) s", out).group(1)))
    return times


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sizes", default="10000,100000,300000")
    ap.add_argument("--unique", type=int, default=4000, help="chunks embedded for real")
    ap.add_argument("--questions", type=int, default=500)
    ap.add_argument("--modes", default="embedded,server")
    ap.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "citewise-bench-query")
    ap.add_argument("--build-only", action="store_true")
    ap.add_argument("--no-wait", action="store_true", help="time even while another benchmark runs (a try-out)")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--data-dir", help=argparse.SUPPRESS)
    ap.add_argument("--url", help=argparse.SUPPRESS)
    ap.add_argument("--out", help=argparse.SUPPRESS)
    args = ap.parse_args()
    os.environ["CITEWISE_CONFIG"] = str(args.work / "none.toml")  # never the user's settings
    if args.child:
        measure_child(args)
        return 0
    args.work.mkdir(parents=True, exist_ok=True)
    sizes = [int(s) for s in args.sizes.split(",")]
    chosen, vectors, corpus = unique_set(args.work, args.unique)
    libs = {}
    for size in sizes:
        libs[size] = build(args.work, size, chosen, vectors)
    if args.build_only:
        return 0
    machine = _bench_module("indexing")
    results = {"machine": machine.machine(), "versions": machine.versions(), "corpus": corpus,
               "settings": {"noise_sigma": 0.02, "word_replacement": 0.15, "questions": args.questions,
                            "top_k": 5, "candidates": 30, "waited_for_other_benchmarks": not args.no_wait},
               "libraries": {}}
    if not args.no_wait:
        wait_for_quiet()
    load = os.getloadavg()
    results["query_embedding"] = {**query_embedding_threads(args.questions, args.work / "models"), "loadavg_before": [round(x, 2) for x in load]}
    print(f"question embedding: {results['query_embedding']}", flush=True)
    for size, data_dir in libs.items():
        entry = {"chunks": size, "build": json.loads((data_dir / "complete").read_text()),
                 "disk_mb": {"chroma": round(du(data_dir / "chroma") / 2**20, 1),
                             "manifest_fts5": round(du(data_dir / "libraries") / 2**20, 1)}}
        if not args.no_wait:
            wait_for_quiet()
        entry["gui_open_s"] = gui_open_s(data_dir)
        print(f"{size:>7} gui      window shown in {entry['gui_open_s']} s", flush=True)
        with sqlite3.connect(data_dir / "libraries" / LIBRARY / "manifest.sqlite") as db:
            entry["files"] = db.execute("SELECT COUNT(*) FROM files").fetchone()[0]
        for mode in args.modes.split(","):
            entry[mode] = measure(data_dir, mode, args.questions, wait=not args.no_wait)
            m = entry[mode]
            print(f"{size:>7} {mode:8s} p50 {m['p50_ms']:7.1f}  p95 {m['p95_ms']:7.1f}  p99 {m['p99_ms']:7.1f} ms  "
                  f"rss {m['rss_mb']} MB  load {m['loadavg_before'][0]}", flush=True)
        results["libraries"][str(size)] = entry
    print_table(results)
    out = ROOT / "bench" / "results" / f"query-{time.strftime('%Y-%m-%d')}.json"
    out.write_text(json.dumps(results, indent=2))
    print(f"\nwrote {out}")
    return 0


def print_table(results: dict) -> None:
    libs = results["libraries"]
    print(f"\n{'chunks':>8} {'store':9} {'p50':>7} {'p95':>7} {'p99':>7} {'disk MB':>8} {'RSS MB':>7} {'load':>5}")
    for size, e in libs.items():
        for mode in ("embedded", "server"):
            if mode in e:
                m = e[mode]
                disk = e["disk_mb"]["chroma"] + e["disk_mb"]["manifest_fts5"]
                rss = f"{m['rss_mb']}" + (f"+{m['server_rss_mb']}" if "server_rss_mb" in m else "")
                print(f"{size:>8} {mode:9} {m['p50_ms']:7.1f} {m['p95_ms']:7.1f} {m['p99_ms']:7.1f} {disk:8.0f} {rss:>7} {m['loadavg_before'][0]:5.2f}")
    for mode in ("embedded", "server"):
        a, b = libs.get("10000", {}).get(mode), libs.get("100000", {}).get(mode)
        if a and b:
            print(f"10k → 100k, {mode}: p50 × {b['p50_ms'] / a['p50_ms']:.2f}, p95 × {b['p95_ms'] / a['p95_ms']:.2f}")
    for size, e in libs.items():
        if "gui_open_s" in e:
            print(f"{size} chunks ({e['files']} files): desktop window shown in {statistics.median(e['gui_open_s']):.2f} s "
                  f"(median of {len(e['gui_open_s'])}, from process start)")
    for size, e in libs.items():
        for mode in ("embedded", "server"):
            if mode in e:
                parts = ", ".join(f"{k} {v}" for k, v in e[mode]["breakdown_mean_ms"].items())
                print(f"{size} {mode} mean ms: {parts}")


if __name__ == "__main__":
    sys.exit(main())
