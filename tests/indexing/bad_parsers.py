"""Parsers that misbehave on purpose, run in real worker processes by test_workers.py."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from indexing.parse_pool import parse_file, read_unit


def misbehave(path: str, content_hash: str):
    _bad(path)
    return parse_file(path, content_hash)


def misbehave_reading(path: str, unit: int):
    """The source viewer's reader, misbehaving the same ways."""
    _bad(path)
    return read_unit(path, unit)


def _bad(path: str) -> None:
    name = Path(path).stem
    if name == "hang":
        time.sleep(3600)
    if name == "hog":
        blocks = []
        while True:  # grows until the address-space cap stops it
            blocks.append(bytearray(256 * 2**20))
    if name == "crash":
        os.kill(os.getpid(), signal.SIGSEGV)
