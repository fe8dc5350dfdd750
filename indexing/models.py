"""Plain data that flows through indexing: units of text with provenance, chunks, reports."""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class UnitKind(str, enum.Enum):
    """What one unit of a document is, as a reader would name it in a citation."""

    PAGE = "page"  # a PDF page, or a DOCX page where Word rendered its page breaks
    CHAPTER = "chapter"  # an EPUB spine document
    DOCUMENT = "document"  # a file without pages: text, Markdown, HTML, DOCX without page info


@dataclass(frozen=True)
class Unit:
    """One citable unit of a document: its normalised text and the headings in force in it.

    `number` is 1-based as a reader counts (PDF page 1 is the first page). `headings` lists
    `(offset, path)` pairs: from `offset` on, the text sits under the heading path `path`.
    Character spans of chunks are offsets into `text`, so a viewer that loads the same file
    with the same loader finds exactly the cited passage.
    """

    number: int
    text: str
    kind: UnitKind = UnitKind.DOCUMENT
    label: str | None = None  # PDF page label ("iv"), EPUB chapter title
    headings: tuple[tuple[int, tuple[str, ...]], ...] = ()
    # tables as `(start, header_end, end)` spans of `text`: rows one per line, cells joined by
    # " | "; text[start:header_end] is the table's heading (caption, column headings)
    tables: tuple[tuple[int, int, int], ...] = ()


@dataclass
class ParsedDocument:
    """What a loader returns for one file."""

    kind: str  # pdf, docx, html, markdown, text, epub
    units: list[Unit]
    title: str | None = None
    page_count: int = 0  # pages in the file (PDF), chapters (EPUB), 1 otherwise
    warnings: list[str] = field(default_factory=list)
    ocr_pages: list[int] = field(default_factory=list)  # 1-based PDF pages without text, to be OCRed

    @property
    def identity(self) -> str:
        """What the document says it is: its title and, for a paged document, the opening of its
        first page (a 10-Q's cover names the company and the period); retrieval reads it, with
        the file name, to tell documents apart. The opening of a text without pages is not a
        cover: a paper's abstract names half of what the other papers name too (COVID-QA's
        recall fell when it counted: bench/retrieval.py)."""
        first = self.units[0] if self.units else None
        head = first.text[:1500] if first is not None and first.kind is UnitKind.PAGE and first.number == 1 else ""
        return "\n".join(part for part in (self.title or "", head) if part)

    @property
    def char_count(self) -> int:
        return sum(len(u.text) for u in self.units)


def _labels(row: str) -> str:
    """A table row's cells that hold words (its label, a column heading), without its figures."""
    kept = [cell for cell in row.split(" | ") if sum(ch.isalpha() for ch in cell) >= 2]
    return " ".join(kept)


@dataclass(frozen=True)
class Chunk:
    """A passage small enough for the embedder, with everything a citation needs."""

    id: str
    text: str
    path: str  # absolute path of the source file
    content_hash: str
    unit: int  # 1-based page / chapter number (1 for files without pages)
    unit_kind: UnitKind
    start: int  # character span within the unit's text
    end: int
    index: int  # position of the chunk within its file
    unit_label: str | None = None
    heading: tuple[str, ...] = ()
    tokens: int = 0
    # read with the text for retrieval, never quoted: the heading path and, inside a table, the
    # table's heading rows, so a row's figures travel with their column headings
    context: str = ""

    @property
    def search_text(self) -> str:
        """What the lexical index reads: the context and the text, figures and all."""
        return f"{self.context}\n{self.text}" if self.context else self.text

    @property
    def embed_text(self) -> str:
        """What the embedder reads: the context and the text, with the figures of table rows
        left out ("Total operating expenses | 14,316 | 12,755" → "Total operating expenses"): a
        small embedder reads numbers as noise, and a question about a line item meets the table
        by its labels and headings; the figures stay in the lexical index and in the quote."""
        text = self.search_text
        if " | " not in text:
            return text
        return "\n".join(_labels(line) if " | " in line else line for line in text.split("\n"))

    @property
    def page(self) -> int | None:
        return self.unit if self.unit_kind is UnitKind.PAGE else None


class FileStatus(str, enum.Enum):
    INDEXED = "indexed"
    UNCHANGED = "unchanged"
    FAILED = "failed"
    SKIPPED = "skipped"
    REMOVED = "removed"


@dataclass
class FileReport:
    """The outcome for one file of an indexing run, shown to the user."""

    path: str
    status: FileStatus
    reason: str | None = None
    kind: str | None = None
    pages: int = 0
    chunks: int = 0
    chars: int = 0
    seconds: float = 0.0
    warnings: list[str] = field(default_factory=list)


class DocumentError(Exception):
    """A file that cannot be indexed, with a reason a user can act on.

    The message names the problem in plain words (``encrypted PDF: a password is needed``);
    the pipeline prefixes it with the file's path when reporting.
    """

    def __init__(self, reason: str, *, code: str = "unreadable"):
        super().__init__(reason)
        self.reason = reason
        self.code = code
