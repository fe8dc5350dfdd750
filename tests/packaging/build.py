"""The bundle build, started in the background as soon as the test session knows it will run the
bundle's tests (tests/conftest.py, at collection): PyInstaller's analysis is one long single-threaded
job (~9 min on 2 cores), and run niced beside the other tests it takes their idle CPU instead of
adding its whole time to the suite's. The `bundle` fixture waits for it; run alone, it builds there."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
TIMEOUT_S = 1500

_build: tuple[subprocess.Popen, Path] | None = None


def start() -> None:
    """Start PyInstaller on packaging/citewise.spec (once), at a low priority."""
    global _build
    if _build is not None:
        return
    work = Path(tempfile.mkdtemp(prefix="citewise-bundle-"))
    log = open(work / "pyinstaller.log", "wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN", "--distpath", str(work / "dist"),
         "--workpath", str(work / "build"), str(ROOT / "packaging" / "citewise.spec")],
        stdout=log, stderr=subprocess.STDOUT, cwd=ROOT, preexec_fn=lambda: os.nice(10),
    )
    log.close()
    _build = (proc, work)


def finish() -> tuple[int, str, Path]:
    """Wait for the build: its exit status, the end of its log, and the folder holding dist/Citewise."""
    start()
    assert _build is not None
    proc, work = _build
    try:
        rc = proc.wait(timeout=TIMEOUT_S)
    except subprocess.TimeoutExpired:
        proc.kill()
        rc = proc.wait()
    return rc, (work / "pyinstaller.log").read_text(errors="replace")[-4000:], work


def stop() -> None:
    """End of the test session: a build nobody waited for (the bundle's tests were not reached) is
    stopped, and its folder removed."""
    global _build
    if _build is None:
        return
    proc, work = _build
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    shutil.rmtree(work, ignore_errors=True)
    _build = None
