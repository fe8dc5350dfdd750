"""Which files a run covers: supported files under the given paths, and why others are skipped."""

from __future__ import annotations

import errno
import hashlib
import os
import stat
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


def hidden(name: str) -> bool:
    return name.startswith(".") or name.startswith("~$") or name.lower() in JUNK_NAMES


def shown(path: str | os.PathLike[str]) -> str:
    """A path as text that can be stored and printed: bytes of a name that are not UTF-8 (an
    old disk's Latin-1 "café.txt") become �."""
    text = str(path)
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:
        return os.fsencode(text).decode("utf-8", "replace")


def _resolved(p: Path) -> Path:
    try:
        return p.resolve()
    except (RuntimeError, OSError):  # a symbolic link loop
        return p.absolute()


_KINDS = ((stat.S_ISFIFO, "a named pipe"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a device"), (stat.S_ISBLK, "a device"))


def unreadable(p: Path) -> tuple[FileStatus, str] | None:
    """Why `p` cannot be indexed as a file, found before it is opened; None when it can be."""
    try:
        str(p).encode("utf-8")
    except UnicodeEncodeError:
        return FileStatus.FAILED, "its name is not valid UTF-8 (written in an older encoding such as Latin-1): rename it to index it"
    try:
        st = p.stat()  # follows links
    except OSError as exc:
        if p.is_symlink():
            if exc.errno == errno.ELOOP:
                return FileStatus.SKIPPED, "a symbolic link loop (the link leads back to itself)"
            return FileStatus.SKIPPED, f"a broken link: its target {shown(os.readlink(p))} does not exist"
        return FileStatus.FAILED, f"cannot be read: {exc.strerror or exc}"
    for test, kind in _KINDS:
        if test(st.st_mode):
            return FileStatus.SKIPPED, f"{kind}, not a regular file"
    if not stat.S_ISREG(st.st_mode):
        return FileStatus.SKIPPED, "not a regular file"
    return None


def discover(paths: Iterable[str | os.PathLike[str]]) -> tuple[list[Path], list[FileReport]]:
    """Supported files under `paths` (recursively, following links to folders once), and a report
    for everything else met on the way: hidden, unsupported, links that lead nowhere or in a
    circle, pipes and devices, names that are not UTF-8."""
    files: list[Path] = []
    skipped: list[FileReport] = []
    seen: set[Path] = set()

    def add(p: Path) -> None:
        rp = _resolved(p)
        if rp not in seen:
            seen.add(rp)
            files.append(rp)

    def report(p: Path, status: FileStatus, reason: str) -> None:
        # a link is named by where it is, not by where it leads
        where = p.absolute() if p.is_symlink() or status is FileStatus.FAILED else _resolved(p)
        skipped.append(FileReport(shown(where), status, reason))

    for raw in paths:
        path = Path(raw).expanduser()
        if path.is_dir():
            walked = {os.path.realpath(path)}
            for root, dirs, names in os.walk(path, followlinks=True):
                keep = []
                for d in sorted(dirs):
                    full = Path(root, d)
                    if hidden(d):
                        report(full, FileStatus.SKIPPED, "hidden folder")
                    elif os.path.realpath(full) in walked:
                        report(full, FileStatus.SKIPPED, "a link to a folder already included")
                    else:
                        walked.add(os.path.realpath(full))
                        keep.append(d)
                dirs[:] = keep
                for name in sorted(names):
                    p = Path(root, name)
                    problem = unreadable(p)
                    if hidden(name):
                        report(p, FileStatus.SKIPPED, "hidden file")
                    elif problem and (problem[0] is FileStatus.FAILED or p.is_symlink()):
                        report(p, *problem)
                    elif not is_supported(p):
                        report(p, FileStatus.SKIPPED, f"unsupported file type {p.suffix or '(no extension)'}")
                    elif problem:
                        report(p, *problem)
                    else:
                        add(p)
        elif path.is_file() and not unreadable(path):
            add(path)  # named explicitly: tried whatever its extension, the loader says why not
        elif path.exists() or path.is_symlink():
            report(path, *(unreadable(path) or (FileStatus.SKIPPED, "not a regular file")))
        else:
            skipped.append(FileReport(shown(path.absolute()), FileStatus.FAILED, "no such file or folder"))
    return files, skipped
