"""Quote mode: answer with the passages' own best sentences, verbatim, each with its citation.

A 135M-parameter model often writes a fluent sentence that drops the one fact asked for
("The first ferry leaves on weekdays."). Quote mode picks the sentences of the retrieved
passages that best answer the question — embedding similarity to the question plus the share
of the question's words they contain, with the passage's retrieval rank as a prior — and
returns them as written. Every sentence is supported by construction; bench/retrieval.py
measures how often the gold answer is contained against the generated answers.

Not all text is prose: a table row, a heading or a list item is a quotable unit of its own (a
passage is cut into lines wherever it holds table rows, or a "sentence" runs over several lines
without a full stop), so no quote is a twelve-line page header. A table row is scored with its
table's column headings (the chunk's context and the heading lines above its first row) and
quoted with them: the figures travel with the labels that say what they are.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import re

import numpy as np

from indexing.words import content_words
from retrieval.attribution import split_sentences
from retrieval.models import Passage


@dataclass
class Quote:
    passage_index: int
    start: int  # span within the passage text
    end: int
    score: float
    header: str = ""  # a table row's column headings (verbatim lines of the same table)

    def text(self, passages: Sequence[Passage]) -> str:
        return passages[self.passage_index].chunk.text[self.start : self.end].strip()

    def display(self, passages: Sequence[Passage]) -> str:
        """The quote as shown in an answer: a table row under its column headings."""
        row = self.text(passages)
        return f"{self.header}\n{row}" if self.header else row


_MAX_WORDS = 60  # a longer "sentence" without a full stop is cut into its lines


def is_row(line: str) -> bool:
    """A table row as the loaders write them: cells joined by " | ", some of them figures."""
    return " | " in line and any(ch.isdigit() for ch in line)


def _header_of(text: str, context: str, row_start: int) -> str:
    """The column headings of the table row at `row_start`: the heading lines (cells, no
    figures but years) that stand above the table's first row, in the chunk or its context."""
    above = [ln for ln in (context + "\n" + text[:row_start]).split("\n") if ln.strip()]
    heads: list[str] = []
    for line in reversed(above):
        if is_row(line) and not _headings_only(line):
            if heads:
                break
            continue  # rows between the headings and this row
        if " | " in line:
            heads.append(line.strip())
            if len(heads) == 3:
                break
        elif heads:
            break
    return "\n".join(reversed(heads))


_FIGURE = re.compile(r"[$€£%]|\(\s*\d|\d,\d{3}(?!\d)|\d\.\d|(?<![\d,])(?!(?:19|20)\d\d(?!\d))\d{3,}")


def _headings_only(line: str) -> bool:
    """Column headings: no figure but years and day numbers ("October 29, | 2023")."""
    return not _FIGURE.search(line)


def _heading_line(line: str, following: str) -> bool:
    """A heading standing on its own line above a sentence: a few mostly capitalised words, no
    closing punctuation, and the next line opens a sentence (a wrapped line of prose does not)."""
    words = line.split()
    return (
        0 < len(words) <= 8 and not line.rstrip().endswith((".", ",", ";", ":", "?", "!")) and not is_row(line)
        and sum(w[:1].isupper() or w[:1].isdigit() for w in words) * 2 >= len(words)
        and following.lstrip()[:1].isupper()
    )


def quotable_units(text: str) -> list[tuple[int, int]]:
    """Spans of `text` that can be quoted alone: its sentences; the lines of a "sentence" that
    holds table rows, or runs over several lines without ending (a page header, a list), or
    over 2 × 60 words; and a heading on the line above a sentence, apart from it."""
    out: list[tuple[int, int]] = []
    for s, e in split_sentences(text):
        segment = text[s:e]
        lines = segment.split("\n")
        ends = segment.rstrip().endswith((".", "!", "?", ".”", '."'))
        if len(lines) > 1 and (any(is_row(ln) for ln in lines) or (not ends and len(lines) > 2)
                               or len(segment.split()) > 2 * _MAX_WORDS):
            pos = s
            for line in lines:
                if line.strip():
                    lead = len(line) - len(line.lstrip())
                    out.append((pos + lead, pos + len(line.rstrip())))
                pos += len(line) + 1
            continue
        while len(lines) > 1 and _heading_line(lines[0], lines[1]) and len(lines[1].split()) > 3:
            head = lines.pop(0)
            if head.strip():
                lead = len(head) - len(head.lstrip())
                out.append((s + lead, s + len(head.rstrip())))
            s += len(head) + 1
        out.append((s, e))
    return out


