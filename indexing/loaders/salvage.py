"""Reading what can be read of a damaged ZIP-based document (DOCX, EPUB).

A Word file whose unused part (a theme, a thumbnail) fails its checksum, or an EPUB whose
manifest names a file the archive lacks (an audio clip), still holds its text: the readers refuse
the whole package for one part. `patched(path, parts)` copies the archive into memory with those
parts replaced (empty, or the bytes given), and the loader reads the copy, with a warning.
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

_BAD_CRC = re.compile(r"Bad CRC-32 for file '([^']+)'")
_NO_ITEM = re.compile(r"There is no item named '([^']+)' in the archive")


def bad_part(exc: BaseException) -> str | None:
    """The archive member an exception of zipfile or ebooklib is about, if it names one."""
    m = _BAD_CRC.search(str(exc)) or _NO_ITEM.search(str(exc))
    return m.group(1) if m else None


def patched(path: Path, parts: dict[str, bytes]) -> io.BytesIO:
    """The archive at `path`, with `parts` (name → content) in place of what it holds or lacks."""
    out = io.BytesIO()
    with zipfile.ZipFile(path) as src, zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            if info.filename in parts:
                continue
            try:
                data = src.read(info.filename)
            except (zipfile.BadZipFile, OSError, EOFError):  # another damaged part: left empty
                data = b""
            dst.writestr(info, data)
        for name, data in parts.items():
            dst.writestr(name, data)
    out.seek(0)
    return out


def read_salvaging(path: Path, read, *, essential: tuple[str, ...] = (), limit: int = 20):
    """`read(source)` on the file, then on patched copies while the failure names one damaged or
    missing part (at most `limit`); returns (result, parts patched). A failure that names no
    part, or an essential one, is raised as it came."""
    parts: dict[str, bytes] = {}
    source: Path | io.BytesIO = path
    while True:
        try:
            return read(source), sorted(parts)
        except Exception as exc:
            name = bad_part(exc)
            if not name or name in parts or name in essential or len(parts) >= limit:
                raise
            parts[name] = b""
            source = patched(path, parts)
