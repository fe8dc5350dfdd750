"""Embedding on a CUDA GPU: Citewise's path vs the tuned llama-index peer's, and the card's share.

    python bench/embed_gpu.py --texts chunks.json --model MODEL_DIR     # on a machine with CUDA

The embedding stage is what a GPU changes in indexing (parsing stays on the CPU). Both paths
embed the same texts — the chunks Citewise made of a real library (`--texts`: a JSON list of
strings, written by `--export DATA_DIR LIBRARY` from a Citewise data dir) — with the same
all-MiniLM-L6-v2 weights:
- peer: what llama-index's HuggingFaceEmbedding does by default (sentence-transformers, fp32,
  embed_batch_size 10);
- Citewise: indexing.embedder.Embedder on CUDA (fp16, batches of CUDA_BATCH, length-sorted),
  and the same at other batch sizes.
Also measured in the same run: the card's fp16 matrix-multiply throughput (8192³, mean of ten
after three warm-ups), and each path's achieved FLOP/s from the model's own arithmetic per token
(6 layers of 384-wide attention and a 1,536-wide feed-forward), so the table says what share
of the card the embedder reaches. Writes bench/results/embed-gpu-<date>.json (or --out).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

LAYERS, HIDDEN, FFN = 6, 384, 1536


def flops_per_token(seq: int) -> float:
    """Multiply-adds ×2 of one token through MiniLM-L6: projections, attention scores and
    values over `seq` tokens, feed-forward."""
    projections = 4 * HIDDEN * HIDDEN
    attention = 2 * seq * HIDDEN
    feed_forward = 2 * HIDDEN * FFN
    return 2.0 * LAYERS * (projections + attention + feed_forward)


def export(data_dir: str, library: str, out: str) -> None:
    """The embed texts of every chunk of a Citewise library, as a JSON list (run where it lives)."""
    from indexing.offline import offline_env

    offline_env()
    from app.services import build_services
    from app.settings import load_settings

    settings = load_settings(Path(data_dir) / "none.toml", data_dir=Path(data_dir))
    services = build_services(settings)
    lib = services.library(library)
    ids = sorted(lib.manifest.all_chunk_ids())
    texts = [c.embed_text for i in range(0, len(ids), 2000) for c in lib.store.get(ids[i : i + 2000])]
    Path(out).write_text(json.dumps(texts))
    print(f"wrote {len(texts)} chunk texts to {out}")
    services.close()


def matmul_tflops(torch, device: str = "cuda") -> float:
    n = 8192 if device == "cuda" else 512
    dtype = torch.float16 if device == "cuda" else torch.float32
    a = torch.randn(n, n, device=device, dtype=dtype)
    b = torch.randn(n, n, device=device, dtype=dtype)
    sync = torch.cuda.synchronize if device == "cuda" else (lambda: None)
    for _ in range(3):
        a @ b
    sync()
    t = time.perf_counter()
    for _ in range(10):
        a @ b
    sync()
    return 2 * n**3 * 10 / (time.perf_counter() - t) / 1e12


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--texts", help="JSON list of chunk texts")
    ap.add_argument("--model", help="the all-MiniLM-L6-v2 folder")
    ap.add_argument("--out", default="")
    ap.add_argument("--smoke", type=int, default=0, help="check the script on the CPU with this many texts")
    ap.add_argument("--export", nargs=2, metavar=("DATA_DIR", "LIBRARY"), help="write --texts from a Citewise library")
    args = ap.parse_args()
    if args.export:
        export(*args.export, args.texts)
        return
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    from indexing.embedder import Embedder

    device = "cpu" if args.smoke else "cuda"
    if device == "cuda" and not torch.cuda.is_available():
        sys.exit("embed_gpu: no CUDA GPU here")
    if device == "cpu":
        torch.cuda.synchronize = lambda: None
    texts = json.loads(Path(args.texts).read_text())
    if args.smoke:
        texts = texts[: args.smoke]
    words = sum(len(t.split()) for t in texts)
    model_dir = Path(args.model)
    tok = SentenceTransformer(str(model_dir), device="cpu").tokenizer
    lengths = [min(256, len(ids)) for ids in tok(texts, add_special_tokens=True, truncation=True, max_length=256)["input_ids"]]
    tokens = sum(lengths)
    flops = sum(n * flops_per_token(n) for n in lengths)
    peak = matmul_tflops(torch, device)
    rows = []

    def timed(name: str, fn) -> np.ndarray:
        fn(texts[:512])  # warm-up: kernels, allocator
        torch.cuda.synchronize()
        t = time.perf_counter()
        vectors = fn(texts)
        torch.cuda.synchronize()
        seconds = time.perf_counter() - t
        rows.append({"path": name, "seconds": round(seconds, 3), "words_per_s": round(words / seconds),
                     "tokens_per_s": round(tokens / seconds), "tflops": round(flops / seconds / 1e12, 2),
                     "share_of_matmul_peak_%": round(100 * flops / seconds / 1e12 / peak, 2)})
        print(f"{name:38s} {seconds:7.2f} s  {words / seconds:10.0f} words/s  {flops / seconds / 1e12:6.2f} TFLOP/s", flush=True)
        return vectors

    peer = SentenceTransformer(str(model_dir), device=device)
    peer.float()
    ref = timed("peer: sentence-transformers fp32, batch 10",
                lambda xs: peer.encode(xs, batch_size=10, normalize_embeddings=True, show_progress_bar=False))
    del peer
    torch.cuda.empty_cache()
    citewise = Embedder(str(model_dir), device=device)
    ours = timed(f"citewise: fp16, batch {citewise.batch_size or 'auto (256)'}", lambda xs: citewise.embed(xs))
    cos = float(np.mean(np.sum(ref * ours, axis=1)))
    for batch in (64, 1024) if device == "cuda" else ():
        timed(f"citewise: fp16, batch {batch}", lambda xs, b=batch: citewise.embed(xs, batch_size=b))
    # where the time goes: the tokenizer alone (CPU), then the model's forward passes alone on
    # batches tokenized beforehand (the GPU's share of the work)
    order = sorted(range(len(texts)), key=lambda i: lengths[i])
    t = time.perf_counter()
    batches = [tok([texts[i] for i in order[s : s + 1024]], padding=True, truncation=True, max_length=256,
                   return_tensors="pt") for s in range(0, len(texts), 1024)]
    tokenize_s = time.perf_counter() - t
    rows.append({"path": "tokenizer alone (CPU), batches of 1024", "seconds": round(tokenize_s, 3),
                 "words_per_s": round(words / tokenize_s), "tokens_per_s": round(tokens / tokenize_s),
                 "tflops": 0.0, "share_of_matmul_peak_%": 0.0})
    print(f"tokenizer alone {tokenize_s:.2f} s", flush=True)
    encoder = citewise._load()[0].auto_model
    with torch.inference_mode():
        on_device = [{k: v.to(device) for k, v in b.items()} for b in batches]
        encoder(**on_device[-1])
        torch.cuda.synchronize()
        t = time.perf_counter()
        for b in on_device:
            encoder(**b)
        torch.cuda.synchronize()
        forward_s = time.perf_counter() - t
    padded = sum(int(b["input_ids"].numel()) for b in batches)
    rows.append({"path": "model forward alone (GPU), fp16, batch 1024", "seconds": round(forward_s, 3),
                 "words_per_s": round(words / forward_s), "tokens_per_s": round(tokens / forward_s),
                 "tflops": round(flops / forward_s / 1e12, 2),
                 "share_of_matmul_peak_%": round(100 * flops / forward_s / 1e12 / peak, 2)})
    print(f"forward alone {forward_s:.3f} s ({padded} padded tokens)", flush=True)
    base = rows[0]["seconds"]
    for r in rows:
        r["x_peer"] = round(base / r["seconds"], 2)
    result = {
        "machine": {"gpu": torch.cuda.get_device_name(0) if device == "cuda" else "none (smoke run on the CPU)", "torch": torch.__version__, "python": platform.python_version(),
                    "cpu_cores": os.cpu_count()},
        "texts": len(texts), "words": words, "tokens": tokens, "gflop": round(flops / 1e9, 1),
        "fp16_matmul_peak_tflops": round(peak, 1), "mean_cosine_citewise_vs_peer": round(cos, 5), "rows": rows,
    }
    print(f"\n{'path':44s} {'s':>7s} {'words/s':>10s} {'× peer':>7s} {'TFLOP/s':>8s} {'% of peak':>9s}")
    for r in rows:
        print(f"{r['path']:44s} {r['seconds']:7.2f} {r['words_per_s']:10d} {r['x_peer']:7.2f} {r['tflops']:8.2f} "
              f"{r['share_of_matmul_peak_%']:9.2f}")
    print(f"fp16 matmul peak {peak:.0f} TFLOP/s on {result['machine']['gpu']}; cosine Citewise vs peer {cos:.5f}")
    out = Path(args.out) if args.out else ROOT / "bench" / "results" / f"embed-gpu-{time.strftime('%Y-%m-%d')}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
