"""Answers with their citations → Markdown, self-contained HTML, PDF and JSON.

One module for the desktop app's Export (Ctrl+E), "Copy with citations" and the CLI's
`ask --export FILE`. It works on typed answers (retrieval.models.Answer); a serialised one
(`Answer.to_dict()`, what conversations store) is read back with `Answer.from_dict` where it
comes in, so an answer reopened next week exports the same. JSON writes `Answer.to_dict()`.
Every citation keeps its file, page and passage. Document text is escaped in HTML: a passage
holding `<script>` is shown as text, never run.
"""

from __future__ import annotations

import html
import json
import re
import time
from pathlib import Path
from typing import Sequence, Union

# Answer, Citation, where and match_words are also what ui/ renders with (it imports no retrieval)
from retrieval.models import Answer, AnswerSentence, Citation, match_words, refusal_message, where  # noqa: F401

Turn = Union[Answer, dict]  # an answer, or its serialised form (Answer.to_dict())

FORMATS = {".md": "markdown", ".markdown": "markdown", ".html": "html", ".htm": "html", ".pdf": "pdf", ".json": "json"}


class ExportError(ValueError):
    pass


# a follow-up question (retrieval/followup.py): what it was searched with, shown under it
FOLLOW_UP = "Searched as a follow-up of: "
REWRITTEN = "Searched as: "  # a follow-up the answering model rewrote (retrieval/condense.py)


def answer_of(turn: Turn) -> Answer:
    """An Answer as it is, a serialised one (`Answer.to_dict()`) read back."""
    return turn if isinstance(turn, Answer) else Answer.from_dict(turn)


def turn_notes(turn: Answer) -> list[str]:
    """What is said under a question: the files it was asked within, what it was read with, and
    what the library had not finished indexing (a refusal says that itself)."""
    notes = []
    if turn.incomplete and not turn.refused:
        notes.append("Asked while indexing: " + turn.incomplete)
    if turn.scope:
        notes.append("Asked within: " + ", ".join(Path(p).name or p for p in turn.scope))
    if turn.rewritten:
        notes.append(REWRITTEN + turn.rewritten)
    elif turn.read_with:
        notes.append(FOLLOW_UP + turn.read_with)
    return notes

def format_for(path: str | Path) -> str:
    ext = Path(path).suffix.lower()
    if ext not in FORMATS:
        raise ExportError(f"cannot export to '{ext or Path(path).name}': use .md, .html, .pdf or .json")
    return FORMATS[ext]


def _quote(c: Citation) -> str:
    return " ".join(((c.quote_text if c.quote else "") or c.passage.chunk.text).split())


def _title(turns: Sequence, title: str | None) -> str:
    if title:
        return title
    return "Citewise answer" if len(turns) == 1 else "Citewise conversation"


def _stamp() -> str:
    return time.strftime("%Y-%m-%d %H:%M")


# -- Markdown ----------------------------------------------------------------------------------


def _md_escape(text: str) -> str:
    # `<` keeps raw HTML (<script>, <img onerror>) inert; `[` and `]` keep a document's
    # ![tracker](http://…) and [link](javascript:…) from becoming a live image or link
    return re.sub(r"([\\`*_{}\[\]<>#|])", r"\\\1", text)


def _md_code(text: str) -> str:
    """`text` as a code span that no backtick inside it can close early (CommonMark)."""
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def answer_blocks(sentences: Sequence[AnswerSentence]) -> list[tuple[str, list[AnswerSentence]]]:
    """An answer's sentences as the views lay them out: ("rows", [side-by-side rows…]) for a run
    of rows (a table), ("sentence", [s]) for any other sentence."""
    out: list[tuple[str, list[AnswerSentence]]] = []
    for s in sentences:
        if s.role == "row":
            if out and out[-1][0] == "rows":
                out[-1][1].append(s)
            else:
                out.append(("rows", [s]))
        else:
            out.append(("sentence", [s]))
    return out


def row_headers(rows: Sequence[AnswerSentence]) -> list[str]:
    """Column names of a side-by-side: by filing (source, period, value) or by period."""
    width = max(len(r.text.split(" | ")) for r in rows)
    return ["Source", "Period", "Value"][-width:] + ["Cited"]  # a source is a filing, or the row compared


