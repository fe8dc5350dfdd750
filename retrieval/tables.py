"""Table rows of retrieved passages, read as cells under their column headings, and the one cell
a question asks for.

The loaders write a table row as `label | $9,243 | $680`, its column headings as rows of
headings above the first row of figures ("Three Months Ended | Nine Months Ended" over
"July 1, 2023 | June 25, 2022 | …"), and a later chunk of a table carries those headings as its
`context` (indexing/chunking.py). Here each row becomes a `Row`: its label (a label wrapped over
lines joined), the section it sits under ("Net sales:"), its value cells, and for each cell a
`Column` read from the headings stacked above it — how many months it covers, the date it ends,
whether it is a change column — plus the table's unit ("In millions") and currency. A heading row
with fewer cells than the row spans them evenly (two period groups over six columns).

`pick` scores every row's label against what the question measures (words, plurals, the
synonyms of retrieval/question.py) and every cell's column against the period it names (a
date, a year, three or nine months, else the table's first, current column). This is the cell
retriever of FinQA and TAT-QA's evidence tagging, done with rules: quote mode stays model-free.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import date
from typing import Sequence

from retrieval.question import DATE, Reading, label_words, parse_date, say_date, _widened
from retrieval.quote import is_row

_UNIT = re.compile(r"\bin\s+(millions|billions|thousands)\b", re.I)
_UNIT_OPENING = re.compile(r"\(\s*(?:\$\s*)?in\s+(millions|billions|thousands)\b", re.I)  # "(In millions, except …"
_MONTHS_SPAN = re.compile(r"\b(three|six|nine|twelve)\s+months\b", re.I)
_SPAN_N = {"three": 3, "six": 6, "nine": 9, "twelve": 12}
_PERIODISH = re.compile(r"\bmonths\s+ended\b|\bquarter\s+ended\b|\byear\s+ended\b|\bweeks\s+ended\b", re.I)
_FIGURE = re.compile(r"\d")
_GENERIC_LABELS = frozenset("total other basic diluted net revenue revenues".split())


@dataclass(frozen=True)
class Column:
    heading: str  # the headings stacked above the cell, joined
    months: int | None = None
    end: date | None = None
    year: int | None = None
    change: bool = False

    def period_text(self) -> str:
        """"three months ended July 1, 2023" / "as of July 1, 2023" / "2023" / ""."""
        if self.end and self.months:
            return f"{_WORD_OF[self.months]} months ended {say_date(self.end)}"
        if self.end:
            return f"as of {say_date(self.end)}"
        return str(self.year) if self.year else ""

    def other_heading(self) -> str:
        """What the heading says besides the period: a segment, "Consolidated"."""
        text = DATE.sub(" ", self.heading)
        text = re.sub(r"(?i)\b(three|six|nine|twelve)\s+months\s+ended\b|\b(19|20)\d\d\b|\bended\b|[$%]", " ", text)
        text = re.sub(r"(?i)\b(?:" + "|".join(_MONTH_WORDS) + r")\b\s*\d{0,2},?", " ", text)
        text = re.sub(r"(?i)\bQ[1-4]\b|\bYTD\b|%\s*of\s+net\b.*|\(in [^)]*\)?|\bunaudited\b", " ", text)
        text = " ".join(text.replace(",", " ").split())
        return "" if re.fullmatch(r"(?i)(change|\s)*", text) else text


_WORD_OF = {3: "three", 6: "six", 9: "nine", 12: "twelve"}
_MONTH_WORDS = ("january", "february", "march", "april", "may", "june", "july", "august", "september", "october",
                "november", "december")


def column_of(heading: str) -> Column:
    h = re.sub(r"(?i)(" + "|".join(_MONTH_WORDS) + r")(\d)", r"\1 \2", heading.replace("$", " "))
    m = _MONTHS_SPAN.search(h)
    end = parse_date(h)
    year = end.year if end else None
    if year is None:
        years = re.findall(r"(?<!\d)((?:19|20)\d\d)(?!\d)", h)
        year = int(years[-1]) if years else None
    change = bool(re.search(r"(?i)\bchange|^\s*%\s*$|\bpts\b", h))
    months = _SPAN_N[m.group(1).lower()] if m else None
    quarter = re.search(r"(?i)\bQ[1-4]\s+((?:19|20)\d\d)\b", h)  # Intel's "Q3 2023 | Q3 2022"
    if quarter and months is None:
        months = 3
    if re.search(r"(?i)\bYTD\b|\byear to date\b", h) and (months is None or quarter):
        months = None
    return Column(" ".join(heading.split()), months, end, year, change)


def when(col: "Column") -> date | None:
    """A column's period for ordering: its end date, else the end of its year."""
    return col.end or (date(col.year, 12, 31) if col.year else None)


