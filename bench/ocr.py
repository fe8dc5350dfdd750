"""OCR of the image-only scans of ../shared/data/pdfs (INDEX.tsv category `image-only`).

    .venv/bin/python bench/ocr.py

For each scan: pages, characters recovered, seconds per page (render + RapidOCR), or why it
was refused. Runs through Citewise's parse worker (the same limits as indexing). There is no
peer here: llama-index's PDF reader returns no text for these files. JSON goes to
bench/results/ocr-<date>.json.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "pdfs"


def main() -> int:
    from indexing.chunking import ChunkingConfig
    from indexing.embedder import bundled_embedding_dir
    from indexing.models import DocumentError
    from indexing.parse_pool import ParseLimits, ParsePool

    with open(DATA / "INDEX.tsv", newline="") as fh:
        scans = [row["file"] for row in csv.DictReader(fh, delimiter="\t") if row["category"] == "image-only"]
    pool = ParsePool(bundled_embedding_dir(), ChunkingConfig(), ParseLimits(workers=1, timeout_s=120, memory_mb=3072))
    rows = []
    try:
        pool.result(pool.submit_ocr(str(DATA / scans[0]), [1]))  # load the OCR models once, untimed
        for name in scans:
            path = str(DATA / name)
            row = {"file": name}
            try:
                parsed = pool.result(pool.submit(path, "0" * 64))
                pages = parsed.doc.ocr_pages
                t = time.perf_counter()
                read = pool.result(pool.submit_ocr(path, pages)) if pages else []
                seconds = time.perf_counter() - t
                row.update(pages=len(pages), chars=sum(len(t) for _, t in read),
                           s_per_page=round(seconds / max(1, len(pages)), 2),
                           sample=" ".join(" ".join(t for _, t in read).split())[:80])
            except DocumentError as exc:
                row.update(refused=exc.reason)
            rows.append(row)
            print(row, flush=True)
    finally:
        pool.close()
    print(f"\n{'file':<46}{'pages':>6}{'chars':>8}{'s/page':>8}")
    for r in rows:
        if "refused" in r:
            print(f"{r['file']:<46}  refused: {r['refused']}")
        else:
            print(f"{r['file']:<46}{r['pages']:>6}{r['chars']:>8}{r['s_per_page']:>8.1f}")
    out = ROOT / "bench" / "results" / f"ocr-{dt.date.today().isoformat()}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    from importlib.metadata import version

    out.write_text(json.dumps({"machine": {"cores": os.cpu_count(), "platform": platform.platform()},
                               "versions": {p: version(p) for p in ("rapidocr", "pypdfium2", "onnxruntime")},
                               "settings": {"dpi": 200, "max_pixels": 8_000_000}, "results": rows}, indent=2))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
