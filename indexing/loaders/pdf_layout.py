"""A PDF page's layout text → reading-order text with table rows kept whole.

pypdf's plain extraction breaks a table into one cell per line ("$\\n3,226.8\\n \\n$\\n2,729.4"),
so a figure loses its row label and its column. Its layout mode places every glyph by its
coordinates: a table row stays on one line with its cells in column order, and two columns of
prose sit side by side. This module turns those lines into the text that is chunked and cited:

- two-column prose is read column by column (a vertical gutter of blanks that most lines
  cross, with words on both sides);
- a table row is written `label | $9,243 | $680` (cells were separated by runs of blanks; a
  lone currency sign joins its number), and consecutive rows form one table block whose header
  rows (column headings above the first row of figures) are recorded, so the chunker can repeat
  them with every chunk of the table;
- running headers and footers (the company name, "Table of Contents", page numbers) found in
  the top or bottom lines of many pages of the document are left out of the text; the viewer
  still shows the page as it is.

Pure functions over strings: the loader (pdf.py) feeds them pypdf's output.
"""

from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass, field

from indexing.normalize import normalize_text

_CELL_GAP = re.compile(r" {3,}")
_NUMERIC = re.compile(r"^[\(\-–—]?\s*[$€£¥]?\s*\(?[-–—]?[\d][\d,]*(\.\d+)?\s*%?\)?%?$|^[-–—]+$|^n/?m$|^\*+$", re.I)
_YEAR = re.compile(r"^(19|20)\d\d$")
_PAGE_NUMBER = re.compile(r"^(page\s+)?[-–—]?\s*([0-9]{1,4}|[ivxlc]{1,6})\s*[-–—]?(\s+of\s+\d+)?$", re.I)
_CURRENCY = re.compile(r"^([$€£¥]\(?)\s+(?=[\d(])")
_ZONE = 4  # lines at the top and at the bottom of a page where running headers/footers live


@dataclass
class PageText:
    text: str
    tables: tuple[tuple[int, int, int], ...]  # (start, header_end, end) in text


def layout_lines(raw: str) -> list[str]:
    return [line.rstrip() for line in raw.replace("\r\n", "\n").replace("\r", "\n").split("\n")]


# -- columns ---------------------------------------------------------------------------------


def _gutter(lines: list[str]) -> int | None:
    """The character column of a gutter between two columns of prose, or None."""
    body = [ln for ln in lines if ln.strip()]
    if len(body) < 12:
        return None
    width = max(len(ln) for ln in body)
    best, best_score = None, 0.0
    for c in range(int(width * 0.3), int(width * 0.7)):
        both = crossing = 0
        for ln in body:
            if len(ln) <= c + 1:
                continue
            if ln[c - 1 : c + 2].strip():
                crossing += 1
            elif ln[: c - 1].strip() and ln[c + 2 :].strip():
                both += 1
        if both < 8 or both < 0.35 * len(body) or crossing > 0.12 * len(body):
            continue
        score = both - 3 * crossing
        if score > best_score:
            best, best_score = c, score
    if best is None:
        return None
    # prose on both sides: words, not a table's columns of figures
    left = " ".join(ln[:best] for ln in body if len(ln) > best + 1)
    right = " ".join(ln[best:] for ln in body if len(ln) > best + 1)
    for side in (left, right):
        letters = sum(ch.isalpha() for ch in side)
        if letters < 0.6 * sum(not ch.isspace() for ch in side) or len(side.split()) < 60:
            return None
    return best


def split_columns(lines: list[str]) -> list[str]:
    """Lines in reading order: a two-column region's left column, then its right column; lines
    that cross the gutter (a title, a full-width figure caption) stay where they are."""
    c = _gutter(lines)
    if c is None:
        return lines
    out: list[str] = []
    left: list[str] = []
    right: list[str] = []

    def flush() -> None:
        out.extend(left)
        if left and right:
            out.append("")
        out.extend(right)
        left.clear()
        right.clear()

    for ln in lines:
        if ln[c - 1 : c + 2].strip():
            flush()
            out.append(ln)
            continue
        left.append(ln[:c].rstrip())
        if ln[c:].strip():
            right.append(ln[c:].rstrip())
    flush()
    return out


