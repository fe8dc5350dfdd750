"""Which files a run covers: supported files under the given paths, and why others are skipped."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path
from typing import Iterable

from indexing.loaders import is_supported
from indexing.models import FileReport, FileStatus

JUNK_NAMES = {"thumbs.db", "desktop.ini", ".ds_store"}


def file_hash(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(1 << 20):
            h.update(block)
    return h.hexdigest()


def _hidden(name: str) -> bool:
    return name.startswith(".") or name.startswith("~$") or name.lower() in JUNK_NAMES


def discover(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[FileReport]]:
    """Supported files under `paths` (recursively), and reports for what was skipped."""
    files: list[Path] = []
    skipped: list[FileReport] = []
    seen: set[Path] = set()

    def add(p: Path) -> None:
        rp = p.resolve()
        if rp not in seen:
            seen.add(rp)
            files.append(rp)

    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            for root, dirs, names in os.walk(path):
                hidden_dirs = [d for d in dirs if _hidden(d)]
                for d in hidden_dirs:
                    skipped.append(FileReport(str(Path(root, d).resolve()), FileStatus.SKIPPED, "hidden folder"))
                dirs[:] = sorted(d for d in dirs if not _hidden(d))
                for name in sorted(names):
                    p = Path(root, name)
                    if _hidden(name):
                        skipped.append(FileReport(str(p.resolve()), FileStatus.SKIPPED, "hidden file"))
                    elif not is_supported(p):
                        skipped.append(
                            FileReport(str(p.resolve()), FileStatus.SKIPPED, f"unsupported file type {p.suffix or '(no extension)'}")
                        )
                    elif p.is_file():
                        add(p)
        elif path.is_file():
            add(path)  # named explicitly: tried whatever its extension, the loader says why not
        elif path.exists():
            skipped.append(FileReport(str(path.resolve()), FileStatus.SKIPPED, "not a regular file"))
        else:
            skipped.append(FileReport(str(path.absolute()), FileStatus.FAILED, "no such file or folder"))
    return files, skipped