@dataclass
class Row:
    passage_index: int
    start: int  # the row's span within the passage text
    end: int
    label: str
    section: str  # the "Net sales:" line it sits under, if any
    cells: list[str]  # its value cells as written
    columns: list[Column]  # one per cell ([] where the headings could not be matched to the cells)
    headings: list[str]  # the table's heading lines, verbatim, for the quote
    unit: str  # "million" | "billion" | "thousand" | ""
    currency: bool
    title: str = ""
    unit_line: str = ""

    def text(self, passage_text: str) -> str:
        return passage_text[self.start : self.end]


@dataclass
class _State:
    headings: list[str] = field(default_factory=list)  # heading rows with cells (" | ")
    shown: list[str] = field(default_factory=list)  # the same heading lines, verbatim (for quotes)
    groups: list[str] = field(default_factory=list)  # period lines spanning all columns
    inner: str = ""  # a period line between rows ("Three Months Ended October 29, 2023")
    unit: str = ""
    unit_line: str = ""
    title: str = ""
    section: str = ""
    pending: list[str] = field(default_factory=list)  # a label wrapped over lines
    in_rows: bool = False
    dollars: bool = False


def _cells(line: str) -> list[str]:
    return [c.strip() for c in line.split(" | ")]


def _headings_only(line: str) -> bool:
    line = DATE.sub(" ", line)
    return not re.search(r"[$€£%]\s*\d|\d,\d{3}|\d\.\d|\(\d", line) and not re.search(
        r"(?<![\d,])(?!(?:19|20)\d\d)\d{3,}", line)


def _period_line(line: str) -> bool:
    return len(line.split()) <= 9 and bool(_PERIODISH.search(line) or (DATE.search(line) and len(line.split()) <= 4))


_CONNECTORS = (" and", " of", " &", ",", "-", " for", " in", " on", " to", " the")


def unit_before(context: str, text: str, start: int) -> tuple[str, str]:
    """The unit the table at `start` is stated in ("In millions", also wrapped over lines), and
    the words around it (which say whether shares are counted in thousands)."""
    before = " ".join((context + " " + text[: max(start, 0)])[-1500:].split())
    found = list(_UNIT_OPENING.finditer(before)) or list(_UNIT.finditer(before))
    if not found:
        return "", ""
    m = found[-1]
    return m.group(1).lower().rstrip("s"), before[max(0, m.start() - 20) : m.end() + 120]


_DATE_YEARS = re.compile(r"(?i)((?:(?:three|six|nine|twelve)\s+months\s+ended\s+)?[a-z]+\.?\s*\d{1,2},)\s*"
                         r"((?:19|20)\d\d)((?:\s+(?:19|20)\d\d)+)\s*$")


def _spread(line: str) -> str:
    """A heading line without cell separators that names several periods, as cells: "Sep 30,
    2023 Oct 1, 2022", "Three Months Ended Nine Months Ended", "Three Months Ended September 30,
    2023 2022" (one date, then the years of its columns)."""
    years = _DATE_YEARS.search(line)
    if years and DATE.search(years.group(1) + " " + years.group(2)):
        return " | ".join(f"{years.group(1)} {y}" for y in [years.group(2), *years.group(3).split()])
    for pattern in (DATE, _MONTHS_ENDED):
        found = [m.group(0) for m in pattern.finditer(line)]
        if len(found) > 1:
            return " | ".join(found)
    return ""


_MONTHS_ENDED = re.compile(r"\b(?:three|six|nine|twelve)\s+months\s+ended\b", re.I)


