"""Parsers that misbehave on purpose, run in real worker processes by test_workers.py."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from indexing.workers import parse_file


def misbehave(path: str, content_hash: str):
    name = Path(path).stem
    if name == "hang":
        time.sleep(3600)
    if name == "hog":
        blocks = []
        while True:  # grows until the address-space cap stops it
            blocks.append(bytearray(256 * 2**20))
    if name == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
    return parse_file(path, content_hash)
