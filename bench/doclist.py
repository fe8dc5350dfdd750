"""The desktop document list during a 10,000-file drop: time on the GUI thread.

    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/doclist.py            # 10,000 files
    QT_QPA_PLATFORM=offscreen .venv/bin/python bench/doclist.py --files 2000

While a job runs, every indexed (or failed, or removed) file must show in the library panel. Two
ways, measured in one run on the same real parts (a real manifest in SQLite, the real
LibraryPanel with its table shown offscreen; each change is timed with the event processing and
paint that follow it):
- reload: read the whole manifest and reset the list after each file (what the window did before
  issue 20). Its cost grows with the list, so a 10,000-file drop costs the sum over n of one
  reload of n rows: measured at --samples list sizes, 5 times each (median), and summed by linear
  interpolation (running all 10,000 would take tens of minutes).
- row: the window now asks the manifest for that one file and updates, inserts or removes its
  row at its sorted place (`LibraryPanel.update_record`); all 10,000 measured, plus the one
  reload at the end of the job.
Reported: total GUI-thread time for the drop, the longest single stall (what a user feels as a
frozen window), and the ratio. JSON goes to bench/results/doclist-<date>.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


def _record(i: int):
    from indexing.manifest import FileRecord

    return FileRecord(
        path=f"/home/user/Documents/archive/folder-{i % 37:02d}/report-{(i * 7919) % 100_000:05d}.pdf",
        content_hash=f"{i:040x}", size=100_000 + i, mtime_ns=i, status="failed" if i % 50 == 0 else "indexed",
        kind="pdf", pages=1 + i % 40, chunks=3 + i % 120, chars=4000 + i,
        error="encrypted PDF: it needs a password" if i % 50 == 0 else None, indexed_at=time.time(),
    )


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--files", type=int, default=10_000)
    ap.add_argument("--samples", default="100,1000,2500,5000,7500,10000", help="list sizes timed for reload")
    args = ap.parse_args()

    from indexing.manifest import Manifest
    from ui.app import application
    from ui.library_panel import LibraryPanel

    app = application(["citewise-bench"])
    work = Path(tempfile.mkdtemp(prefix="citewise-bench-doclist-"))
    manifest = Manifest(work / "manifest.sqlite")
    panel = LibraryPanel()
    panel.resize(900, 700)
    panel.show()
    app.processEvents()

    def painted(fn):
        t = time.perf_counter()
        fn()
        app.processEvents()  # the view's own updates and its paint, as the event loop would run them
        return time.perf_counter() - t

    # row: each file written to the manifest (as the indexer does, not timed), then its row updated
    row_times = []
    for i in range(args.files):
        rec = _record(i)
        manifest.put(rec)
        row_times.append(painted(lambda: panel.update_record(rec.path, manifest.get(rec.path))))
    end_reload = painted(lambda: panel.set_records(manifest.files()))
    row_total = sum(row_times) + end_reload

    # reload: one full read + reset at list size n, for sampled n
    sizes = sorted({min(int(s), args.files) for s in args.samples.split(",")} | {args.files})
    per_size = {}
    for n in sizes:
        sub = Manifest(work / f"sub-{n}.sqlite")
        with sub.transaction() as db:
            for i in range(n):
                sub.put(_record(i), db)
        per_size[n] = statistics.median(painted(lambda: panel.set_records(sub.files())) for _ in range(5))
        sub.close()
    # sum over n = 1..files of reload(n), reload linear between the samples (0 at n = 0)
    points = [(0, 0.0)] + sorted(per_size.items())
    reload_total = 0.0
    for (n0, t0), (n1, t1) in zip(points, points[1:]):
        for n in range(n0 + 1, n1 + 1):
            reload_total += t0 + (t1 - t0) * (n - n0) / (n1 - n0)

    result = {
        "files": args.files,
        "cpu": next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
                    platform.processor() or platform.machine()),
        "reload_ms_at_size": {n: round(t * 1000, 2) for n, t in per_size.items()},
        "reload_total_s": round(reload_total, 1),
        "reload_longest_stall_ms": round(max(per_size.values()) * 1000, 1),
        "row_total_s": round(row_total, 2),
        "row_median_ms": round(statistics.median(row_times) * 1000, 3),
        "row_p99_ms": round(sorted(row_times)[int(0.99 * len(row_times))] * 1000, 3),
        "row_longest_stall_ms": round(max(max(row_times), end_reload) * 1000, 1),
        "end_of_job_reload_ms": round(end_reload * 1000, 1),
    }
    result["ratio"] = round(reload_total / row_total, 1)
    print(f"document list, {args.files:,}-file drop (GUI thread, offscreen, with paint)")
    print(f"{'way':<8}{'total s':>10}{'longest stall ms':>18}")
    print(f"{'reload':<8}{result['reload_total_s']:>10}{result['reload_longest_stall_ms']:>18}")
    print(f"{'row':<8}{result['row_total_s']:>10}{result['row_longest_stall_ms']:>18}")
    print(f"row is {result['ratio']}× less GUI time; reload per size (ms): {result['reload_ms_at_size']}")
    out = ROOT / "bench" / "results" / f"doclist-{time.strftime('%Y-%m-%d')}.json"
    out.write_text(json.dumps(result, indent=1))
    print("wrote", out.relative_to(ROOT))
    manifest.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
