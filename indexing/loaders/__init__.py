"""File → ParsedDocument. Picks the loader from the file's content, not only its extension.

A file whose extension lies (a PDF saved as .txt, a PNG renamed .epub) is read by what it is
when that is a supported format, and refused with what it looks like otherwise.
"""

from __future__ import annotations

import dataclasses
import os
import re
import zipfile
from pathlib import Path
from typing import Callable

import filetype

from indexing.models import DocumentError, ParsedDocument

# extension → format; the formats Citewise indexes
EXTENSIONS: dict[str, str] = {
    ".pdf": "pdf",
    ".docx": "docx",
    ".docm": "docx",  # macro-enabled: its text is read, its macros never run
    ".dotx": "docx",
    ".html": "html",
    ".htm": "html",
    ".xhtml": "html",
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".epub": "epub",
}

FORMAT_NAMES = {
    "pdf": "PDF",
    "docx": "Word document",
    "html": "web page",
    "markdown": "Markdown",
    "text": "text",
    "epub": "EPUB",
}


def is_supported(path: str | os.PathLike[str]) -> bool:
    return Path(path).suffix.lower() in EXTENSIONS


def _zip_format(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
    except (zipfile.BadZipFile, OSError, ValueError):
        return None
    if "word/document.xml" in names:
        return "docx"
    if "META-INF/container.xml" in names or "mimetype" in names:
        return "epub"
    return "zip"


def sniff(path: Path, head: bytes) -> str | None:
    """The format the bytes say, or None when they say nothing we recognise (plain text)."""
    if b"%PDF-" in head[:1024]:
        return "pdf"
    if head.startswith(b"PK\x03\x04") or head.startswith(b"PK\x05\x06"):
        return _zip_format(path) or "zip"
    kind = filetype.guess(head)
    if kind is not None:
        return kind.mime
    return None


def describe(mime_or_format: str) -> str:
    return FORMAT_NAMES.get(mime_or_format, mime_or_format)


_OLE = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"  # the compound file of Office 97-2003, and of encrypted Office files


def _encrypted_package(path: Path) -> bool:
    """An Office 2007+ document saved with a password is a compound file holding an
    "EncryptedPackage" stream (its directory entry names it in UTF-16)."""
    with open(path, "rb") as fh:
        return "EncryptedPackage".encode("utf-16-le") in fh.read(16 * 2**20)


def detect_format(path: Path) -> tuple[str, list[str]]:
    """The loader to use for `path`, and warnings (a mismatched extension, say)."""
    ext_format = EXTENSIONS.get(path.suffix.lower())
    with open(path, "rb") as fh:
        head = fh.read(8192)
    if not head:
        raise DocumentError("empty file (0 bytes)", code="empty")
    content = sniff(path, head)
    warnings: list[str] = []
    if content in FORMAT_NAMES:
        if ext_format and content != ext_format and not (
            ext_format in ("html", "markdown", "text") and content in ("html", "markdown", "text")
        ):
            warnings.append(f"extension {path.suffix} but the content is {describe(content)}; read as {describe(content)}")
        return content, warnings
    if content == "zip" and ext_format in ("docx", "epub"):
        name = describe(ext_format)
        if not zipfile.is_zipfile(path):
            raise DocumentError(f"malformed {name}: the ZIP archive is truncated or damaged", code="malformed")
        part = "word/document.xml" if ext_format == "docx" else "META-INF/container.xml"
        raise DocumentError(f"malformed {name}: the ZIP archive has no {part}", code="malformed")
    if head.startswith(_OLE) and ext_format == "docx":
        if _encrypted_package(path):
            raise DocumentError("a password-protected (encrypted) Word document: save it without a password to index it",
                                code="encrypted")
        raise DocumentError("an older Office file (Word 97-2003 or similar), not a .docx: save it as .docx to index it",
                            code="wrong-format")
    if ext_format in ("pdf", "docx", "epub"):
        looks = f"it looks like {describe(content)}" if content else "its content is not recognised"
        what = {"pdf": "not a PDF: the file has no %PDF header", "docx": "not a Word (.docx) file", "epub": "not an EPUB"}[ext_format]
        raise DocumentError(f"{what} ({looks})", code="wrong-format")
    if content is not None:  # a binary format named .txt/.md/.html
        raise DocumentError(f"not a text file: the content is {describe(content)}", code="wrong-format")
    if ext_format is None:
        raise DocumentError(f"unsupported file type {path.suffix or '(no extension)'}", code="unsupported")
    return ext_format, warnings


def _loader(fmt: str) -> Callable[[Path], ParsedDocument]:
    # imported on demand: each loader's library is only paid for when such a file is seen (PDF's
    # loader takes the OCR choice and the limits: load_document calls it itself)
    if fmt == "docx":
        from indexing.loaders.docx import load_docx as fn
    elif fmt == "html":
        from indexing.loaders.html import load_html as fn
    elif fmt == "markdown":
        from indexing.loaders.markdown import load_markdown as fn
    elif fmt == "text":
        from indexing.loaders.text import load_text as fn
    elif fmt == "epub":
        from indexing.loaders.epub import load_epub as fn
    else:  # pragma: no cover - detect_format only returns the formats above
        raise DocumentError(f"unsupported format {fmt}", code="unsupported")
    return fn


_SURROGATE = re.compile("[\ud800-\udfff]")


def without_surrogates(unit):
    """A PDF's broken font map can yield lone UTF-16 surrogates, which no tokenizer or database
    takes: each becomes U+FFFD (one character for one, so every offset stays where it was)."""
    if not _SURROGATE.search(unit.text):
        return unit
    return dataclasses.replace(unit, text=_SURROGATE.sub("\ufffd", unit.text))


def load_document(path: str | os.PathLike[str], *, ocr: bool = False, max_pages: int = 0,
                  deadline: float | None = None) -> ParsedDocument:
    """Parse one file into citable units. Raises DocumentError with a specific reason.

    With `max_pages`, at most that many pages (chapters) are kept; a PDF still being read at
    `deadline` (time.monotonic()) keeps the pages read so far. Either way `doc.warnings` says
    what was left out: a giant is indexed as far as the limits go, never silently cut.

    With `ocr`, a PDF's pages without a text layer are listed in `doc.ocr_pages` for the caller
    to OCR (indexing/ocr.py) instead of making an image-only PDF an error.
    """
    path = Path(path)
    try:
        fmt, warnings = detect_format(path)
        if fmt == "pdf":
            from indexing.loaders.pdf import load_pdf

            doc = load_pdf(path, ocr=ocr, max_pages=max_pages, deadline=deadline)
        else:
            doc = _loader(fmt)(path)
        if max_pages and len(doc.units) > max_pages:  # (a PDF's loader stops at the limit itself)
            total = len(doc.units)
            doc.units = doc.units[:max_pages]
            doc.warnings.append(f"indexed the first {max_pages:,} of its {total:,} parts: the rest is left out by the "
                                f"size limit per file (indexing.max_pages_per_file = {max_pages:,})")
    except FileNotFoundError:
        raise DocumentError("the file disappeared while it was being indexed", code="vanished") from None
    except PermissionError:
        raise DocumentError("permission denied: the file cannot be read", code="permission") from None
    except IsADirectoryError:
        raise DocumentError("is a folder, not a file", code="unsupported") from None
    except MemoryError:
        raise DocumentError("too large to parse in memory", code="too-large") from None
    doc.warnings[:0] = warnings
    doc.units = [without_surrogates(u) for u in doc.units]
    if not doc.units and not doc.ocr_pages:
        raise DocumentError("no text found in the file", code="no-text")
    return doc
