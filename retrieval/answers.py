"""The answer's first line: the figure asked for, or a side-by-side of it across periods or filings.

Quote mode used to answer "What were Apple's total net sales in Q3 2023?" with the sentence that
shared most words with it (a line about Mac and Wearables), though the "Total net sales" row was
in the passages. Here the question is read (retrieval/question.py), the table rows of the
passages are read under their headings (retrieval/tables.py), and when a row names what is
asked the answer opens with it:

    Total net sales, three months ended July 1, 2023: $81,797 million [1]

A change across periods or filings ("How did total net sales change over the quarters?") is
answered side by side: the row for each filing the question is about (each searched on its own),
its current-period cell cited to its own file and page, ordered by period, with the difference
from the first to the last labelled as computed from the cells it was computed from. Filings
that state different values for the same period (a restated figure) are said to differ.
Deterministic and model-free, like the rest of quote mode.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import date
from functools import lru_cache
from typing import Callable, Sequence

from retrieval.models import Passage
from retrieval.question import Period, Reading, label_words, say_date
from retrieval.tables import (Cell, Row, amount, column_score, pick, rows_of, say_cell, say_label, say_value, top_cells,
                              when)

MAX_DOCUMENTS = 8  # filings compared side by side at most


@dataclass
class Stated:
    """A figure an answer states: the cell, the passage it is in, the line that says it."""

    passage: Passage
    cell: Cell
    line: str
    source: str = ""  # which filing or period, as a side-by-side row names it

    def to_dict(self) -> dict:
        col = self.cell.column
        return {
            "label": say_label(self.cell),
            "value": say_value(self.cell),
            "cell": self.cell.value,
            "unit": self.cell.row.unit or ("%" if "%" in self.cell.value else ""),
            "period": col.period_text() if col else "",
            "period_end": col.end.isoformat() if col and col.end else None,
            "months": col.months if col else None,
            "row": self.passage.chunk.text[self.cell.row.start : self.cell.row.end],
            "headings": self.cell.row.headings,
            "file": self.passage.chunk.path,
            "page": self.passage.chunk.page,
            "source": self.source,
        }


@dataclass
class SideBySide:
    """One figure across sources: rows in period order, the computed change, disagreements."""

    rows: list[Stated]
    change: str = ""  # "−$1,162 million (−1.4 %)", computed from the first and last rows
    differ: list[str] = field(default_factory=list)  # "June 25, 2022: $82,959 million in [1], $82,900 million in [3]"


ReadDocument = Callable[[str], Sequence[Passage]]  # path → every chunk of the document, as passages


def table_rows(passages: Sequence[Passage]) -> list[Row]:
    rows: list[Row] = []
    for i, p in enumerate(passages):
        rows.extend(_rows_of_chunk(p.chunk.id, p.chunk.text, p.chunk.context, i))
    return rows


@lru_cache(maxsize=20000)
def _rows_cached(chunk_id: str, text: str, context: str) -> tuple[Row, ...]:
    return tuple(rows_of(0, text, context))


def _rows_of_chunk(chunk_id: str, text: str, context: str, index: int) -> list[Row]:
    """A chunk's rows (read once per chunk: a document's tables are read for every question)."""
    return [replace(r, passage_index=index) for r in _rows_cached(chunk_id, text, context)]


def candidates(passages: Sequence[Passage], document: Sequence[Passage] = ()) -> tuple[list[Passage], list[Row], int]:
    """The passages a cell may come from — the retrieved ones first (they keep a rank prior), then
    the rest of the document's chunks — with their rows, and how many were retrieved. A chunk
    that opens with rows but carries no headings is read after the last lines of the chunk
    before it on its page, where a table's headings and unit ("Three Months Ended September 30,
    2023 2022", "(In millions)") were left when the loader did not see them as the table's."""
    seen = {p.chunk.id for p in passages}
    pool = [*passages, *(p for p in document if p.chunk.id not in seen)]
    before = {b.chunk.id: "\n".join(a.chunk.text.split("\n")[-8:]) for a, b in zip(document, document[1:])
              if a.chunk.path == b.chunk.path and a.chunk.unit == b.chunk.unit}
    rows: list[Row] = []
    for i, p in enumerate(pool):
        c = p.chunk
        context = c.context or before.get(c.id, "")
        rows.extend(_rows_of_chunk(c.id, c.text, context, i))
    return pool, rows, len(passages)


