"""PDF loader: pypdf, one unit per page, with page labels and the outline as headings.

Text comes from pypdf's layout mode (pdf_layout.py: table rows kept on one line, columns read in
order, running headers/footers left out); a page the layout mode reads as nearly empty is read
again in plain mode. pypdf's safety limits are raised tenfold for array and dictionary sizes
(valid SEC filings hold arrays past its 100,000 elements); a file pypdf still cannot open is
read by PDFium (pypdfium2, installed with the ocr extra) before it is refused.
"""

from __future__ import annotations

import logging
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterator

from pypdf import PasswordType, PdfReader
from pypdf.errors import DependencyError, FileNotDecryptedError, PdfReadError

from indexing.loaders.pdf_layout import format_page, layout_lines, repeated_keys
from indexing.models import DocumentError, ParsedDocument, Unit, UnitKind
from indexing.normalize import has_words, normalize_text

try:  # pypdf >= 6.4
    from pypdf import apply_configuration as _pypdf_configuration
except ImportError:  # pragma: no cover - older pypdf: its defaults
    _pypdf_configuration = None

_LIMITS = {"array_maximum_element_count": 1_000_000, "dictionary_maximum_element_count": 1_000_000}

logging.getLogger("pypdf").setLevel(logging.ERROR)


_INTERNAL = re.compile(r"\b\w+(?:Object|Error|Exception)\b|object has no attribute|NoneType")


def _reason(exc: BaseException) -> str:
    msg = str(exc).strip() or type(exc).__name__
    low = msg.lower()
    if "jbig2" in low:
        return "it uses JBIG2 image compression, which cannot be decoded here"
    if "brotli" in low:
        return "it uses Brotli compression, which pypdf cannot decode"
    internal = bool(_INTERNAL.search(msg))  # pypdf's own names ("NumberObject") mean nothing to a user
    if "startxref" in low or "trailer" in low or "eof marker" in low:
        return "the file is truncated or its cross-reference table is broken" + (f" ({msg})" if not internal else "")
    if isinstance(exc, RecursionError) or "cyclic" in low:
        return "its page tree refers to itself (cyclic)"
    if internal or isinstance(exc, (AttributeError, KeyError, TypeError, IndexError, ValueError, AssertionError, NameError)):
        # a reader tripping over an object of the wrong kind: Python's words mean nothing to a user
        return "the file is damaged: an object inside it is not what the PDF format requires (re-saving it from a PDF viewer may repair it)"
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
        if result == PasswordType.NOT_DECRYPTED and not _only_attachments_encrypted(reader):
            raise DocumentError("encrypted PDF: a password is needed to open it", code="encrypted")
    return reader


def _only_attachments_encrypted(reader: PdfReader) -> bool:
    """Whether only the PDF's attachments are encrypted (streams and strings use the /Identity
    crypt filter, as "protect attachments" writes it): then its pages are read without a password,
    pypdf being told there is nothing to decrypt (it would refuse every object otherwise)."""
    encryption = getattr(reader, "_encryption", None)
    if encryption is None or getattr(encryption, "V", 0) < 4:
        return False
    if encryption.StmF != "/Identity" or encryption.StrF != "/Identity":
        return False
    reader._encryption = None  # pypdf 6: objects are decrypted only while this is set
    return True


def _attachments_locked(reader: PdfReader) -> bool:
    return reader._encryption is None and "/Encrypt" in reader.trailer


def _encrypted_payload(reader: PdfReader) -> str | None:
    """A PDF 2.0 "unencrypted wrapper" (ISO 32000-2, 7.6.7): its pages only say the document is
    protected (Microsoft IRM and the like), the real one is an encrypted attachment. Returns
    the protection's name ("MicrosoftIRMServices"), "" when unnamed, None for any other PDF."""
    try:
        root = reader.trailer["/Root"].get_object()
        specs = list(root.get("/AF", None) or [])
        names = root.get("/Names", None)
        tree = names.get_object().get("/EmbeddedFiles", None) if names is not None else None
        pending = [tree.get_object()] if tree is not None else []
        while pending and len(specs) < 1000:
            node = pending.pop()
            items = node.get("/Names", None) or []
            specs.extend(items[1::2])
            pending.extend(kid.get_object() for kid in node.get("/Kids", None) or [])
        for spec in specs:
            spec = spec.get_object()
            payload = spec.get("/EP", None)
            if payload is not None or spec.get("/AFRelationship", None) == "/EncryptedPayload":
                subtype = payload.get_object().get("/Subtype", "") if payload is not None else ""
                return str(subtype).lstrip("/")
    except Exception:  # a damaged catalog: read the pages as usual
        return None
    return None


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