# -- running headers and footers -------------------------------------------------------------


def line_key(line: str) -> str:
    """A line with its numbers masked: 'Page 4 of 52' and 'Page 5 of 52' share a key."""
    return re.sub(r"\d+", "#", " ".join(line.split()).lower())


def _zones(lines: list[str]) -> list[str]:
    body = [" ".join(ln.split()) for ln in lines if ln.strip()]
    if len(body) <= 2 * _ZONE:
        return body
    return body[:_ZONE] + body[-_ZONE:]


def repeated_keys(pages: list[list[str]]) -> set[str]:
    """Keys of the lines that stand at the top or bottom of at least half the pages (and at
    least three): the document's running headers and footers."""
    if len(pages) < 4:
        return set()
    seen: Counter[str] = Counter()
    for lines in pages:
        seen.update({line_key(ln) for ln in _zones(lines)})
    need = max(3, len(pages) // 2)
    return {k for k, n in seen.items() if n >= need and len(k) <= 120}


def _is_page_number(line: str) -> bool:
    return bool(_PAGE_NUMBER.match(line.strip()))


# -- tables ----------------------------------------------------------------------------------


def _justified(cells: list[str]) -> bool:
    """A line of justified prose that the layout mode spread wide: many one-word "cells"."""
    if len(cells) < 5 or any(ch.isdigit() for c in cells for ch in c):
        return False
    return sum(len(c.split()) == 1 for c in cells) >= 0.7 * len(cells)


def cells_of(line: str) -> list[str]:
    cells = [_CURRENCY.sub(r"\1", c.strip()) for c in _CELL_GAP.split(line.strip()) if c.strip()]
    if _justified(cells):
        return [" ".join(line.split())]
    merged: list[str] = []
    for cell in cells:
        if merged and merged[-1] in ("$", "€", "£", "¥", "(", "$ (", "$("):
            merged[-1] = merged[-1].replace(" ", "") + cell
        elif merged and cell in (")", "%", ")%", "%)"):
            merged[-1] += cell
        else:
            merged.append(cell)
    return merged


def _numeric(cell: str) -> bool:
    return bool(_NUMERIC.match(cell.replace(" ", "")))


def _is_row(cells: list[str]) -> bool:
    """A row of a table: a label (or not) and figures that are not years, at least half its
    other cells (a line of prose spread out by the layout has words between its numbers)."""
    if len(cells) < 2:
        return False
    figures = sum(_numeric(c) and not _YEAR.match(c) for c in cells[1:])
    return figures >= 1 and figures * 2 >= len(cells) - 1


def _is_header(cells: list[str], line: str) -> bool:
    """Column headings: several short cells (or one indented far right) with no figure but years."""
    if not cells or any(_numeric(c) and not _YEAR.match(c) for c in cells):
        return False
    words = [len(c.split()) for c in cells]
    if any(len(c) > 60 for c in cells) or max(words) > 6 or sum(words) > 20 or ". " in line:
        return False  # a line of prose that the layout spread out, not column headings
    indent = len(line) - len(line.lstrip())
    return len(cells) >= 2 or indent >= 20


def _label_inside(cells: list[str]) -> bool:
    """A line inside a table that is a row label alone ("Current assets:")."""
    return len(cells) == 1 and len(cells[0]) <= 90 and not cells[0].endswith(".")


@dataclass
class _Lines:
    """A page's lines in reading order, with each line's cells and kind ("blank", "row", "text")."""

    lines: list[str]
    cells: list[list[str]]
    rows: list[bool]
    kind: list[str]


def _body_lines(lines: list[str], drop: set[str]) -> list[str]:
    """Step 1: the page's lines less its running headers/footers, columns in reading order."""
    # leave out running headers/footers and page numbers in the page's top and bottom lines
    idx = [i for i, ln in enumerate(lines) if ln.strip()]
    zone = set(idx[:_ZONE] + idx[-_ZONE:])
    kept = [ln for i, ln in enumerate(lines) if not (i in zone and (line_key(ln) in drop or _is_page_number(ln)))]
    return split_columns(kept)


def _classify(kept: list[str]) -> _Lines:
    """Step 2: each line's cells, and whether it is blank, a table row or text."""
    cells = [cells_of(ln) if ln.strip() else [] for ln in kept]
    rows = [bool(c) and _is_row(c) for c in cells]
    kind = ["blank" if not c else "row" if r else "text" for c, r in zip(cells, rows)]
    return _Lines(kept, cells, rows, kind)


def _table_lines(page: _Lines) -> list[bool]:
    """Step 3: which lines belong to a table."""
    # a table: rows, with label lines and blanks between them; its header: heading lines just above
    n = len(page.lines)
    in_table = [False] * n
    i = 0
    while i < n:
        if page.kind[i] != "row":
            i += 1
            continue
        end = _last_row(page, i)
        if sum(page.rows[i : end + 1]) >= 2 or len(page.cells[i]) >= 3:
            for k in range(_table_top(page, i), end + 1):
                in_table[k] = True
        i = end + 1
    return in_table


def _last_row(page: _Lines, first: int) -> int:
    """The last row of the table whose first row is line `first`: rows follow with only label
    lines and blanks between them."""
    end = first
    for j in range(first + 1, len(page.lines)):
        if page.kind[j] == "row":
            end = j
        elif not (page.kind[j] == "blank" or (page.kind[j] == "text" and _label_inside(page.cells[j]))):
            break
    return end


def _table_top(page: _Lines, start: int) -> int:
    """The first line of the table whose first row is line `start`: its header (column headings,
    a label, a caption) is taken in from the lines just above."""
    kind, cells, kept = page.kind, page.cells, page.lines
    h = start - 1
    blanks = 0
    while h >= 0 and start - h <= 8:
        if kind[h] == "blank":
            blanks += 1
            if blanks > 2:
                break
        elif _is_header(cells[h], kept[h]):
            start = h
            blanks = 0
        elif kind[h] == "text" and _label_inside(cells[h]) and h == start - 1:
            start = h  # "(In millions)" or "Current assets:" right above the first row
        elif kind[h] == "text" and kept[h].rstrip().endswith(":") and len(cells[h]) == 1:
            start = h  # its caption: "Revenue by geographic areas were as follows:"
            break
        else:
            break
        h -= 1
    return start


@dataclass
class _PageWriter:
    """Step 4: the page's text as it is written, with its tables' spans."""

    parts: list[str] = field(default_factory=list)
    tables: list[tuple[int, int, int]] = field(default_factory=list)
    length: int = 0
    pending_break: bool = False  # a blank line or a table stands before the next prose line

    def _write(self, s: str) -> None:
        self.parts.append(s)
        self.length += len(s)

    def prose(self, page: _Lines, k: int) -> None:
        """Line `k`, outside any table: its words on a line of their own."""
        if page.kind[k] == "blank":
            self.pending_break = bool(self.parts)
            return
        text = normalize_text(" ".join(page.lines[k].split()))
        if not text:
            return
        sep = "" if not self.parts else ("\n\n" if self.pending_break else "\n")
        self._write(sep + text)
        self.pending_break = False

    def table(self, page: _Lines, start: int, end: int) -> None:
        """Lines `start` to `end` (excluded), one table block: a row per line, its cells joined by " | "."""
        self._write("" if not self.parts else "\n\n")
        t_start = self.length
        header_end = None
        first = True
        for k in range(start, end):
            if page.kind[k] == "blank":
                continue
            text = normalize_text(" | ".join(page.cells[k]))
            if not text:
                continue
            if not first:
                self._write("\n")
            if page.kind[k] == "row" and header_end is None:
                header_end = self.length  # what stands above the first row of figures heads the table
            self._write(text)
            first = False
        self.tables.append((t_start, header_end if header_end is not None else t_start, self.length))
        self.pending_break = True


def format_page(lines: list[str], drop: set[str] = frozenset()) -> PageText:
    """Reading-order text of a page's layout lines, with its tables' spans."""
    page = _classify(_body_lines(lines, drop))
    in_table = _table_lines(page)
    out = _PageWriter()
    n = len(page.lines)
    k = 0
    while k < n:
        if not in_table[k]:
            out.prose(page, k)
            k += 1
            continue
        end = k
        while end < n and in_table[end]:
            end += 1
        out.table(page, k, end)
        k = end
    return PageText("".join(out.parts), tuple(out.tables))
