"""Markdown loader: the file's text as written, with the heading path of every section.

markdown-it-py (CommonMark) finds the headings, so a `#` inside a code fence is not one.
"""

from __future__ import annotations

from pathlib import Path

from markdown_it import MarkdownIt

from indexing.loaders.text import decode_bytes, require_words
from indexing.models import ParsedDocument, Unit
from indexing.normalize import normalize_text

_md = MarkdownIt("commonmark").enable("table")


def markdown_unit(raw: str, number: int = 1) -> Unit:
    """Normalised Markdown text as one unit, with `(offset, heading path)` for each heading."""
    text = normalize_text(raw)
    lines = text.split("\n")
    line_starts = [0]
    for line in lines:
        line_starts.append(line_starts[-1] + len(line) + 1)
    tokens = _md.parse(text)
    stack: list[tuple[int, str]] = []
    headings: list[tuple[int, tuple[str, ...]]] = []
    tables: list[tuple[int, int, int]] = []
    for i, tok in enumerate(tokens):
        if tok.type == "table_open" and tok.map is not None and tok.map[1] - tok.map[0] >= 3:
            first, last = tok.map[0], tok.map[1]  # the heading row, the delimiter row, then rows
            end = line_starts[last] - 1 if last < len(lines) else len(text)
            tables.append((line_starts[first], line_starts[first + 2], end))
            continue
        if tok.type != "heading_open" or tok.map is None:
            continue
        level = int(tok.tag[1:])
        title = normalize_text(tokens[i + 1].content if i + 1 < len(tokens) else "")
        if not title:
            continue
        while stack and stack[-1][0] >= level:
            stack.pop()
        stack.append((level, title))
        headings.append((line_starts[tok.map[0]], tuple(t for _, t in stack)))
    return Unit(number=number, text=text, headings=tuple(headings), tables=tuple(tables))


def load_markdown(path: Path) -> ParsedDocument:
    data = path.read_bytes()
    raw, encoding = decode_bytes(data)
    unit = markdown_unit(raw)
    require_words(unit.text, data)
    title = unit.headings[0][1][0] if unit.headings else None
    warnings = [] if encoding in ("utf-8", "utf-8-sig", "ascii") else [f"decoded as {encoding}"]
    return ParsedDocument(kind="markdown", units=[unit], title=title, page_count=1, warnings=warnings)