def figure_answer(reading: Reading, passages: Sequence[Passage], document: Sequence[Passage] = (),
                  only: str | None = None) -> Stated | None:
    """The cell of the passages' tables (and the rest of their document's, `document`) that
    answers a question asking for a figure, if a row names what is asked. `only`: the document
    the question names ("last quarter": the newest filing): other documents' rows are not read."""
    if not reading.wants_figure or not reading.metric:
        return None
    pool, rows, retrieved = candidates(passages, document)
    if only is not None:
        rows = [r for r in rows if pool[r.passage_index].chunk.path == only]
    cell = pick(reading, rows, retrieved)
    if cell is None:
        return None
    return Stated(pool[cell.row.passage_index], cell, say_cell(cell))


def _current(reading: Reading) -> Reading:
    """The reading for one filing of a side-by-side: its own current period, the span asked."""
    return replace(reading, period=Period(months=reading.period.months or 3), kind="amount")


def _ordered(found: list[Stated]) -> list[Stated]:
    def key(s: Stated):
        col = s.cell.column
        return (when(col) if col and when(col) else date.min, s.passage.chunk.path)
    return sorted(found, key=key)


def across_documents(reading: Reading, documents: Sequence[str], read: ReadDocument) -> SideBySide | None:
    """The figure in each of `documents` (each read whole with `read(path)`), side by side: the
    row label most of them share (the same line of the same statement), in each its current
    period; None when fewer than two filings state it."""
    now = _current(reading)
    per_document: list[tuple[list[Passage], list[Cell]]] = []
    for path in list(documents)[:MAX_DOCUMENTS]:
        pool, rows, _ = candidates((), read(path))
        per_document.append((pool, top_cells(now, rows, len(pool))))
    label = _shared_label([cells for _, cells in per_document])
    found: list[Stated] = []
    for pool, cells in per_document:
        same = [c for c in cells if _label_key(c) == label] if label else cells[:1]
        if same:
            cell = same[0]
            found.append(Stated(pool[cell.row.passage_index], cell, say_cell(cell),
                                source=_source_name(pool[cell.row.passage_index])))
    found = _one_per_period(_ordered(found))
    if len(found) < 2:
        return None
    return SideBySide(found, _change(found[0], found[-1]), _disagreements(found))


def within_row(reading: Reading, stated: Stated) -> SideBySide | None:
    """One filing's row, side by side across its columns of the same span (this quarter against
    the same quarter a year before): each cell cited to the same row."""
    row = stated.cell.row
    chosen = stated.cell.column
    if not row.columns or chosen is None:
        return None
    cells = []
    for i, col in enumerate(row.columns):
        if col.change or col.months != chosen.months or not col.end or amount(row.cells[i]) is None:
            continue
        cells.append(Cell(row, i, column_score(reading, col, i, len(row.cells))))
    if len(cells) < 2:
        return None
    found = _ordered([Stated(stated.passage, c, say_cell(c), source=c.column.period_text()) for c in cells])
    return SideBySide(found, _change(found[0], found[-1]))


def _label_key(cell: Cell) -> tuple:
    return (tuple(label_words(cell.row.label)), "%" in cell.value)


def _shared_label(per_document: list[list[Cell]]) -> tuple | None:
    """The row label (and kind of value) found among the best cells of the most documents, the
    better scored on a tie: one filing's "% of net revenue" row must not stand beside another's
    dollar amounts."""
    votes: dict[tuple, list[float]] = {}
    for cells in per_document:
        best: dict[tuple, float] = {}
        for c in cells:
            key = _label_key(c)
            best[key] = max(best.get(key, -1e9), c.score)
        for key, score in best.items():
            votes.setdefault(key, []).append(score)
    if not votes:
        return None
    return max(votes, key=lambda k: (len(votes[k]), sum(votes[k]) / len(votes[k])))


