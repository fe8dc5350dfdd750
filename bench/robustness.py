"""A messy folder, indexed as a user would: does it finish, how fast, in how much memory, and
what held it up.

    .venv/bin/python bench/robustness.py                                  # ../shared/data's odd files
    .venv/bin/python bench/robustness.py --folder ~/Downloads --ocr off
    .venv/bin/python bench/robustness.py --giants                         # + five generated giants

One `Library.add` of the folder with the app's default settings (real parse workers, the bundled
embedder on the default path, Chroma, OCR as configured), then a second run over the unchanged
folder. Reported: wall time of each run, files and files/s, the outcomes (indexed, failed,
skipped; indexed as far as the per-file limits go), peak RSS of the process and its parse
workers, and the ten files that took longest (seconds from their hand-off to the parse workers
to their commit, so a file waiting behind a giant counts its wait). JSON goes to
bench/results/robustness-<date>.json. Targets (issue 32): under 10 minutes on 2 cores, a rerun
under 30 s, peak RSS under 2.5 GB. `--giants` adds the kinds of file that held such a folder back:
a 5,000-page PDF, a Markdown file of 50,000 link definitions, a 40,000-row HTML table, a long EPUB
and a 20 MB text on one line (made by the tests' own document makers).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.util
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA = ROOT.parent / "shared" / "data"
from indexing.offline import offline_env  # noqa: E402

offline_env()


def _sampler():
    """bench/indexing.py's RssSampler (this process and its children, sampled)."""
    spec = importlib.util.spec_from_file_location("bench_indexing", ROOT / "bench" / "indexing.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up
    spec.loader.exec_module(module)
    return module.RssSampler()


def _run(library, folders: list[Path]) -> tuple[float, object, float]:
    with _sampler() as rss:
        t0 = time.perf_counter()
        *_, last = library.add([str(f) for f in folders])
        wall = time.perf_counter() - t0
    return wall, last, rss.peak / 2**20


def make_giants(folder: Path) -> Path:
    """Five giants, each a kind seen to hold a messy folder back."""
    from tests import docs

    folder.mkdir(parents=True, exist_ok=True)
    docs.make_pdf(folder / "giant-atlas.pdf", [f"Plate {i}: the coastline between harbour {i} and harbour {i + 1}, "
                                                f"with its lighthouses, reefs and tides." for i in range(5000)])
    (folder / "giant-links.md").write_text(
        "# Link list\n\nEvery reference used by the handbook.\n\n"
        + "".join(f"[ref{i}]: https://example.org/docs/{i} \"Reference {i}\"\n" for i in range(50_000)), encoding="utf-8")
    rows = "".join(f"<tr><td>Item {i}</td><td>{i * 7 % 1000}</td><td>{i * 13 % 997}.{i % 100:02d}</td></tr>" for i in range(40_000))
    docs.make_html(folder / "giant-table.html", "Inventory", f"<table><tr><th>Item</th><th>Count</th><th>Price</th></tr>{rows}</table>")
    docs.make_epub(folder / "giant-novel.epub", [(f"Chapter {c}", " ".join(
        f"In chapter {c} the travellers crossed valley {w} before nightfall." for w in range(120))) for c in range(300)])
    (folder / "giant-one-line.txt").write_text(" ".join(f"record {i} value {i * 3}" for i in range(1_400_000)), encoding="utf-8")
    return folder


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folder", type=Path, action="append",
                    help="folders to index (default: ../shared/data/docs-mixed and ../shared/data/pdfs)")
    ap.add_argument("--ocr", choices=("auto", "off"), default="auto")
    ap.add_argument("--giants", action="store_true", help="add five generated giants (made in a temporary folder)")
    ap.add_argument("--out", type=Path, default=None, help="default: bench/results/robustness-<date>[-giants].json")
    args = ap.parse_args()
    args.out = args.out or ROOT / "bench" / "results" / f"robustness-{dt.date.today()}{'-giants' if args.giants else ''}.json"
    folders = args.folder or [DATA / "docs-mixed", DATA / "pdfs"]

    from app.services import build_services
    from app.settings import load_settings

    work = Path(tempfile.mkdtemp(prefix="citewise-robustness-"))
    if args.giants:
        folders = [*folders, make_giants(work / "giants")]
    services = build_services(load_settings(data_dir=work / "data", **{"indexing.ocr": args.ocr}))
    library = services.library()
    library.embedder.embed(["warm up"])  # the model's load is not the folder's time
    wall, last, peak = _run(library, folders)
    rerun, again, _ = _run(library, folders)
    services.close()

    reports = last.reports
    by_status: dict[str, int] = {}
    for r in reports:
        by_status[r.status.value] = by_status.get(r.status.value, 0) + 1
    limited = [r for r in reports if any("size limit per file" in w or "time limit per file" in w for w in r.warnings)]
    slowest = sorted(reports, key=lambda r: -r.seconds)[:10]
    result = {
        "machine": {"python": platform.python_version(), "cpu": platform.processor() or platform.machine(),
                    "cores": os.cpu_count()},
        "folders": [str(f) for f in folders], "ocr": args.ocr, "giants": args.giants,
        "files": len(reports), "outcomes": by_status, "limited": len(limited),
        "wall_s": round(wall, 1), "searchable_s": round(last.searchable_s, 1) if last.searchable_s is not None else None,
        "files_per_s": round(len(reports) / wall, 2), "peak_rss_mb": round(peak),
        "rerun_s": round(rerun, 2), "rerun_changed": sum(1 for r in again.reports if r.status.value not in ("unchanged", "skipped")),
        "slowest": [{"file": Path(r.path).name, "seconds": round(r.seconds, 1), "status": r.status.value, "pages": r.pages,
                     "chunks": r.chunks, "why": r.reason or "; ".join(r.warnings)[:160]} for r in slowest],
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1), encoding="utf-8")
    print(f"| files | wall s | files/s | peak RSS MB | rerun s | outcomes | indexed as far as the limits go |\n"
          f"|---:|---:|---:|---:|---:|---|---:|\n| {result['files']} | {result['wall_s']} | {result['files_per_s']} | "
          f"{result['peak_rss_mb']} | {result['rerun_s']} | {by_status} | {len(limited)} |")
    print("\n| slowest file | s | status | pages | chunks | why |\n|---|---:|---|---:|---:|---|")
    for s in result["slowest"]:
        print(f"| {s['file']} | {s['seconds']} | {s['status']} | {s['pages']} | {s['chunks']} | {s['why']} |")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