def _md_answer(turn: Answer) -> str:
    """The answer with its document text escaped and its own citation markers kept as written;
    the first line that states the figure in bold, a side-by-side as a table."""
    sentences = turn.sentences
    if not sentences:
        return _md_escape(turn.text)
    parts = []
    for kind, group in answer_blocks(sentences):
        if kind == "rows":
            heads = row_headers(group)
            table = ["| " + " | ".join(heads) + " |", "|" + "---|" * len(heads)]
            for r in group:
                cells = [_md_escape(c).replace("|", "\\|") for c in r.text.split(" | ")]
                cells = [""] * (len(heads) - 1 - len(cells)) + cells
                table.append("| " + " | ".join([*cells, "".join(f"[{int(n)}]" for n in r.citations)]) + " |")
            parts.append("\n\n" + "\n".join(table) + "\n")
            continue
        s = group[0]
        text = _md_escape(s.text) + (" " + "".join(f"[{int(n)}]" for n in s.citations) if s.citations else "")
        role = s.role
        if role == "answer":
            body = _md_escape(s.text).replace("\n", "  \n")
            marks = "".join(f"[{int(n)}]" for n in s.citations)
            parts.append(f"**{body}** {marks}\n")
        elif role == "heading":
            parts.append(f"\n\n**{text}**\n")
        elif role == "bullet":
            parts.append(f"\n- {text}")
        elif role == "note":
            parts.append(f"\n\n*{text}*")
        else:
            parts.append(f" {text}")
    return "".join(parts).strip()


def to_markdown(turns: Sequence[Turn], *, title: str | None = None, library: str | None = None) -> str:
    turns = [answer_of(t) for t in turns]
    lines = [f"# {_md_escape(_title(turns, title))}", ""]
    lines.append(f"*Exported {_stamp()}" + (f" from library “{_md_escape(library)}”" if library else "") + " by Citewise.*")
    for turn in turns:
        lines += ["", f"## {_md_escape(turn.question)}", ""]
        for note in turn_notes(turn):
            lines += [f"*{_md_escape(note)}*", ""]
        lines.append(_md_answer(turn) if not turn.refused else f"> {_md_escape(refusal_message(turn))}")
        if turn.refused:
            if turn.closest:
                lines += ["", "**Closest passages** (none answers the question):", ""]
                for c in turn.closest_citations:
                    lines.append(f"{c.n}. {_md_escape(where(c))}: “{_md_escape(_quote(c))}”")
            continue
        unsupported = [s for s in turn.sentences if s.unsupported]
        if turn.citations:
            lines += ["", "**Sources**", ""]
            for c in turn.citations:
                k = c.passage.chunk
                lines.append(f"[{c.n}] **{_md_escape(where(c))}**: “{_md_escape(_quote(c))}”  ")
                lines.append(f"    {_md_code(k.path)}, characters {k.start}–{k.end}")
        if unsupported:
            lines += ["", f"*{len(unsupported)} sentence(s) are not supported by the cited passages.*"]
    return "\n".join(lines) + "\n"


# -- HTML --------------------------------------------------------------------------------------

_CSS = """
body{font:15px/1.55 system-ui,-apple-system,"Segoe UI",sans-serif;max-width:46rem;margin:2rem auto;padding:0 1rem;color:#1d1d1f;background:#fff}
h1{font-size:1.5rem}h2{font-size:1.15rem;margin-top:2rem;border-top:1px solid #ddd;padding-top:1rem}
.meta{color:#666;font-size:.85rem}.answer{margin:.5rem 0}.unsupported{background:#fff3cd}
sup a{text-decoration:none;font-weight:600}ol.sources{padding-left:1.2rem}ol.sources li{margin:.6rem 0}
.where{font-weight:600}.path{color:#666;font-size:.8rem;word-break:break-all}blockquote{margin:.3rem 0;padding:.2rem .8rem;border-left:3px solid #8ab;color:#333}
table.side{border-collapse:collapse;margin:.4rem 0}table.side td,table.side th{border-bottom:1px solid #ddd}
.refused{border-left:4px solid #c60;padding:.3rem .8rem;background:#fff7ef}
@media (prefers-color-scheme:dark){body{background:#1e1e1e;color:#ddd}blockquote{color:#ccc}.refused{background:#33261a}.unsupported{background:#4a3f1a}}
"""


