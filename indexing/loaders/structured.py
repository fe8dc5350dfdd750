"""Builds a unit's text and heading map from a stream of blocks (heading or paragraph).

DOCX, HTML, EPUB and Markdown loaders all reduce their format to blocks; this module is the
one place that turns blocks into normalised unit text with `(offset, heading path)` entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from indexing.models import Unit, UnitKind
from indexing.normalize import normalize_text


@dataclass
class UnitBuilder:
    """Accumulates blocks; `heading(level, title)` opens a section, `text(...)` adds a paragraph."""

    parts: list[str] = field(default_factory=list)
    headings: list[tuple[int, tuple[str, ...]]] = field(default_factory=list)
    tables: list[tuple[int, int, int]] = field(default_factory=list)
    _stack: list[tuple[int, str]] = field(default_factory=list)
    _length: int = 0

    def _append(self, text: str) -> int:
        if self.parts:
            self.parts.append("\n\n")
            self._length += 2
        start = self._length
        self.parts.append(text)
        self._length += len(text)
        return start

    def heading(self, level: int, title: str) -> None:
        title = normalize_text(title).replace("\n", " ")
        if not title:
            return
        while self._stack and self._stack[-1][0] >= level:
            self._stack.pop()
        self._stack.append((level, title))
        start = self._append(title)
        path = tuple(t for _, t in self._stack)
        if self.headings and self.headings[-1][0] == start:
            self.headings[-1] = (start, path)
        else:
            self.headings.append((start, path))

    def text(self, text: str) -> None:
        text = normalize_text(text)
        if text:
            self._append(text)

    def table(self, rows: list[list[str]], header_rows: int = 1) -> None:
        """A table as one block: a row a line, cells joined by " | " (merged cells, which repeat
        their text, once); its first `header_rows` rows are its heading (Unit.tables)."""
        lines: list[str] = []
        for row in rows:
            cells: list[str] = []
            for cell in row:
                text = " ".join(normalize_text(cell).split())
                if text and (not cells or cells[-1] != text):
                    cells.append(text)
            if cells:
                lines.append(" | ".join(cells))
        if not lines:
            return
        if len(lines) == 1:  # a one-row "table" is a layout device, not a table
            self.text(lines[0])
            return
        start = self._append(lines[0])
        header_end = start
        for i, line in enumerate(lines[1:], 1):
            if i == min(header_rows, len(lines) - 1):
                header_end = self._length + 1
            self.parts.append("\n" + line)
            self._length += 1 + len(line)
        self.tables.append((start, header_end, self._length))

    @property
    def empty(self) -> bool:
        return not self.parts

    @property
    def current_path(self) -> tuple[str, ...]:
        return tuple(t for _, t in self._stack)

    def build(self, number: int = 1, kind: UnitKind = UnitKind.DOCUMENT, label: str | None = None) -> Unit:
        return Unit(
            number=number, text="".join(self.parts), kind=kind, label=label,
            headings=tuple(self.headings), tables=tuple(self.tables),
        )

    def reset_text(self) -> None:
        """Start a new unit that keeps the heading path in force (a DOCX page break)."""
        path = self.current_path
        self.parts, self.headings, self.tables, self._length = [], [], [], 0
        if path:
            self.headings.append((0, path))