def rows_of(passage_index: int, text: str, context: str = "") -> list[Row]:
    """The table rows of a passage, each read with the headings above it (in the chunk, or in the
    context its chunk carries)."""
    st = _State()
    out: list[Row] = []
    for start, raw in _lines_of(text, context):
        line = raw.strip()
        if not line:
            st.pending.clear()
            continue
        if " | " in line and _headings_only(line):
            _add_heading(st, line, line)
            continue
        if is_row(line):
            row = _read_row(st, passage_index, text, context, start, raw, line)
            if row is not None:
                out.append(row)
            continue
        _read_other_line(st, line)
    return out


def _lines_of(text: str, context: str) -> list[tuple[int, str]]:
    """The lines to read, each with its offset in `text`: the context's lines first, at -1."""
    lines = [(-1, ln) for ln in context.split("\n")] if context else []
    pos = 0
    for ln in text.split("\n"):
        lines.append((pos, ln))
        pos += len(ln) + 1
    return lines


def _add_heading(st: _State, heading: str, shown: str) -> None:
    """A heading row (its cells `heading`, written as `shown`): after rows, it starts another table."""
    st.pending.clear()
    if st.in_rows:
        st.headings, st.shown, st.groups, st.inner, st.in_rows = [], [], [], "", False
    st.headings.append(heading)
    st.shown.append(shown)


def _row_label(st: _State, cells: list[str]) -> str:
    """A row's label, joined with the wrapped lines above it, and the section those lines set."""
    wrapped = st.pending and (st.pending[-1].endswith(_CONNECTORS) or cells[0][:1].islower())
    if st.pending and not wrapped and st.pending[-1][:1].isupper() and (
            st.in_rows or len(st.pending[-1].split()) <= 3):  # "Revenue" over the segments' rows
        st.section = st.pending[-1]  # "Operating expenses" over its rows
    first = len(st.pending) - 1
    while first > 0 and (st.pending[first - 1].endswith(_CONNECTORS) or st.pending[first][:1].islower()):
        first -= 1
    label = " ".join([*(st.pending[first:] if wrapped else []), cells[0]]).strip()
    st.pending.clear()
    return label


def _read_row(st: _State, passage_index: int, text: str, context: str, start: int, raw: str,
              line: str) -> Row | None:
    """A table row: the `Row` it is, or None where it is no row of figures or a row of the context."""
    cells = _cells(line)
    label = _row_label(st, cells)
    values = cells[1:]
    if not values or _FIGURE.search(label) and not re.search(r"[A-Za-z]{3}", label):
        return None
    st.in_rows = True
    st.dollars = st.dollars or "$" in line
    if start < 0:
        return None  # a row of the context: read for the state only
    lead = len(raw) - len(raw.lstrip())
    unit, unit_line = unit_before(context, text, start)
    return Row(passage_index, start + lead, start + len(raw.rstrip()), label, st.section, values,
               _columns(len(values), st), list(st.shown), unit, st.dollars or "$" in unit_line,
               st.title, unit_line)


def _read_other_line(st: _State, line: str) -> None:
    """A line that is no row: a unit, headings, a period, prose, a section, or a label's part."""
    unit = _UNIT.search(line)
    if unit and len(line) < 200:
        st.unit = unit.group(1).lower().rstrip("s")
        st.unit_line = line
    spread = _spread(line)
    if spread:  # "Sep 30, 2023 Oct 1, 2022 …" or "Three Months Ended Nine Months Ended": headings
        _add_heading(st, spread, line)
        return
    if unit and len(line) < 200:
        return
    if _period_line(line):
        if st.in_rows:
            st.inner = line
        else:
            st.groups.append(line)
        return
    words = line.split()
    if len(words) > 12 or line.endswith((".", ";")):
        st.__init__()  # prose: whatever follows is another table
        return
    if line.endswith(":"):
        if not line[:1].isupper():
            return  # the end of a wrapped sentence: "millions):"
        st.section = line.rstrip(":").strip()
        st.pending.clear()
        return
    st.pending.append(line)  # a label wrapped over lines, or a sub-heading of the rows below
    if not st.in_rows:
        st.title = line