def _html_answer(turn: Answer, k: int) -> str:
    sentences = turn.sentences
    if not sentences:
        return html.escape(turn.text)
    parts = []
    for kind, group in answer_blocks(sentences):
        if kind == "rows":
            parts.append(html_rows(group, lambda n: f'<sup><a href="#t{k}-s{n}">[{n}]</a></sup>'))
            continue
        s = group[0]
        text = html.escape(s.text).replace("\n", "<br>")
        role = s.role
        if role == "heading":  # a summary's section
            parts.append(f"<br><b>{text}</b>")
            continue
        if role == "answer":
            text = f"<strong>{text}</strong>"
        if role == "note":
            text = f"<em>{text}</em>"
        if s.citations:
            text += "".join(f'<sup><a href="#t{k}-s{n}">[{n}]</a></sup>' for n in s.citations)
        elif len(s.text.split()) >= 3:
            text = f'<span class="unsupported" title="not supported by the sources">{text}</span>'
        parts.append(f"<br>• {text}" if role == "bullet" else text)
    return " ".join(parts).removeprefix("<br>")


def html_rows(rows: Sequence[AnswerSentence], link) -> str:
    """A side-by-side as an HTML table, each value with its citation link (`link(n)`)."""
    heads = row_headers(rows)
    out = ["<table class='side' cellpadding='4'><tr>" + "".join(f"<th align='left'>{h}</th>" for h in heads) + "</tr>"]
    for r in rows:
        cells = r.text.split(" | ")
        cells = [""] * (len(heads) - 1 - len(cells)) + cells
        out.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells)
                   + "<td>" + "".join(link(int(n)) for n in r.citations) + "</td></tr>")
    return "".join(out) + "</table>"


def to_html(turns: Sequence[Turn], *, title: str | None = None, library: str | None = None) -> str:
    turns = [answer_of(t) for t in turns]
    doc_title = html.escape(_title(turns, title))
    out = [
        "<!doctype html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        # self-contained and inert: no scripts, no remote loads
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">",
        f"<title>{doc_title}</title><style>{_CSS}</style></head><body>",
        f"<h1>{doc_title}</h1>",
        f'<p class="meta">Exported {_stamp()}' + (f" from library “{html.escape(library)}”" if library else "") + " by Citewise.</p>",
    ]
    for k, turn in enumerate(turns, 1):
        out.append(f"<h2>{html.escape(turn.question)}</h2>")
        for note in turn_notes(turn):
            out.append(f'<p class="meta">{html.escape(note)}</p>')
        if turn.refused:
            out.append(f'<p class="refused">{html.escape(refusal_message(turn))}</p>')
            if turn.closest:
                out.append("<p>Closest passages (none answers the question):</p><ol class=\"sources\">")
                for c in turn.closest_citations:
                    out.append(f'<li><span class="where">{html.escape(where(c))}</span><blockquote>{html.escape(_quote(c))}</blockquote></li>')
                out.append("</ol>")
            continue
        out.append(f'<p class="answer">{_html_answer(turn, k)}</p>')
        if turn.citations:
            out.append('<ol class="sources">')
            for c in turn.citations:
                chunk = c.passage.chunk
                out.append(
                    f'<li id="t{k}-s{c.n}" value="{int(c.n)}"><span class="where">{html.escape(where(c))}</span>'
                    f"<blockquote>{html.escape(_quote(c))}</blockquote>"
                    f'<div class="path">{html.escape(chunk.path)} · characters {int(chunk.start)}–{int(chunk.end)}</div></li>'
                )
            out.append("</ol>")
    out.append("</body></html>")
    return "\n".join(out)


# -- JSON --------------------------------------------------------------------------------------