_DATE_LIKE = re.compile(r"\b(?:19|20)\d\d\b|\b(?:January|February|March|April|May|June|July|August|September|"
                        r"October|November|December)\b")


def kind_bonus(reading, sentence: str) -> float:
    """A sentence that holds an answer of the kind asked for (a figure for "how much", a date for
    "when") ranks above one that only shares the question's words; a heading line, which holds no
    answer of any kind, below it."""
    if reading is None:
        return 0.0
    words = sentence.split()
    if reading.kind in ("amount", "percent", "count", "change"):
        if _FIGURE.search(sentence):
            return 0.08
        return -0.1 if len(words) < 5 else -0.03
    if reading.kind == "date":
        return 0.08 if _DATE_LIKE.search(sentence) else -0.03
    if reading.kind in ("reason", "other", "name", "yesno", "list") and len(words) < 5 and not is_row(sentence):
        return -0.05
    return 0.0


def best_sentences(
    question: str,
    passages: Sequence[Passage],
    embed: Callable[[list[str]], np.ndarray],
    *,
    max_sentences: int = 2,
    keep_ratio: float = 0.9,
    read_with: str | None = None,
    reading=None,
) -> list[Quote]:
    """The sentences that answer `question` best, in reading order within their passage. A
    follow-up (`read_with`: the earlier questions) is quoted from the document retrieval ranked
    first with the conversation, matched as the question alone and as read with them, half
    each: "and on weekends?" after a question about the ferry quotes the ferry's Saturday
    sentence, not the buses' page that has the word "weekends"."""
    q_words = content_words(question)
    if read_with and passages:
        passages = [p if p.chunk.path == passages[0].chunk.path else None for p in passages]
    candidates: list[tuple[int, int, int]] = []
    texts: list[str] = []
    headers: list[str] = []
    for i, p in enumerate(passages):
        if p is None:  # a follow-up's other documents
            continue
        text = p.chunk.text
        for s, e in quotable_units(text):
            sentence = text[s:e]
            row = is_row(sentence)
            if len(sentence.split()) < (2 if row else 4) or len(sentence.split()) > 2 * _MAX_WORDS:
                continue
            header = _header_of(text, p.chunk.context, s) if row else ""
            candidates.append((i, s, e))
            texts.append(f"{header}\n{sentence}" if header else sentence)
            headers.append(header)
    if not candidates:
        return []
    if read_with:
        vectors = embed([question, f"{read_with} {question}", *texts])
        sv = vectors[2:]
        cos = 0.5 * (sv @ vectors[0]) + 0.5 * (sv @ vectors[1])
    else:
        vectors = embed([question, *texts])
        sv = vectors[1:]
        cos = sv @ vectors[0]
    scores = []
    for (i, s, e), c, text in zip(candidates, cos, texts):
        overlap = len(q_words & content_words(text)) / len(q_words) if q_words else 0.0
        prior = 0.04 * (len(passages) - i) / max(len(passages), 1)  # better-ranked passages first
        scores.append(0.65 * float(c) + 0.35 * overlap + prior + kind_bonus(reading, passages[i].chunk.text[s:e]))
    order = sorted(range(len(candidates)), key=lambda k: -scores[k])
    best = scores[order[0]]
    chosen = [order[0]]
    for k in order[1:]:
        if len(chosen) >= max_sentences or scores[k] < keep_ratio * best:
            break
        chosen.append(k)
    chosen.sort(key=lambda k: (candidates[k][0], candidates[k][1]))
    return [Quote(candidates[k][0], candidates[k][1], candidates[k][2], scores[k], headers[k]) for k in chosen]