def load_pdf(path: Path, *, ocr: bool = False, max_pages: int = 0, deadline: float | None = None) -> ParsedDocument:
    """The PDF's pages (see load_document for `max_pages` and `deadline`)."""
    if _pypdf_configuration is None:
        return _load_pdf(path, ocr, max_pages, deadline)
    with _pypdf_configuration(**_LIMITS):
        try:
            return _load_pdf(path, ocr, max_pages, deadline)
        except DocumentError as exc:
            if exc.code != "malformed":
                raise
            salvaged = _load_with_pdfium(path)
            if salvaged is None:
                raise
            salvaged.warnings.insert(0, f"pypdf could not read it ({exc.reason}); read with PDFium instead")
            return salvaged


def _page_text(page) -> tuple[list[str], str | None]:
    """A page's layout lines, or (when the layout mode finds next to nothing) its plain text."""
    try:
        lines = layout_lines(page.extract_text(extraction_mode="layout"))
    except Exception:  # the layout mode trips over pages the plain mode reads
        lines = []
    if has_words("".join(lines), 20):
        return lines, None
    return [], page.extract_text() or ""


def _pages_to_read(count: int, max_pages: int, deadline: float | None, stopped: list[str]) -> Iterator[int]:
    """Page indexes to read, in order, until the page or the time limit; what stopped it is
    appended to `stopped`."""
    last = min(count, max_pages) if max_pages else count
    for index in range(last):
        if deadline is not None and index and time.monotonic() > deadline:
            stopped.append(f"indexed the first {index:,} of {count:,} pages: reading the rest would pass the time "
                           "limit per file (indexing.parse_timeout_s)")
            return
        yield index
    if last < count:
        stopped.append(f"indexed the first {last:,} of {count:,} pages: the rest is left out by the size limit "
                       f"per file (indexing.max_pages_per_file = {max_pages:,})")


@dataclass
class _Reading:
    """What reading the pages gave: each read page's text, and which were not read and why."""

    read: dict[int, tuple[list[str], str | None]] = field(default_factory=dict)  # index → _page_text
    failed: list[int] = field(default_factory=list)  # numbers of the pages that raised
    first_error: BaseException | None = None
    stopped: list[str] = field(default_factory=list)  # why the pages after the last read were not read


def _pages_of(reader: PdfReader):
    """The reader's pages and their count; a file whose page tree cannot be read is refused."""
    try:
        pages = reader.pages
        count = len(pages)
    except FileNotDecryptedError:
        raise DocumentError("encrypted PDF: a password is needed to open it", code="encrypted") from None
    except (RecursionError, Exception) as exc:
        raise DocumentError(f"malformed PDF: {_reason(exc)}", code="malformed") from None
    if count == 0:
        raise DocumentError("malformed PDF: it has no pages", code="malformed")
    return pages, count


def _refuse_encrypted_payload(reader: PdfReader) -> None:
    """Refuses a PDF whose pages only wrap an encrypted document (see _encrypted_payload)."""
    protection = _encrypted_payload(reader)
    if protection is not None:
        what = {"MicrosoftIRMServices": "Microsoft Information Rights Management (IRM)"}.get(protection, protection or "encryption")
        raise DocumentError(
            f"protected with {what}: its pages only say so, the document itself is an encrypted attachment; "
            "open it in an app that can, then save an unprotected copy", code="encrypted")


def _page_labels(reader: PdfReader) -> list[str]:
    """The pages' labels ("iv", "A-3"), or none when they cannot be read."""
    try:
        return list(reader.page_labels)
    except Exception:
        return []


