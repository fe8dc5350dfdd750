"""PDF loader: pypdf, one unit per page, with page labels and the outline as headings."""

from __future__ import annotations

import logging
from pathlib import Path

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

from indexing.models import DocumentError, ParsedDocument, Unit, UnitKind
from indexing.normalize import has_words, normalize_text

logging.getLogger("pypdf").setLevel(logging.ERROR)


def _reason(exc: BaseException) -> str:
    msg = str(exc).strip() or type(exc).__name__
    low = msg.lower()
    if "jbig2" in low:
        return "it uses JBIG2 image compression, which cannot be decoded here"
    if "brotli" in low:
        return "it uses Brotli compression, which pypdf cannot decode"
    if "startxref" in low or "trailer" in low or "eof marker" in low:
        return f"the file is truncated or its cross-reference table is broken ({msg})"
    if isinstance(exc, RecursionError) or "cyclic" in low:
        return "its page tree refers to itself (cyclic)"
    return msg[:200]


def _open(path: Path) -> PdfReader:
    try:
        reader = PdfReader(path, strict=False)
    except FileNotFoundError:
        raise
    except DependencyError as exc:
        raise DocumentError(f"PDF needs a missing decoder: {_reason(exc)}", code="malformed") from None
    except (PdfReadError, Exception) as exc:  # fuzzed files raise anything from KeyError to RecursionError
        raise DocumentError(f"malformed PDF: {_reason(exc)}", code="malformed") from None
    if reader.is_encrypted:
        try:
            result = reader.decrypt("")
        except DependencyError:
            raise DocumentError("encrypted PDF: its cipher needs the 'cryptography' package", code="encrypted") from None
        except Exception as exc:
            raise DocumentError(f"encrypted PDF that cannot be opened: {_reason(exc)}", code="encrypted") from None
        if result == PasswordType.NOT_DECRYPTED:
            raise DocumentError("encrypted PDF: a password is needed to open it", code="encrypted")
    return reader


def _outline_headings(reader: PdfReader) -> dict[int, tuple[str, ...]]:
    """page index → heading path of the last outline entry starting on that page."""
    found: dict[int, tuple[str, ...]] = {}

    def walk(items, parents: tuple[str, ...]) -> None:
        last: tuple[str, ...] | None = None
        for item in items:
            if isinstance(item, list):
                if last is not None:
                    walk(item, last)
                continue
            title = normalize_text(str(getattr(item, "title", "") or ""))
            if not title:
                continue
            last = parents + (title,)
            try:
                page = reader.get_destination_page_number(item)
            except Exception:
                continue
            if page is not None and page >= 0:
                found.setdefault(page, last)

    try:
        walk(reader.outline, ())
    except Exception:  # broken outlines are common and never worth failing a file for
        return {}
    return found


def no_text_layer(count: int, why: str) -> DocumentError:
    what = "its page is an image" if count == 1 else f"all {count} pages are images"
    return DocumentError(f"no text layer: {what} (a scan?); {why}", code="no-text-layer")


def ocr_unavailable_reason(requested: bool) -> str | None:
    """Why image-only pages are not OCRed, or None when they will be."""
    from indexing.ocr import ocr_available

    if not ocr_available():
        return "install the OCR extra to read it: pip install 'citewise[ocr]'"
    if not requested:
        return 'OCR is turned off (indexing.ocr = "off")'
    return None


def load_pdf(path: Path, *, ocr: bool = False) -> ParsedDocument:
    reader = _open(path)
    try:
        pages = reader.pages
        count = len(pages)
    except FileNotDecryptedError:
        raise DocumentError("encrypted PDF: a password is needed to open it", code="encrypted") from None
    except (RecursionError, Exception) as exc:
        raise DocumentError(f"malformed PDF: {_reason(exc)}", code="malformed") from None
    if count == 0:
        raise DocumentError("malformed PDF: it has no pages", code="malformed")

    try:
        labels = list(reader.page_labels)
    except Exception:
        labels = []
    outline = _outline_headings(reader)

    units: list[Unit] = []
    imageonly: list[int] = []
    failed: list[int] = []
    first_error: BaseException | None = None
    heading: tuple[str, ...] = ()
    for index in range(count):
        heading = outline.get(index, heading)
        try:
            raw = pages[index].extract_text() or ""
        except Exception as exc:  # one bad page must not cost the others
            failed.append(index + 1)
            first_error = first_error or exc
            continue
        text = normalize_text(raw)
        if not has_words(text, 3):
            imageonly.append(index + 1)
            continue
        label = labels[index] if index < len(labels) else None
        units.append(
            Unit(
                number=index + 1,
                text=text,
                kind=UnitKind.PAGE,
                label=label if label and label != str(index + 1) else None,
                headings=((0, heading),) if heading else (),
            )
        )

    if not units and failed and len(failed) == count:
        raise DocumentError(f"malformed PDF: no page could be read ({_reason(first_error)})", code="malformed")
    why_not = ocr_unavailable_reason(ocr) if imageonly else None
    if not units and why_not:
        raise no_text_layer(count, why_not)

    warnings = []
    ocr_pages = imageonly if ocr and not why_not else []
    if imageonly and not ocr_pages:
        warnings.append(f"{len(imageonly)} of {count} pages have no text layer")
    if failed:
        shown = ", ".join(map(str, failed[:10])) + ("…" if len(failed) > 10 else "")
        warnings.append(f"pages {shown} could not be read ({_reason(first_error)})")
    title = None
    try:
        if reader.metadata and reader.metadata.title:
            title = normalize_text(str(reader.metadata.title)) or None
    except Exception:
        pass
    return ParsedDocument(kind="pdf", units=units, title=title, page_count=count, warnings=warnings, ocr_pages=ocr_pages)
