"""Embedding batch size on this machine: Citewise's embedder paths and the peer's, same chunks.

    .venv/bin/python bench/embed_batch.py                  # 300 chunks, batches 4..64
    .venv/bin/python bench/embed_batch.py --chunks 600 --batches 8,64

The chunks are Citewise's own (254 word-pieces, 32 overlap) of the first COVID-QA papers, so their
lengths are those an index embeds. Each path embeds all of them once per batch size (after a
warm-up call); reported: seconds, chunks/s and the time relative to batch 64. Paths: Citewise's
embedder in fp32, bf16 (torch; bf16 only where the CPU has native bf16) and int8 (ONNX Runtime),
and the peer: llama-index's HuggingFaceEmbedding over the same model (its `embed_batch_size`;
llama-index's default is 10). JSON goes to bench/results/embed-batch-<date>.json.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
from indexing.offline import offline_env  # noqa: E402  (the app's own: no hub, no telemetry)

offline_env()


def chunk_texts(n: int) -> list[str]:
    from indexing.chunking import Chunker
    from indexing.embedder import bundled_embedding_dir

    chunker = Chunker.from_model_dir(bundled_embedding_dir())
    data = json.loads((DATA / "covid-qa" / "200423_covidQA.json").read_text(encoding="utf-8"))
    texts: list[str] = []
    for article in data["data"]:
        text = "\n\n".join(p["context"] for p in article["paragraphs"])
        texts += [text[s:e] for s, e, _ in chunker.spans(text)]
        if len(texts) >= n:
            break
    return texts[:n]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--chunks", type=int, default=300)
    ap.add_argument("--batches", default="4,8,16,32,64")
    ap.add_argument("--paths", default="peer,fp32,bf16,int8")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = ap.parse_args()
    if not DATA.is_dir():
        print(f"bench: {DATA} is absent", file=sys.stderr)
        return 2
    from indexing.embedder import Embedder, bundled_embedding_dir, cpu_has_native_bf16

    texts = chunk_texts(args.chunks)
    batches = [int(b) for b in args.batches.split(",")]
    print(f"{len(texts)} chunks, {sum(len(t.split()) for t in texts):,} words", flush=True)
    work = Path(tempfile.mkdtemp(prefix="citewise-embed-batch-"))
    rows: list[dict] = []
    try:
        for path in args.paths.split(","):
            if path == "bf16" and not cpu_has_native_bf16():
                continue
            if path == "peer":
                from llama_index.embeddings.huggingface import HuggingFaceEmbedding

                model = HuggingFaceEmbedding(model_name=str(bundled_embedding_dir()), device="cpu")

                def run(bs, model=model):
                    model.embed_batch_size = bs
                    model.get_text_embedding_batch(texts)
            else:
                model = Embedder("bundled", "cpu", precision=path, cache_dir=work / "models")

                def run(bs, model=model):
                    model.embed(texts, batch_size=bs)
            run(8)  # warm-up (int8: makes the ONNX copy)
            for bs in batches:
                t = time.perf_counter()
                run(bs)
                s = time.perf_counter() - t
                rows.append({"path": path, "batch": bs, "seconds": round(s, 3), "chunks_per_s": round(len(texts) / s, 1)})
                print(f"  {path} batch {bs}: {s:.2f} s", flush=True)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\n{'path':<8}{'batch':>6}{'seconds':>9}{'chunks/s':>10}{'vs 64':>7}")
    for r in rows:
        ref = next((x["seconds"] for x in rows if x["path"] == r["path"] and x["batch"] == 64), None)
        rel = f"{r['seconds'] / ref:.2f}" if ref else "-"
        print(f"{r['path']:<8}{r['batch']:>6}{r['seconds']:>9.2f}{r['chunks_per_s']:>10.1f}{rel:>7}")
    args.out.mkdir(parents=True, exist_ok=True)
    out = args.out / f"embed-batch-{dt.date.today().isoformat()}.json"
    out.write_text(json.dumps({"chunks": len(texts), "rows": rows}, indent=2))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
