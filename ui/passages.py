"""Passages as HTML for the chat view's source cards and the source viewer: prose as text, a
table's rows (cells joined by " | ", as the loaders write them) as a grid whose columns line up."""

from __future__ import annotations

import html


def is_row(line: str) -> bool:
    return " | " in line


def _headings(cells: list[str]) -> bool:
    """Column headings ("Three Months Ended", "October 29,", "2023"), not a labelled row."""
    def heading(cell: str) -> bool:
        if any(ch in "$%(" for ch in cell):
            return False
        digits = any(ch.isdigit() for ch in cell)
        letters = any(ch.isalpha() for ch in cell)
        return not digits or letters or len(cell.strip(", ")) == 4  # words, a date, a year
    return all(heading(c) for c in cells) and not (
        any(ch.isalpha() for ch in cells[0]) and not any(ch.isdigit() for ch in cells[0]) and any(
            ch.isdigit() for c in cells[1:] for ch in c))


def passage_html(text: str, quote: tuple[int, int] | None, context: str, mark: str, anchor: str = "") -> str:
    """A passage as HTML: prose as text, table rows (cells joined by " | ") as a grid whose
    columns line up, under the table's column headings when the passage continues a table; the
    quoted span (or the quoted row) highlighted; with `anchor`, a named anchor where it starts."""
    mark_at = f"<a name='{anchor}'></a>" if anchor else ""
    anchored = False
    out: list[str] = []
    rows: list[tuple[list[str], bool]] = []

    def flush_rows() -> None:
        if not rows:
            return
        width = max(len(cells) for cells, _ in rows)
        grid = ["<table cellspacing='0' cellpadding='2' style='font-family:monospace'>"]
        nonlocal anchored
        for cells, hit in rows:
            tds = []
            missing = [""] * (width - len(cells))
            # column headings stand over the figures (no label column); a short row keeps its label
            padded = [*missing, *cells] if _headings(cells) else [cells[0], *missing, *cells[1:]]
            for i, cell in enumerate(padded):
                align = "left" if i == 0 else "right"
                at = ""
                if hit and not anchored and i == 0:
                    at, anchored = mark_at, True
                tds.append(f"<td align='{align}'>{at}{html.escape(cell)}</td>")
            style = f" style='background-color:{mark}'" if hit else ""
            grid.append(f"<tr{style}>{''.join(tds)}</tr>")
        grid.append("</table>")
        out.append("".join(grid))
        rows.clear()

    head = [ln for ln in context.split("\n") if is_row(ln)] if context and is_row(text.split("\n", 1)[0]) else []
    for line in head:
        rows.append(([c.strip() for c in line.split(" | ")], False))
    pos = 0
    for line in text.split("\n"):
        a, b = pos, pos + len(line)
        pos = b + 1
        hit = bool(quote) and a < quote[1] and quote[0] < b
        if is_row(line):
            rows.append(([c.strip() for c in line.split(" | ")], hit))
            continue
        flush_rows()
        if quote and hit:
            s, e = max(quote[0], a) - a, min(quote[1], b) - a
            at = "" if anchored else mark_at
            anchored = True
            out.append(html.escape(line[:s]) + f"{at}<span style='background-color:{mark}'>{html.escape(line[s:e])}</span>"
                       + html.escape(line[e:]) + "<br>")
        else:
            out.append(html.escape(line) + "<br>")
    flush_rows()
    return "".join(out)