def _read_pages(pages, count: int, max_pages: int, deadline: float | None) -> _Reading:
    """Each page's text, within the page and time limits."""
    reading = _Reading()
    for index in _pages_to_read(count, max_pages, deadline, reading.stopped):
        try:
            reading.read[index] = _page_text(pages[index])
        except Exception as exc:  # one bad page must not cost the others
            reading.failed.append(index + 1)
            reading.first_error = reading.first_error or exc
    return reading


def _page_units(
    read: dict[int, tuple[list[str], str | None]], count: int, labels: list[str], outline: dict[int, tuple[str, ...]]
) -> tuple[list[Unit], list[int]]:
    """A unit for each read page with words on it, and the numbers of the read pages without."""
    drop = repeated_keys([lines for lines, _ in read.values() if lines])
    units: list[Unit] = []
    imageonly: list[int] = []
    heading: tuple[str, ...] = ()
    for index in range(count):
        heading = outline.get(index, heading)
        if index not in read:
            continue
        lines, plain = read[index]
        tables: tuple = ()
        if plain is None:
            page_text = format_page(lines, drop)
            if drop and not has_words(page_text.text, 3):
                # nothing but lines that stand on most pages (an atlas's captions, a form's rows):
                # they are this page's text, not a header to drop; the page is no scan for OCR
                page_text = format_page(lines, set())
            text, tables = page_text.text, page_text.tables
        else:
            text = normalize_text(plain)
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
                tables=tables,
            )
        )
    return units, imageonly


def _warnings(reader: PdfReader, count: int, imageonly: list[int], ocr_pages: list[int], reading: _Reading) -> list[str]:
    """What the user is told about the parts of the file that were not read."""
    warnings = ["its attachments are encrypted and were not read; its pages need no password"] if _attachments_locked(reader) else []
    if imageonly and not ocr_pages:
        warnings.append(f"{len(imageonly)} of {count} pages have no text layer")
    warnings += reading.stopped
    if reading.failed:
        failed = reading.failed
        shown = ", ".join(map(str, failed[:10])) + ("…" if len(failed) > 10 else "")
        warnings.append(f"pages {shown} could not be read ({_reason(reading.first_error)})")
    return warnings


def _title(reader: PdfReader) -> str | None:
    """The title in the document's metadata, if any."""
    try:
        if reader.metadata and reader.metadata.title:
            return normalize_text(str(reader.metadata.title)) or None
    except Exception:
        pass
    return None


def _load_pdf(path: Path, ocr: bool, max_pages: int = 0, deadline: float | None = None) -> ParsedDocument:
    """load_pdf's steps: open the file, read its pages, make their units, say what was left out."""
    reader = _open(path)
    pages, count = _pages_of(reader)
    _refuse_encrypted_payload(reader)
    labels = _page_labels(reader)
    outline = _outline_headings(reader)
    reading = _read_pages(pages, count, max_pages, deadline)
    units, imageonly = _page_units(reading.read, count, labels, outline)

    if not units and reading.failed and len(reading.failed) == count:
        raise DocumentError(f"malformed PDF: no page could be read ({_reason(reading.first_error)})", code="malformed")
    why_not = ocr_unavailable_reason(ocr) if imageonly else None
    if not units and why_not:
        raise no_text_layer(count, why_not)

    ocr_pages = imageonly if ocr and not why_not else []
    warnings = _warnings(reader, count, imageonly, ocr_pages, reading)
    return ParsedDocument(kind="pdf", units=units, title=_title(reader), page_count=count, warnings=warnings, ocr_pages=ocr_pages)


def _load_with_pdfium(path: Path) -> ParsedDocument | None:
    """The file's text by PDFium (plain, one unit per page), or None where PDFium cannot read it
    either or is not installed."""
    try:
        import pypdfium2 as pdfium
    except ImportError:
        return None
    try:
        pdf = pdfium.PdfDocument(str(path))
    except Exception:
        return None
    try:
        count = len(pdf)
        units = []
        for index in range(count):
            page = pdf[index]
            try:
                textpage = page.get_textpage()
                text = normalize_text(textpage.get_text_range())
                textpage.close()
            finally:
                page.close()
            if has_words(text, 3):
                units.append(Unit(number=index + 1, text=text, kind=UnitKind.PAGE))
    except Exception:
        return None
    finally:
        pdf.close()
    if not units:
        return None
    return ParsedDocument(kind="pdf", units=units, page_count=count)