def _source_name(p: Passage) -> str:
    return p.file_name


def _one_per_period(found: list[Stated]) -> list[Stated]:
    """Filings of the same period (a file indexed twice under two names) appear once."""
    out: list[Stated] = []
    seen: set = set()
    for s in found:
        col = s.cell.column
        key = (col.end, col.months) if col and col.end else (s.passage.chunk.path,)
        if key not in seen:
            seen.add(key)
            out.append(s)
    return out


def _change(first: Stated, last: Stated) -> str:
    a, b = amount(first.cell.value), amount(last.cell.value)
    if a is None or b is None:
        return ""
    delta = b - a
    sign = "+" if delta > 0 else "−" if delta < 0 else "±"
    if "%" in first.cell.value:
        return f"{sign}{abs(delta):.1f} percentage points"
    unit = say_value(Cell(first.cell.row, first.cell.index, 0.0))
    digits = len(first.cell.value.split(".")[1].rstrip("%) ")) if "." in first.cell.value else 0
    shown = f"{abs(delta):,.{digits}f}"
    money = "$" if "$" in unit else ""
    scale = unit.split(" ", 1)[1] if " " in unit.strip() else ""
    pct = f" ({sign}{abs(delta) / abs(a) * 100:.1f} %)" if a else ""
    return f"{sign}{money}{shown}{' ' + scale if scale else ''}{pct}"


def _disagreements(found: list[Stated]) -> list[str]:
    """Periods two filings both state, with different values: "June 25, 2022: $82,959 million in
    2022 Q3 AAPL.pdf, $82,900 million in 2023 Q3 AAPL.pdf"."""
    seen: dict[tuple, list[tuple[Stated, int]]] = {}
    for s in found:
        row = s.cell.row
        for i, col in enumerate(row.columns):
            if col.end and not col.change and amount(row.cells[i]) is not None:
                seen.setdefault((col.end, col.months), []).append((s, i))
    out = []
    for (end, months), items in sorted(seen.items(), key=lambda kv: (kv[0][0], kv[0][1] or 0)):
        values = {amount(s.cell.row.cells[i]) for s, i in items}
        if len(items) > 1 and len(values) > 1:
            said = ", ".join(f"{say_value(Cell(s.cell.row, i, 0.0))} in {s.source}" for s, i in items)
            out.append(f"{say_date(end)}{f' ({months} months)' if months else ''}: {said}")
    return out


# -- the quote answer, put together ---------------------------------------------------------------


@dataclass
class Composed:
    """A quote answer: its sentences (text, the passages each cites, a role), the cited passages
    in citation order with the span each quote covers, and what it states, for `ask --json`."""

    sentences: list[tuple[str, list[int], str, float]] = field(default_factory=list)  # text, [n], role, score
    cited: list[tuple[Passage, tuple[int, int] | None, float]] = field(default_factory=list)
    figure: dict | None = None
    comparison: dict | None = None

    def cite(self, passage: Passage, span: tuple[int, int] | None, score: float = 1.0) -> int:
        for n, (p, _, _) in enumerate(self.cited, 1):
            if p.chunk.id == passage.chunk.id:
                return n
        self.cited.append((passage, span, score))
        return len(self.cited)


def _quote_of(stated: Stated) -> str:
    """The row under its table's headings, once."""
    row = stated.passage.chunk.text[stated.cell.row.start : stated.cell.row.end].strip()
    heads = "\n".join(stated.cell.row.headings[-3:])
    return f"{heads}\n{row}" if heads else row


def compose_figure(stated: Stated) -> Composed:
    out = Composed()
    n = out.cite(stated.passage, (stated.cell.row.start, stated.cell.row.end), stated.cell.score)
    out.sentences.append((stated.line, [n], "answer", stated.cell.score))
    out.sentences.append((_quote_of(stated), [n], "claim", stated.cell.score))
    out.figure = {**stated.to_dict(), "citation": n}
    return out