def to_json(turns: Sequence[Turn], *, title: str | None = None, library: str | None = None) -> str:
    """The turns as `Answer.to_dict()` writes them (a serialised turn given as it is)."""
    saved = [t.to_dict() if isinstance(t, Answer) else t for t in turns]
    return json.dumps(
        {"title": _title(saved, title), "library": library, "exported_at": _stamp(), "turns": saved},
        indent=2,
        ensure_ascii=False,
    )


# -- PDF ---------------------------------------------------------------------------------------

_FONT_CANDIDATES = [
    "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
    "/usr/share/fonts/TTF/DejaVuSans.ttf",
    "/usr/share/fonts/dejavu/DejaVuSans.ttf",
    "/System/Library/Fonts/Supplemental/Arial Unicode.ttf",
    "/Library/Fonts/Arial Unicode.ttf",
    "C:/Windows/Fonts/arial.ttf",
    "C:/Windows/Fonts/segoeui.ttf",
]


def _unicode_font() -> str | None:
    for candidate in _FONT_CANDIDATES:
        if Path(candidate).is_file():
            return candidate
    return None


def to_pdf(turns: Sequence[Turn], *, title: str | None = None, library: str | None = None) -> bytes:
    from fpdf import FPDF

    turns = [answer_of(t) for t in turns]
    pdf = FPDF(format="A4")
    pdf.set_auto_page_break(auto=True, margin=15)
    pdf.set_title(_title(turns, title))
    pdf.set_creator("Citewise")
    font = _unicode_font()
    if font:
        pdf.add_font("Body", "", font)
        family = "Body"
        clean = lambda s: s  # noqa: E731
    else:  # the core font: Latin-1 only
        family = "Helvetica"
        clean = lambda s: s.encode("latin-1", "replace").decode("latin-1")  # noqa: E731
    pdf.add_page()
    width = pdf.w - pdf.l_margin - pdf.r_margin

    def para(text: str, size: float = 10.5, gap: float = 2.0) -> None:
        pdf.set_font(family, size=size)
        pdf.multi_cell(width, size * 0.5, clean(text), new_x="LMARGIN", new_y="NEXT")
        pdf.ln(gap)

    para(_title(turns, title), 16, 1)
    para(f"Exported {_stamp()}" + (f" from library '{library}'" if library else "") + " by Citewise.", 8.5, 4)
    for turn in turns:
        para("Q: " + turn.question, 12.5, 1.5)
        for note in turn_notes(turn):
            para(note, 8.5, 1)
        para(refusal_message(turn) if turn.refused else turn.text, 10.5, 2)
        sources = turn.citations if not turn.refused else turn.closest_citations
        if sources:
            para("Sources" if not turn.refused else "Closest passages (none answers the question)", 9.5, 0.5)
            for c in sources:
                chunk = c.passage.chunk
                para(f"[{c.n}] {where(c)}: \u201c{_quote(c)}\u201d", 9, 0.3)
                para(f"     {chunk.path}, characters {chunk.start}-{chunk.end}", 7.5, 1.2)
        pdf.ln(3)
    return bytes(pdf.output())


# -- one entry point ---------------------------------------------------------------------------

_WRITERS = {"markdown": to_markdown, "html": to_html, "json": to_json}


def render(turns: Sequence[Turn], fmt: str, **meta) -> bytes:
    if fmt == "pdf":
        return to_pdf(turns, **meta)
    if fmt not in _WRITERS:
        raise ExportError(f"unknown export format {fmt!r}")
    return _WRITERS[fmt](turns, **meta).encode("utf-8")


def export(turns: Sequence[Turn], path: str | Path, **meta) -> Path:
    """Write `turns` to `path` in the format its extension names, atomically."""
    path = Path(path).expanduser()
    data = render(turns, format_for(path), **meta)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_bytes(data)
    tmp.replace(path)
    return path


def clipboard_text(turn: Turn) -> str:
    """"Copy with citations": the answer, then its sources, as plain text."""
    turn = answer_of(turn)
    lines = [turn.text]
    if turn.citations:
        lines.append("")
        lines.extend(f"[{c.n}] {where(c)}: \u201c{_quote(c)}\u201d" for c in turn.citations)
    return "\n".join(lines)
