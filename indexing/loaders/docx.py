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
from dataclasses import dataclass, field
from pathlib import Path

from indexing.loaders.salvage import bad_part, patched, read_salvaging
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


_DOCX_MAIN = b"application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"
_OTHER_MAINS = {  # what Word saves beside .docx, under a .docx name as often as not
    b"application/vnd.ms-word.document.macroEnabled.main+xml": "a macro-enabled document (.docm)",
    b"application/vnd.openxmlformats-officedocument.wordprocessingml.template.main+xml": "a template (.dotx)",
    b"application/vnd.ms-word.template.macroEnabledTemplate.main+xml": "a macro-enabled template (.dotm)",
}
_STRICT = re.compile(rb"http://purl\.oclc\.org/ooxml/(\w+)/(\w+)")


def _as_standard_docx(path: Path):
    """A macro-enabled document, a template or a Strict Open XML document, rewritten in memory as
    the standard package python-docx reads (content type; Strict's namespaces to the transitional
    ones, which name the same elements), with what it was; None when it is none of them. Macros
    are never run: only the XML of the text is read."""
    try:
        with zipfile.ZipFile(path) as zf:
            types = zf.read("[Content_Types].xml")
            parts: dict[str, bytes] = {}
            what = [label for main, label in _OTHER_MAINS.items() if main in types]
            for main in _OTHER_MAINS:
                types = types.replace(main, _DOCX_MAIN)
            if what:
                parts["[Content_Types].xml"] = types
            if b"purl.oclc.org/ooxml" in zf.read("_rels/.rels"):
                what.append("Strict Open XML")
                for name in zf.namelist():
                    if name.endswith((".xml", ".rels")):
                        data = parts.get(name) or zf.read(name)
                        parts[name] = _STRICT.sub(rb"http://schemas.openxmlformats.org/\1/2006/\2", data)
    except (KeyError, zipfile.BadZipFile, OSError):
        return None
    return (patched(path, parts), " and ".join(what)) if what else None


def _open(path: Path):
    """(python-docx Document, damaged parts left out, warnings)."""
    import docx
    from docx.opc.exceptions import PackageNotFoundError

    def read(source):
        return docx.Document(source if not isinstance(source, Path) else str(source))

    try:
        document, damaged = read_salvaging(path, read, essential=("word/document.xml",))
        return document, damaged, []
    except zipfile.BadZipFile as exc:
        if bad_part(exc) == "word/document.xml":
            raise DocumentError("malformed Word document: its text (word/document.xml) is damaged", code="malformed") from None
        raise DocumentError(f"malformed Word document: {exc}", code="malformed") from None
    except (PackageNotFoundError, KeyError, ValueError) as exc:
        refused = exc
    except Exception as exc:
        raise DocumentError(f"malformed Word document: {exc}", code="malformed") from None
    standard = _as_standard_docx(path)
    if standard is None:
        raise DocumentError(f"malformed Word document: {refused or 'not a valid .docx package'}", code="malformed") from None
    try:
        document = read(standard[0])
    except Exception as exc:
        raise DocumentError(f"malformed Word document ({standard[1]}): {exc}", code="malformed") from None
    macros = " (its macros are never run)" if "macro" in standard[1] else ""
    return document, [], [f"read as a Word document: the file is {standard[1]}{macros}"]


@dataclass
class _Pages:
    """The document's pages as its body is read: Word's rendered page breaks end them."""

    builder: UnitBuilder = field(default_factory=UnitBuilder)
    pages: list[Unit] = field(default_factory=list)
    page: int = 1
    saw_breaks: bool = False
    left_out: list[str] = field(default_factory=list)  # what imported content could not be read

    def new_page(self) -> None:
        """Ends the page being written (when it holds anything) and starts the next."""
        if not self.builder.empty:
            self.pages.append(self.builder.build(number=self.page, kind=UnitKind.PAGE))
        self.builder.reset_text()
        self.page += 1


def _read_alt_chunk(out: _Pages, document, element) -> None:
    """An altChunk: the text of the part it imports, in its place."""
    text, what = _alt_chunk_text(document, element)
    if text is None:
        out.left_out.append(what)
    for line in (text or "").split("\n"):
        out.builder.text(line)


def _read_paragraph(out: _Pages, paragraph) -> None:
    """A paragraph, a heading when its style says so; its rendered page breaks start new pages."""
    builder = out.builder
    level = _heading_level(paragraph)
    breaks = paragraph.rendered_page_breaks
    if breaks:
        out.saw_breaks = True
        first = breaks[0]
        before = first.preceding_paragraph_fragment
        after = first.following_paragraph_fragment
        if before is not None and before.text.strip():
            builder.text(before.text)
        for _ in breaks:
            out.new_page()
        text = after.text if after is not None else ""
    else:
        text = paragraph.text
    if level is not None and text.strip():
        builder.heading(level + 1, text)
    else:
        builder.text(text)


def _read_body(document) -> _Pages:
    """The body's paragraphs, tables and imported parts, in document order, as pages."""
    from docx.table import Table

    out = _Pages()
    blocks = document.iter_inner_content()
    try:
        for element in document.element.body.iterchildren(f"{_W}p", f"{_W}tbl", f"{_W}altChunk"):
            if element.tag == f"{_W}altChunk":
                _read_alt_chunk(out, document, element)
                continue
            block = next(blocks)
            if isinstance(block, Table):
                out.builder.table([[cell.text for cell in row.cells] for row in block.rows])
                continue
            _read_paragraph(out, block)
    except Exception as exc:
        raise DocumentError(f"malformed Word document: {exc}", code="malformed") from None

    if not out.builder.empty:
        out.pages.append(out.builder.build(number=out.page, kind=UnitKind.PAGE))
    return out


def _read_every_paragraph(document, out: _Pages) -> None:
    """When the body read as nothing: one unit of every paragraph's text, wherever it lives."""
    from docx.oxml.ns import qn

    # text that lives only in text boxes, shapes or content controls: every w:p of the body
    for paragraph in document.element.body.iter(qn("w:p")):
        out.builder.text("".join(t.text or "" for t in paragraph.iter(qn("w:t"))))
    if not out.builder.empty:
        out.saw_breaks = False
        out.pages.append(out.builder.build())


def _title(document) -> str | None:
    """The title in the document's properties, if any."""
    try:
        return document.core_properties.title or None
    except Exception:
        return None


def load_docx(path: Path) -> ParsedDocument:
    """The document's pages as Word rendered them, or one unit when it rendered no page breaks."""
    document, damaged, notes = _open(path)
    out = _read_body(document)
    if not out.pages:
        _read_every_paragraph(document, out)
    if not out.pages:
        raise DocumentError("no text found in the document", code="no-text")
    pages = out.pages
    if not out.saw_breaks:
        only = pages[0]
        pages = [Unit(number=1, text=only.text, kind=UnitKind.DOCUMENT, headings=only.headings, tables=only.tables)]
    title = _title(document)
    warnings = notes + ([f"damaged parts left out ({', '.join(damaged)}); the text was read without them"] if damaged else [])
    if out.left_out:
        warnings.append(f"imported content it cannot read left out ({', '.join(sorted(set(out.left_out)))})")
    return ParsedDocument(kind="docx", units=pages, title=title, page_count=out.page if out.saw_breaks else 1, warnings=warnings)
