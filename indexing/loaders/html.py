"""HTML loader: the page's main content (trafilatura), not its navigation, with headings.

trafilatura is the best-kept main-content extractor (it tops the ScrapingHub and readability
benchmarks, and is maintained); its XML output keeps headings and paragraphs apart, so the
text is clean of Markdown marks and the heading path of each passage is known. Pages where
it finds no main content fall back to all visible text.
"""

from __future__ import annotations

import re
from pathlib import Path

import lxml.etree as etree
import lxml.html

from indexing.loaders.structured import UnitBuilder
from indexing.models import DocumentError, ParsedDocument, Unit
from indexing.normalize import has_words, normalize_text

_SKIP = {"script", "style", "noscript", "template", "head", "nav", "svg", "math", "iframe", "object", "button", "select"}
_BLOCK = {
    "p", "div", "section", "article", "main", "header", "footer", "aside", "blockquote", "pre",
    "li", "ul", "ol", "dl", "dt", "dd", "table", "tr", "td", "th", "thead", "tbody", "caption",
    "figure", "figcaption", "address", "hr", "form", "fieldset", "details", "summary", "body",
}
_HEADING = re.compile(r"^h([1-6])$")
_WS = re.compile(r"\s+")


def _tag(el) -> str:
    tag = el.tag
    if not isinstance(tag, str):  # comments, processing instructions
        return ""
    return tag.rsplit("}", 1)[-1].lower()


class _Walker:
    """Turns an HTML tree into heading and paragraph blocks, in document order."""

    def __init__(self) -> None:
        self.builder = UnitBuilder()
        self._buf: list[str] = []
        self._pre = 0

    def _flush(self) -> None:
        if self._buf:
            self.builder.text("".join(self._buf))
            self._buf.clear()

    def _add(self, text: str | None) -> None:
        if text:
            self._buf.append(text if self._pre else _WS.sub(" ", text))

    def walk(self, el) -> None:
        tag = _tag(el)
        if not tag or tag in _SKIP:
            self._add(el.tail)
            return
        if tag == "table" and not self._pre:
            self._flush()
            rows = [r for r in el.iter() if _tag(r) == "tr"]
            if rows:
                cells = [[_WS.sub(" ", c.text_content()) for c in r if _tag(c) in ("td", "th")] for r in rows]
                heads = 0
                for r in rows:
                    if not all(_tag(c) == "th" for c in r if _tag(c) in ("td", "th")):
                        break
                    heads += 1
                self.builder.table(cells, header_rows=max(heads, 1))
                self._add(el.tail)
                return
        heading = _HEADING.match(tag)
        if heading:
            self._flush()
            self.builder.heading(int(heading.group(1)), _WS.sub(" ", el.text_content() if hasattr(el, "text_content") else "".join(el.itertext())))
            self._add(el.tail)
            return
        block = tag in _BLOCK
        if block:
            self._flush()
        if tag == "pre":
            self._pre += 1
        self._add(el.text)
        if tag == "br":
            self._buf.append("\n")
        for child in el:
            self.walk(child)
        if tag == "pre":
            self._pre -= 1
        if block:
            self._flush()
        self._add(el.tail)

    def unit(self, number: int = 1, **kw) -> Unit:
        self._flush()
        return self.builder.build(number=number, **kw)


def _header_rows(table) -> int:
    """How many leading rows of a trafilatura table are headings (cells with role="head")."""
    count = 0
    for row in table.iter("row"):
        if not any(c.get("role") == "head" for c in row.iter("cell")):
            break
        count += 1
    return max(count, 1)


def parse_html_tree(data: bytes | str):
    """An lxml tree from HTML or XHTML bytes, tolerant of broken markup."""
    try:
        return lxml.html.document_fromstring(data)
    except (etree.ParserError, ValueError):
        if isinstance(data, bytes):
            data = data.decode("utf-8", errors="replace")
        return lxml.html.document_fromstring(data.encode("utf-8"))


def html_to_unit(data: bytes | str, number: int = 1, **kw) -> Unit:
    """All visible text of an HTML document as one unit (used for EPUB chapters)."""
    walker = _Walker()
    tree = parse_html_tree(data)
    body = tree.find(".//body")
    walker.walk(body if body is not None else tree)
    return walker.unit(number=number, **kw)


def _trafilatura_unit(data: bytes) -> tuple[Unit | None, str | None]:
    import trafilatura

    xml = trafilatura.extract(
        data,
        output_format="xml",
        include_tables=True,
        include_comments=False,
        include_formatting=False,
        favor_recall=True,
        with_metadata=True,
    )
    if not xml:
        return None, None
    root = etree.fromstring(xml.encode("utf-8"))
    title = normalize_text(root.get("title") or "") or None
    builder = UnitBuilder()
    main = root.find("main")
    for el in main if main is not None else root:
        tag = _tag(el)
        if tag == "head":
            level = re.match(r"h([1-6])", el.get("rend") or "h2")
            builder.heading(int(level.group(1)) if level else 2, "".join(el.itertext()))
        elif tag == "list":
            for item in el.iter("item"):
                builder.text("".join(item.itertext()))
        elif tag == "table":
            rows = [["".join(c.itertext()) for c in row.iter("cell")] for row in el.iter("row")]
            builder.table(rows, header_rows=_header_rows(el))
        else:
            builder.text("".join(el.itertext()))
    return (None if builder.empty else builder.build()), title


def load_html(path: Path) -> ParsedDocument:
    data = path.read_bytes()
    unit, title = _trafilatura_unit(data)
    warnings: list[str] = []
    if unit is None or not has_words(unit.text, 20):
        fallback = html_to_unit(data)
        if has_words(fallback.text) and (unit is None or len(fallback.text) > len(unit.text)):
            unit = fallback
            warnings.append("no main content found; indexed all visible text")
    if unit is None or not has_words(unit.text):
        raise DocumentError("no text found in the page", code="no-text")
    if title is None:
        tree = parse_html_tree(data)
        found = tree.find(".//title")
        title = normalize_text(found.text_content()) if found is not None else None
    return ParsedDocument(kind="html", units=[unit], title=title or None, page_count=1, warnings=warnings)
