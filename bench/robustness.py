"""A messy folder, indexed as a user would: does it finish, how fast, in how much memory, and
what held it up.

    .venv/bin/python bench/robustness.py                                  # ../shared/data's odd files
    .venv/bin/python bench/robustness.py --folder ~/Downloads --ocr off

One `Library.add` of the folder with the app's default settings (real parse workers, the bundled
embedder on the default path, Chroma, OCR as configured), then a second run over the unchanged
folder. Reported: wall time of each run, files and files/s, the outcomes (indexed, failed,
skipped; indexed as far as the per-file limits go), peak RSS of the process and its parse
workers, and the ten files that took longest (seconds from their hand-off to the parse workers
to their commit, so a file waiting behind a giant counts its wait). JSON goes to
bench/results/robustness-<date>.json. Targets (issue 32): under 10 minutes on 2 cores, a rerun
under 30 s, peak RSS under 2.5 GB.
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
    spec.loader.exec_module(module)
    return module.RssSampler()


def _run(library, folders: list[Path]) -> tuple[float, object, float]:
    with _sampler() as rss:
        t0 = time.perf_counter()
        *_, last = library.add([str(f) for f in folders])
        wall = time.perf_counter() - t0
    return wall, last, rss.peak / 2**20


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--folder", type=Path, action="append",
                    help="folders to index (default: ../shared/data/docs-mixed and ../shared/data/pdfs)")
    ap.add_argument("--ocr", choices=("auto", "off"), default="auto")
    ap.add_argument("--out", type=Path, default=ROOT / "bench" / "results" / f"robustness-{dt.date.today()}.json")
    args = ap.parse_args()
    folders = args.folder or [DATA / "docs-mixed", DATA / "pdfs"]

    from app.services import build_services
    from app.settings import load_settings

    work = Path(tempfile.mkdtemp(prefix="citewise-robustness-"))
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
        "folders": [str(f) for f in folders], "ocr": args.ocr,
        "files": len(reports), "outcomes": by_status, "limited": len(limited),
        "wall_s": round(wall, 1), "files_per_s": round(len(reports) / wall, 2), "peak_rss_mb": round(peak),
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
