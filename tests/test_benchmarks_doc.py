"""docs/benchmarks.md is what bench/report.py makes of bench/results/*.json (no models are loaded)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DOC = ROOT / "docs" / "benchmarks.md"


def test_benchmarks_doc_is_up_to_date():
    done = subprocess.run([sys.executable, "bench/report.py", "--check"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, (done.stdout + done.stderr).strip() or "bench/report.py --check failed"


def test_every_result_file_is_named_in_the_doc():
    text = DOC.read_text(encoding="utf-8")
    results = sorted(p.name for p in (ROOT / "bench" / "results").glob("*.json"))
    assert results, "no bench/results/*.json"
    missing = [name for name in results if name not in text]
    assert not missing, f"not in docs/benchmarks.md: {missing} (run .venv/bin/python bench/report.py)"
