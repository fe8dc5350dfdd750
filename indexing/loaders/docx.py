"""DOCX loader: python-docx (the maintained reader of Word's format), body in reading order.

Paragraphs and tables are read in document order, heading styles give the heading path, and
the page breaks Word rendered when it last saved the file give page numbers as the user saw
them in Word. A document without rendered breaks (written by a program) is one unit. Content
that Word imports from another part when it opens the file ("altChunk": HTML, a web archive,
plain text; mail merges and converters write whole bodies this way) is read in its place.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

from indexing.loaders.salvage import bad_part, read_salvaging
from indexing.loaders.structured import UnitBuilder
from indexing.models import DocumentError, ParsedDocument, Unit, UnitKind

_HEADING_STYLE = re.compile(r"^heading\s*(\d)$", re.I)
_W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"
_R_ID = "{http://schemas.openxmlformats.org/officeDocument/2006/relationships}id"


def _alt_chunk_text(document, element) -> tuple[str | None, str | None]:
    """The text of the part an altChunk imports, or (None, what it is) when it is not readable here."""
    import email
    from email import policy

    part = document.part.related_parts.get(element.get(_R_ID))
    if part is None:
        return None, "a missing part"
    content_type, blob = part.content_type.lower(), part.blob
    if "html" in content_type and "mime" not in content_type:
        from indexing.loaders.html import html_to_unit

        return html_to_unit(blob).text, None
    if content_type in ("message/rfc822", "multipart/related", "application/x-mimearchive") or blob[:200].lower().find(b"mime-version") >= 0:
        message = email.message_from_bytes(blob, policy=policy.default)
        for sub in message.walk():
            if sub.get_content_type() == "text/html":
                from indexing.loaders.html import html_to_unit

                return html_to_unit(sub.get_content()).text, None
        return None, "a web archive without HTML"
    if content_type.startswith("text/plain"):
        for encoding in ("utf-8-sig", "utf-16", "cp1252"):
            try:
                return blob.decode(encoding), None
            except UnicodeDecodeError:
                continue
    return None, content_type


def _heading_level(paragraph) -> int | None:
    try:
        style = paragraph.style
        name = style.name if style is not None else ""
    except Exception:
        return None
    if not name:
        return None
    if name.lower() == "title":
        return 0
    match = _HEADING_STYLE.match(name.strip())
    return int(match.group(1)) if match else None


def _is_strict_ooxml(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as zf:
            return b"purl.oclc.org/ooxml" in zf.read("_rels/.rels")
    except Exception:
        return False


def load_docx(path: Path) -> ParsedDocument:
    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.oxml.ns import qn
    from docx.table import Table

    try:
        document, damaged = read_salvaging(path, lambda source: docx.Document(source if not isinstance(source, Path) else str(source)),
                                           essential=("word/document.xml",))
    except zipfile.BadZipFile as exc:
        if bad_part(exc) == "word/document.xml":
            raise DocumentError("malformed Word document: its text (word/document.xml) is damaged", code="malformed") from None
        raise DocumentError(f"malformed Word document: {exc}", code="malformed") from None
    except (PackageNotFoundError, KeyError) as exc:
        if _is_strict_ooxml(path):
            raise DocumentError(
                "Word 'Strict Open XML' documents are not supported: save it again as a standard .docx",
                code="unsupported",
            ) from None
        raise DocumentError(f"malformed Word document: {exc or 'not a valid .docx package'}", code="malformed") from None
    except Exception as exc:
        raise DocumentError(f"malformed Word document: {exc}", code="malformed") from None

    builder = UnitBuilder()
    pages: list[Unit] = []
    page = 1
    saw_breaks = False

    def new_page() -> None:
        nonlocal page
        if not builder.empty:
            pages.append(builder.build(number=page, kind=UnitKind.PAGE))
        builder.reset_text()
        page += 1

    blocks = document.iter_inner_content()
    left_out: list[str] = []
    try:
        for element in document.element.body.iterchildren(f"{_W}p", f"{_W}tbl", f"{_W}altChunk"):
            if element.tag == f"{_W}altChunk":
                text, what = _alt_chunk_text(document, element)
                if text is None:
                    left_out.append(what)
                for line in (text or "").split("\n"):
                    builder.text(line)
                continue
            block = next(blocks)
            if isinstance(block, Table):
                builder.table([[cell.text for cell in row.cells] for row in block.rows])
                continue
            level = _heading_level(block)
            breaks = block.rendered_page_breaks
            if breaks:
                saw_breaks = True
                first = breaks[0]
                before = first.preceding_paragraph_fragment
                after = first.following_paragraph_fragment
                if before is not None and before.text.strip():
                    builder.text(before.text)
                for _ in breaks:
                    new_page()
                text = after.text if after is not None else ""
            else:
                text = block.text
            if level is not None and text.strip():
                builder.heading(level + 1, text)
            else:
                builder.text(text)
    except Exception as exc:
        raise DocumentError(f"malformed Word document: {exc}", code="malformed") from None

    if not builder.empty:
        pages.append(builder.build(number=page, kind=UnitKind.PAGE))
    if not pages:
        # text that lives only in text boxes, shapes or content controls: every w:p of the body
        for paragraph in document.element.body.iter(qn("w:p")):
            builder.text("".join(t.text or "" for t in paragraph.iter(qn("w:t"))))
        if not builder.empty:
            saw_breaks = False
            pages.append(builder.build())
    if not pages:
        raise DocumentError("no text found in the document", code="no-text")
    if not saw_breaks:
        only = pages[0]
        pages = [Unit(number=1, text=only.text, kind=UnitKind.DOCUMENT, headings=only.headings, tables=only.tables)]
    title = None
    try:
        title = document.core_properties.title or None
    except Exception:
        pass
    warnings = [f"damaged parts left out ({', '.join(damaged)}); the text was read without them"] if damaged else []
    if left_out:
        warnings.append(f"imported content it cannot read left out ({', '.join(sorted(set(left_out)))})")
    return ParsedDocument(kind="docx", units=pages, title=title, page_count=page if saw_breaks else 1, warnings=warnings)
