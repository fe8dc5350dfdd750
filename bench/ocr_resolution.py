"""OCR's resolution and RapidOCR's settings against the text recovered: is 200 DPI worth its seconds?

    .venv/bin/python bench/ocr_resolution.py

Scanned pages of ../shared/data/pdfs with a gold text written by hand from the page images
(bench/ocr_gold/<file>-<page>.txt) are rendered at several resolutions and read by Citewise's
OCR (indexing/ocr.py: pypdfium2 + RapidOCR). Reported per resolution: seconds per page and word
recall (the share of the gold's words, counted with repeats, that the OCR text holds) and
precision (the share of the OCR's words that are in the gold). Then, at Citewise's resolution,
RapidOCR's settings: with and without its line-direction classifier, the detector at RapidOCR's
default input size (the shorter side at least 736 px) or at most 960 px on the longer side, lines
recognised in batches of 6 (RapidOCR's default) or one at a time. JSON goes to
bench/results/ocr-<date>-resolution.json.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data" / "pdfs"
GOLD = ROOT / "bench" / "ocr_gold"
DPIS = (200, 150, 120, 100)
ENGINES = {  # RapidOCR's settings compared at Citewise's resolution
    "direction classifier, detector's default size": {"Global.use_cls": True, "Det.limit_type": "min", "Det.limit_side_len": 736,
                                                      "Rec.rec_batch_num": 6},
    "no direction classifier, detector's default size": {"Global.use_cls": False, "Det.limit_type": "min", "Det.limit_side_len": 736,
                                                         "Rec.rec_batch_num": 6},
    "direction classifier, detector at most 960 px": {"Global.use_cls": True, "Det.limit_type": "max", "Det.limit_side_len": 960,
                                                      "Rec.rec_batch_num": 6},
    "no direction classifier, detector at most 960 px": {"Global.use_cls": False, "Det.limit_type": "max", "Det.limit_side_len": 960,
                                                         "Rec.rec_batch_num": 6},
    "… and lines recognised one at a time": {"Global.use_cls": False, "Det.limit_type": "max", "Det.limit_side_len": 960,
                                              "Rec.rec_batch_num": 1},
}


def words(text: str) -> Counter:
    return Counter(re.findall(r"[a-z0-9]+", text.lower()))


def score(ocr: str, gold: str) -> tuple[float, float]:
    got, want = words(ocr), words(gold)
    common = sum((got & want).values())
    return 100 * common / max(1, sum(want.values())), 100 * common / max(1, sum(got.values()))


def measure(ocr, pages: list[tuple[str, int, str]], dpi: int, engine: dict) -> dict:
    """Seconds per page, word recall and precision of the gold pages at `dpi` with RapidOCR's `engine` settings."""
    ocr.DPI, ocr.ENGINE, ocr._engine = dpi, engine, None
    ocr.ocr_pdf_pages(DATA / pages[0][0], [pages[0][1]])  # load the models, untimed
    seconds, recalls, precisions = [], [], []
    for name, page, gold in pages:
        t = time.perf_counter()
        [(_, text)] = ocr.ocr_pdf_pages(DATA / name, [page])
        seconds.append(time.perf_counter() - t)
        r, p = score(text, gold)
        recalls.append(r)
        precisions.append(p)
        print(f"  {dpi} dpi {engine} {name} p{page}: {seconds[-1]:.1f} s, word recall {r:.1f}, precision {p:.1f}", flush=True)
    return {"dpi": dpi, "s_per_page": round(sum(seconds) / len(seconds), 2),
            "word_recall": round(sum(recalls) / len(recalls), 1),
            "word_precision": round(sum(precisions) / len(precisions), 1), "settings": engine,
            "pages": [{"file": n, "page": p, "s": round(s, 2), "word_recall": round(r, 1), "word_precision": round(q, 1)}
                      for (n, p, _), s, r, q in zip(pages, seconds, recalls, precisions)]}


def main() -> int:
    if not DATA.is_dir():
        print(f"bench: {DATA} is absent", file=sys.stderr)
        return 2
    from indexing import ocr

    pages = []
    for gold in sorted(GOLD.glob("*.txt")):
        name, page = gold.stem.rsplit("-", 1)
        pages.append((name, int(page), gold.read_text(encoding="utf-8")))
    current_dpi, current_engine = ocr.DPI, dict(ocr.ENGINE)
    rows = [measure(ocr, pages, dpi, current_engine) for dpi in DPIS]
    rows += [measure(ocr, pages, current_dpi, engine) | {"engine": name} for name, engine in ENGINES.items()]
    ocr.DPI, ocr.ENGINE, ocr._engine = current_dpi, current_engine, None
    print(f"\n{'DPI':>5}{'s/page':>9}{'word recall':>13}{'precision':>11}  RapidOCR")
    for r in rows:
        print(f"{r['dpi']:>5}{r['s_per_page']:>9.2f}{r['word_recall']:>13.1f}{r['word_precision']:>11.1f}  {r.get('engine', 'Citewise')}")
    from importlib.metadata import version

    out = ROOT / "bench" / "results" / f"ocr-{dt.date.today().isoformat()}-resolution.json"
    out.write_text(json.dumps({
        "machine": {"cores": os.cpu_count(), "cpu": platform.processor() or platform.machine(), "python": platform.python_version()},
        "versions": {m: version(m) for m in ("rapidocr", "pypdfium2", "onnxruntime")},
        "settings": {"gold_pages": len(pages), "max_side": ocr.MAX_SIDE, "max_pixels": ocr.MAX_PIXELS, "current_dpi": current_dpi,
                     "current_engine": current_engine},
        "results": rows,
    }, indent=2))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
