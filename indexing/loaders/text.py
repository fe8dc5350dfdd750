"""Plain-text loader: encoding detected with charset-normalizer (UTF-8 with or without BOM,
UTF-16, Latin-1, cp1252, …), line ends normalised, the whole file one unit."""

from __future__ import annotations

from pathlib import Path

from charset_normalizer import from_bytes

from indexing.models import DocumentError, ParsedDocument, Unit
from indexing.normalize import has_words, normalize_text

_BOMS = ((b"\xef\xbb\xbf", "utf-8-sig"), (b"\xff\xfe", "utf-16"), (b"\xfe\xff", "utf-16"))


def decode_bytes(data: bytes) -> tuple[str, str]:
    """Decode `data` to text and name the encoding; DocumentError when it is not text."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace"), encoding
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    if b"\x00" in data[:65536]:
        raise DocumentError("not a text file: it holds binary data", code="binary")
    results = from_bytes(data)
    best = results.best()
    if best is None:
        raise DocumentError("not a text file: no text encoding fits its bytes", code="binary")
    # short texts fit several legacy code pages equally well; Windows-1252 (a superset of
    # Latin-1 for letters) is by far the most common, so it wins a tie
    for match in results:
        if match.encoding in ("cp1252", "latin_1", "iso8859_15") and match.chaos <= best.chaos + 0.01 and match.coherence >= best.coherence - 0.02:
            return str(match), match.encoding
    return str(best), best.encoding


def require_words(text: str, data: bytes) -> None:
    if not has_words(text):
        raise DocumentError("no text found in the file" if data.strip() else "empty file (only whitespace)", code="empty")


def load_text(path: Path) -> ParsedDocument:
    data = path.read_bytes()
    raw, encoding = decode_bytes(data)
    text = normalize_text(raw)
    require_words(text, data)
    warnings = [] if encoding in ("utf-8", "utf-8-sig", "ascii") else [f"decoded as {encoding}"]
    return ParsedDocument(kind="text", units=[Unit(number=1, text=text)], page_count=1, warnings=warnings)