def _columns(n: int, st: _State) -> list[Column]:
    parts: list[list[str]] = [[] for _ in range(n)]
    for line in st.groups:
        for p in parts:
            p.append(line)
    matched = False
    for line in st.headings:
        cells = _cells(line)
        m = len(cells)
        if m == n + 1 and not _FIGURE.search(cells[0]) or m == n + 1 and _MONTHS_SPAN.search(cells[0]):
            for p in parts:  # "Three Months Ended September 30, | 2023 | 2022": the first spans them
                p.append(cells[0])
            cells, m = cells[1:], n
        if m > n:
            cells = [c for c in cells if not re.fullmatch(r"(?i)\$?\s*%?\s*change\s*[$%]?|[$%]", c)]
            m = len(cells)
        if m == n:
            for i in range(n):
                parts[i].append(cells[i])
            matched = True
        elif 0 < m < n and n % m == 0:
            for i in range(n):
                parts[i].append(cells[i // (n // m)])
    if st.inner:
        for p in parts:
            p.append(st.inner)
    if not matched and not st.groups and not st.inner:
        return []
    return [column_of(" ".join(p)) for p in parts]


# -- the cell a question asks for -------------------------------------------------------------


@dataclass
class Cell:
    row: Row
    index: int  # which value cell
    score: float

    @property
    def value(self) -> str:
        return self.row.cells[self.index]

    @property
    def column(self) -> Column | None:
        return self.row.columns[self.index] if self.row.columns else None


def label_score(reading: Reading, row: Row) -> float:
    """How well the row's label names what the question measures (0 … 1): the share of the
    metric's words in the label (a word of its section or column headings counts half), with the
    share of the label's words the question asked for."""
    metric = list(dict.fromkeys(reading.metric))
    if not metric:
        return 0.0
    label = label_words(row.label)
    if not label:
        return 0.0
    if row.section and all(w in _GENERIC_LABELS or w == "sale" for w in label):
        label = [*label_words(row.section), *label]  # "AWS" over "Net sales": the AWS segment's
    wide_label = _widened(label)
    around = set(label_words(" ".join([row.section, row.title, *(c.heading for c in row.columns)])))
    around = _widened(list(around))
    got = sum(reading.weight(m) * (1.0 if m in wide_label else 0.5 if m in around else 0.0) for m in metric)
    if not any(m in wide_label for m in metric):
        return 0.0
    recall = got / sum(reading.weight(m) for m in metric)
    precision = sum(1 for w in label if w in reading.wide) / len(label)
    return 0.6 * recall + 0.4 * precision


def column_score(reading: Reading, col: Column | None, index: int, n: int, newest: date | None = None,
                 spans: frozenset = frozenset({3})) -> float:
    """How well a column is the period asked about; on a tie the newest column (the filing's
    current period), else the table's first. `spans`: the months the row's columns cover (a
    cash-flow statement has no quarter: its nine months answer "the Q3 filing's cash flow")."""
    first = 0.3 * (n - index) / n
    if col is None:
        return first
    if newest and when(col):
        first = 0.3 if when(col) == newest else 0.0
    if col.change:
        return -5.0
    p = reading.period
    score = first
    if p.dates:
        score += 3.0 if col.end in p.dates else -1.0 if col.end else 0.0
    wanted = p.months or (3 if (p.quarters or p.latest) else None)
    if wanted and col.months and (wanted in spans or p.months):
        score += 1.0 if col.months == wanted else -1.0
    elif col.months == 3:
        score += 0.2  # a quarter's figure, the one a filing leads with
    if p.years and col.year:
        score += 0.6 if col.year in p.years else -0.4
    return score


_STATEMENT = re.compile(r"(?i)statements? of (?:consolidated )?(?:operations|income|earnings|cash flows)|balance sheets?")


def top_cells(reading: Reading, rows: Sequence[Row], retrieved: int, min_label: float = 0.55, n: int = 8) -> list[Cell]:
    """The best cell of each row that names what `reading` asks (its label scored against the
    metric, its columns against the period), best first. Rows of the first `retrieved` passages
    (those retrieval ranked) keep a rank prior; a primary statement's row a small bonus."""
    best: dict[int, Cell] = {}
    pct_wanted = reading.kind == "percent"
    for k, row in enumerate(rows):
        ls = label_score(reading, row)
        if ls < min_label:
            continue
        prior = 0.06 * (retrieved - row.passage_index) / retrieved if row.passage_index < retrieved else 0.0
        if _STATEMENT.search(row.title) or _STATEMENT.search(" ".join(row.headings)):
            prior += 0.05
        ends = [when(c) for c in row.columns if when(c) and not c.change]
        newest = max(ends) if ends else None
        spans = frozenset(c.months for c in row.columns if c.months)
        for i, value in enumerate(row.cells):
            if not _FIGURE.search(value):
                continue
            cs = column_score(reading, row.columns[i] if row.columns else None, i, len(row.cells), newest, spans)
            if pct_wanted and "%" not in value and "rate" not in row.label.lower():
                cs -= 0.5
            if not pct_wanted and "%" in value and reading.kind == "amount":
                cs -= 0.3
            total = ls * 2.0 + cs * 0.5 + prior
            if k not in best or total > best[k].score:
                best[k] = Cell(row, i, total)
    return sorted(best.values(), key=lambda c: -c.score)[:n]


def pick(reading: Reading, rows: Sequence[Row], retrieved: int, min_label: float = 0.55) -> Cell | None:
    """The cell that answers `reading`, or None when no row names what is asked."""
    cells = top_cells(reading, rows, retrieved, min_label, n=1)
    return cells[0] if cells else None


def say_value(cell: Cell) -> str:
    """The cell with its unit: "$81,797 million", "12.5 %", "$1.26 per share", "(265)" → "−$265 million"."""
    raw = cell.value.replace(" ", "")
    row = cell.row
    negative = raw.startswith("(") or raw.startswith("$(") or raw.startswith("-") or raw.startswith("−")
    number = re.sub(r"[^\d.,]", "", raw)
    if not number:
        return cell.value
    if "%" in raw:
        return f"{'−' if negative else ''}{number} %"
    label = f"{row.section} {row.label}".lower()
    per_share = "per share" in label or "per diluted share" in label or (
        row.section.lower().startswith("earnings per share"))
    shares = "shares" in label and not per_share
    money = row.currency or "$" in raw
    unit = ""
    if shares:
        unit = " thousand shares" if re.search(r"shares[^)]*thousands", row.unit_line, re.I) else " shares"
        money = False
    elif not per_share and row.unit:
        unit = f" {row.unit}"
    sign = "−" if negative else ""
    return f"{sign}{'$' if money else ''}{number}{unit}{' per share' if per_share and money else ''}"


def say_label(cell: Cell) -> str:
    """The row's label, with what makes it specific: its section for a generic one ("Diluted
    (Earnings per share)"), the column's segment ("Revenue, Compute & Networking")."""
    row = cell.row
    label = re.sub(r"[®™]|\s*\(\d\)$", "", row.label).rstrip(":").strip()
    words = label_words(label)
    if row.section and (len(words) <= 1 and (not words or words[0] in _GENERIC_LABELS or len(label) < 12)):
        label = f"{label} ({row.section})"
    col = cell.column
    other = col.other_heading() if col else ""
    if other and len(other) < 40:
        label = f"{label}, {other}"
    return label


def say_cell(cell: Cell) -> str:
    """The answer's first line: "Total net sales, three months ended July 1, 2023: $81,797 million"."""
    col = cell.column
    period = col.period_text() if col else ""
    return f"{say_label(cell)}{', ' + period if period else ''}: {say_value(cell)}"


def amount(value: str) -> float | None:
    """A cell's number, signed: "(1,353)" → -1353.0; None for "—"."""
    raw = value.replace(" ", "")
    number = re.sub(r"[^\d.]", "", raw.replace(",", ""))
    if not number or number == ".":
        return None
    try:
        x = float(number)
    except ValueError:
        return None
    return -x if raw.startswith(("(", "$(", "-", "−")) else x