def _computed(n1: int, n2: int) -> str:
    a, b = sorted((n1, n2))
    return f"computed from [{a}]" if a == b else f"computed from [{a}] and [{b}]"


def _ratio(a: Stated, b: Stated) -> str:
    x, y = amount(a.cell.value), amount(b.cell.value)
    if x is None or not y or "%" in a.cell.value or "%" in b.cell.value:
        return ""
    return f"{say_label(a.cell)} {x / y * 100:.1f} % of {say_label(b.cell).lower()}"


def compose_side_by_side(sbs: SideBySide, by: str = "period") -> Composed:
    """`by` "period": one figure over periods or filings, from the first to the last; "label":
    two figures of one period ("operating expenses against revenue"), one row each."""
    out = Composed()
    # the newest period is what a reader asks about first ("the latest filing … compared to the
    # quarters before"): its source is [1], the rest follow back in time; rows read oldest first
    order = sbs.rows if by == "label" else sbs.rows[::-1]
    cited = {id(s): out.cite(s.passage, (s.cell.row.start, s.cell.row.end), s.cell.score) for s in order}
    numbers = [cited[id(s)] for s in sbs.rows]
    first, last = sbs.rows[0], sbs.rows[-1]
    n1, n2 = numbers[0], numbers[-1]
    label = say_label(first.cell)
    p1 = first.cell.column.period_text() if first.cell.column else first.source
    p2 = last.cell.column.period_text() if last.cell.column else last.source
    if by == "label":
        line = "; ".join(s.line for s in sbs.rows)
        if sbs.change:
            line += f"; {sbs.change}, {_computed(n1, n2)}"
    else:
        line = f"{label}: {say_value(first.cell)} ({p1}) → {say_value(last.cell)} ({p2})"
        if sbs.change:
            line += f"; change {sbs.change}, {_computed(n1, n2)}"
    out.sentences.append((line, sorted({n1, n2}), "answer", first.cell.score))
    for s, n in zip(sbs.rows, numbers):
        period = s.cell.column.period_text() if s.cell.column else ""
        source = say_label(s.cell) if by == "label" else s.source if s.source != period else ""
        cells = [c for c in (source, period, say_value(s.cell)) if c]
        out.sentences.append((" | ".join(cells), [n], "row", s.cell.score))
    for note in sbs.differ:
        out.sentences.append((f"The sources differ for {note}.", numbers, "note", 0.0))
    out.comparison = {
        "label": label,
        "rows": [{**s.to_dict(), "citation": n} for s, n in zip(sbs.rows, numbers)],
        "change": sbs.change or None,
        "computed_from": sorted({n1, n2}) if sbs.change else [],
        "differ": sbs.differ,
    }
    return out


def direct_answer(reading: Reading, passages: Sequence[Passage], documents: Sequence[str] = (),
                  read: ReadDocument | None = None, named: bool = False) -> Composed | None:
    """The figure or the side-by-side that opens a quote answer, or None (then the passages' best
    sentences answer, as before). `documents`: the filings the question is about, best first;
    `read(path)`: a document's chunks, whose tables are all read (the row asked for is often in
    a chunk ranked below the top few: a cell retriever, not a passage one). `named`: the question
    names these documents (its company, period, "the latest"): a figure comes from the first."""
    document = read(documents[0]) if read is not None and documents else ()
    only = documents[0] if named and documents else None
    if reading.parts:  # "operating expenses compared to revenue": each figure, side by side
        stated = [figure_answer(part, passages, document, only) for part in reading.parts]
        if all(stated):
            return compose_side_by_side(SideBySide(stated, _ratio(stated[0], stated[1])), by="label")
    if reading.change:
        sbs = across_documents(reading, documents, read) if read is not None and len(documents) > 1 else None
        if sbs is None:
            stated = figure_answer(replace(reading, kind="amount"), passages, document, only)
            sbs = within_row(reading, stated) if stated is not None else None
        if sbs is not None:
            return compose_side_by_side(sbs)
        return None
    stated = figure_answer(reading, passages, document, only)
    return compose_figure(stated) if stated is not None else None
