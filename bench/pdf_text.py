"""What the layout-keeping PDF text costs: Citewise's PDF loader against pypdf's plain text.

    .venv/bin/python bench/pdf_text.py            # the text PDFs of bench/indexing.py + sec-10q

Before the real-documents work the loader read each page with pypdf's plain `extract_text()`;
now it reads the layout mode and rebuilds reading order, tables and running headers
(indexing/loaders/pdf_layout.py). Both are timed on the same files in one run, alternating
file by file so that load on the machine falls on both alike: the PDFs of bench/indexing.py
(../shared/data/pdfs, INDEX.tsv text categories) and the 20 sec-10q filings. Parsing runs in
worker processes beside the embedder during indexing, so this is an upper bound of what the
change adds to an indexing run. Writes bench/results/pdf-text-<date>.json.
"""

from __future__ import annotations

import csv
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

DATA = ROOT.parent / "shared" / "data"


def plain(path: Path) -> tuple[int, int]:
    """The loader as it was: pypdf's plain text, normalised. (pages, words)"""
    from pypdf import PdfReader

    from indexing.normalize import normalize_text

    reader = PdfReader(path, strict=False)
    words = 0
    for page in reader.pages:
        words += len(normalize_text(page.extract_text() or "").split())
    return len(reader.pages), words


def layout(path: Path) -> tuple[int, int]:
    from indexing.loaders.pdf import load_pdf

    doc = load_pdf(path)
    return doc.page_count, sum(len(u.text.split()) for u in doc.units)


def files() -> list[Path]:
    out = []
    with open(DATA / "pdfs" / "INDEX.tsv", encoding="utf-8") as fh:
        for row in csv.DictReader(fh, delimiter="\t"):
            if row["category"].startswith("text") and "encrypted" not in row["category"]:
                out.append(DATA / "pdfs" / row["file"])
    out += sorted((DATA / "sec-10q" / "docs").glob("*.pdf"))
    return [p for p in out if p.is_file()]


def main() -> None:
    rows = []
    totals = {"plain": 0.0, "layout": 0.0}
    for path in files():
        row = {"file": path.name}
        for name, fn in (("plain", plain), ("layout", layout)):
            t = time.perf_counter()
            try:
                pages, words = fn(path)
            except Exception as exc:  # the plain reader refuses what the loader salvages
                row[name] = {"error": f"{type(exc).__name__}: {exc}"[:120]}
                continue
            seconds = time.perf_counter() - t
            row[name] = {"seconds": round(seconds, 3), "pages": pages, "words": words}
        if all("seconds" in row[n] for n in totals):
            for n in totals:
                totals[n] += row[n]["seconds"]
        rows.append(row)
        print(f"{path.name[:48]:48s} " + "  ".join(
            f"{n} {row[n].get('seconds', '-')!s:>7} s" for n in totals), flush=True)
    ratio = totals["layout"] / totals["plain"] if totals["plain"] else None
    result = {"machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine(),
                          "cores": os.cpu_count()},
              "files": len(rows), "seconds_plain": round(totals["plain"], 1), "seconds_layout": round(totals["layout"], 1),
              "layout_over_plain": round(ratio, 3) if ratio else None, "rows": rows}
    print(f"\nfiles read by both: plain {totals['plain']:.1f} s, layout {totals['layout']:.1f} s, ×{ratio:.2f}")
    failed = [r["file"] for r in rows if "error" in r.get("plain", {})]
    if failed:
        print(f"plain text refused {len(failed)} file(s) the loader reads: {', '.join(failed)}")
    out = ROOT / "bench" / "results" / f"pdf-text-{time.strftime('%Y-%m-%d')}.json"
    out.write_text(json.dumps(result, indent=2))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
