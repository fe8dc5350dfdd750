"""OCR threads: scanned pages read by one or two worker processes, RapidOCR with its default
threads (every core) or one thread per worker, the way parse workers share a scan's pages
(indexing/parse_pool.py). Prints a table, writes bench/results/ocr-<date>-threads.json.

    .venv/bin/python bench/ocr_threads.py [--pages 8]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
SCAN = ROOT.parent / "shared" / "data" / "pdfs" / "pdfjs__TAMReview.pdf"  # 21 of its 23 pages are scans


def _read(pages: list[int], threads: int) -> tuple[float, int]:
    """OCR `pages` of the scan in this worker; (seconds, characters read)."""
    import indexing.ocr as ocr
    from rapidocr import RapidOCR

    params = {"Global.log_level": "error"}
    if threads:
        params |= {"EngineConfig.onnxruntime.intra_op_num_threads": threads,
                   "EngineConfig.onnxruntime.inter_op_num_threads": 1}
    ocr._engine = RapidOCR(params=params)
    ocr.ocr_pdf_pages(SCAN, pages[:1])  # the models load on first use: not timed
    t = time.perf_counter()
    out = ocr.ocr_pdf_pages(SCAN, pages)
    return time.perf_counter() - t, sum(len(text) for _, text in out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--pages", type=int, default=8)
    args = ap.parse_args()
    if not SCAN.exists():
        raise SystemExit(f"{SCAN} is missing: this benchmark reads ../shared/data")
    import multiprocessing

    multiprocessing.set_start_method("spawn")
    pages = list(range(2, 2 + args.pages))
    rows = []
    for workers, threads in ((1, 0), (1, 1), (2, 0), (2, 1)):
        t = time.perf_counter()
        with ProcessPoolExecutor(workers) as pool:
            parts = [pages[i::workers] for i in range(workers)]
            results = list(pool.map(_read, parts, [threads] * workers))
        rows.append({"workers": workers, "threads": threads or "default (every core)", "pages": len(pages),
                     "wall_s": round(time.perf_counter() - t, 1), "chars": sum(r[1] for r in results)})
    print("| workers | OCR threads each | pages | wall s | characters |\n|---:|---|---:|---:|---:|")
    for r in rows:
        print(f"| {r['workers']} | {r['threads']} | {r['pages']} | {r['wall_s']} | {r['chars']} |")
    out = ROOT / "bench" / "results" / f"ocr-{dt.date.today().isoformat()}-threads.json"
    out.write_text(json.dumps({"file": SCAN.name, "machine": {"cores": os.cpu_count()}, "rows": rows}, indent=1), encoding="utf-8")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
