"""A whole document summarised, every bullet cited to its page: extractive, no LLM.

"Summarise this report" is not a question: retrieving five chunks and quoting them covers a
corner of the document. Here every chunk is read. The document is cut into sections — by its
headings where it has them (the top two levels), else by page ranges (about ten parts) — and
each section gives the sentences most central to it (closest to the mean of its sentences'
embeddings, each next one also unlike those already chosen), in reading order: 1 bullet for a
short section, 2 for a longer one, 3 for a long one. Each bullet is quoted verbatim and cited
to its chunk, page and span, so it is checked like any answer (and opens at its page).

`summarize` is a generator: SummaryProgress(sections done, total) while it embeds, then the Answer.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterator, Sequence

import numpy as np

from indexing.models import Chunk
from retrieval.models import Answer, AnswerSentence, Citation, Passage, render_sentences
from retrieval.quote import quotable_units

MIN_WORDS, MAX_WORDS = 6, 45
SENTENCES_PER_SECTION = 200  # read at most this many of a very long section (the first ones)


@dataclass
class SummaryProgress:
    """Sections of a document summarised so far."""

    done: int
    total: int


@dataclass
class Section:
    title: str
    sentences: list[tuple[Chunk, int, int]]  # (chunk, start, end) of each candidate, in reading order


_HEADING_LINE = re.compile(r"^(#{1,6})\s+(.+)$")


def _heading_lines(text: str) -> list[tuple[int, int | None, str]]:
    """(offset, level or None, title) of the lines of a chunk that stand as headings: "## Title"
    as the Markdown loader keeps them, or a short line without an ending between blank lines."""
    out, offset = [], 0
    lines = text.split("\n")
    for i, line in enumerate(lines):
        stripped = line.strip()
        m = _HEADING_LINE.match(stripped)
        alone = (i == 0 or not lines[i - 1].strip()) and (i + 1 == len(lines) or not lines[i + 1].strip())
        if m:
            out.append((offset, len(m.group(1)), m.group(2).strip()))
        elif alone and stripped and len(stripped.split()) <= 10 and stripped[-1] not in ".!?:;,|" and " | " not in stripped:
            out.append((offset, None, stripped))
        offset += len(line) + 1
    return out


def _key(sentence: str) -> str:
    return " ".join(sentence.split()).casefold()


def _repeated(chunks: Sequence[Chunk]) -> set[str]:
    """Sentences found in more than one place of the document (chunks overlap: counted by start)."""
    places: dict[str, set[tuple[int, int]]] = {}
    for c in chunks:
        for s, e in quotable_units(c.text):
            places.setdefault(_key(c.text[s:e]), set()).add((c.unit, c.start + s))
    return {key for key, where in places.items() if len({unit for unit, _ in where}) > 1 or len(where) > 2}


_CHECK_BOXES = re.compile("[☐☑☒✓✔✗✘]")


def shouting(sentence: str) -> bool:
    """Mostly capitals: a title page, a header, a table's caption."""
    letters = [ch for ch in sentence if ch.isalpha()]
    return sum(ch.isupper() for ch in letters) > 0.4 * len(letters)


def _candidate(sentence: str, key: str, repeated: set[str]) -> bool:
    """Whole sentences of prose: not a table row, a fragment (starting in lower case), a line
    without an ending, capitals (a title page), a form's check boxes (a 10-Q's cover: "Yes ☒ No ☐
    Indicate by check mark…"), or text the document repeats (running headers, "See accompanying
    Notes")."""
    n = len(sentence.split())
    return (MIN_WORDS <= n <= MAX_WORDS and " | " not in sentence and not shouting(sentence) and sentence[-1:] in ".!?)\"'”"
            and not _CHECK_BOXES.search(sentence)
            and (sentence[0].isupper() or sentence[0].isdigit()) and key not in repeated)


def sections(chunks: Sequence[Chunk], parts: int = 10) -> list[Section]:
    """The document's candidate sentences cut into sections: by heading (the top two levels,
    also the headings inside a chunk) when it has headings, else into about `parts` page ranges."""
    chunks = sorted(chunks, key=lambda c: c.index)
    if not chunks:
        return []
    repeated = _repeated(chunks)
    by_heading = sum(1 for c in chunks if c.heading) >= len(chunks) / 2
    units = sorted({c.unit for c in chunks})
    size = max(1, math.ceil(len(units) / parts))
    kind = "Page" if chunks[0].unit_kind.value == "page" else "Part"
    out: list[Section] = []
    seen: set[str] = set()
    for c in chunks:
        path = list(c.heading)
        inner = _heading_lines(c.text) if by_heading else []
        for s, e in quotable_units(c.text):
            while inner and inner[0][0] <= s:  # a heading inside the chunk, above this sentence
                _, level, title = inner.pop(0)
                depth = level or 2  # a plain heading line: a section under the top one
                path = path[: depth - 1] + [title]
            sentence = c.text[s:e].strip()
            key = _key(sentence)
            if key in seen or not _candidate(sentence, key, repeated):
                continue
            seen.add(key)
            if by_heading:
                title = " › ".join(path[:2]) or "Opening"
            else:
                first = units[units.index(c.unit) // size * size]
                last = units[min(len(units), units.index(first) + size) - 1]
                title = f"{kind}s {first}–{last}" if first != last else f"{kind} {first}"
            if not out or out[-1].title != title:
                out.append(Section(title, []))
            out[-1].sentences.append((c, s, e))
    return _merged(out) if by_heading else out


def _merged(parts: list[Section], at_most: int = 24) -> list[Section]:
    """Many small sections (a heading per paragraph) joined to their neighbours."""
    while len(parts) > at_most:
        i = min(range(len(parts) - 1), key=lambda k: len(parts[k].sentences) + len(parts[k + 1].sentences))
        parts[i] = Section(parts[i].title, parts[i].sentences + parts[i + 1].sentences)
        del parts[i + 1]
    return parts


def _central(vectors: np.ndarray, k: int, diversity: float = 0.5) -> list[int]:
    """Indices of k central rows, greedily, each penalised by its likeness to those chosen."""
    centroid = vectors.mean(axis=0)
    centroid /= np.linalg.norm(centroid) or 1.0
    central = vectors @ centroid
    chosen: list[int] = []
    while len(chosen) < min(k, len(vectors)):
        penalty = (vectors @ vectors[chosen].T).max(axis=1) if chosen else np.zeros(len(vectors))
        score = central - diversity * penalty
        score[chosen] = -np.inf
        chosen.append(int(np.argmax(score)))
    return chosen


def bullets_for(section: Section) -> int:
    n = len(section.sentences)
    return 1 if n < 4 else 2 if n < 20 else 3


def extractive_bullets(section: Section, embed: Callable[[list[str]], np.ndarray]) -> list[tuple[Chunk, tuple[int, int]]]:
    """The section's most central sentences, in reading order: (chunk, (start, end)) of each."""
    found = section.sentences[:SENTENCES_PER_SECTION]
    if not found:
        return []
    vectors = np.asarray(embed([c.text[s:e] for c, s, e in found]), dtype=np.float32)
    picked = sorted(_central(vectors, bullets_for(section)), key=lambda i: (found[i][0].index, found[i][1]))
    return [(found[i][0], (found[i][1], found[i][2])) for i in picked]


def summarize(
    path: str, chunks: Sequence[Chunk], embed: Callable[[list[str]], np.ndarray], *,
    cancel: Callable[[], bool] | None = None,
) -> Iterator[SummaryProgress | Answer]:
    """Progress per section, then the summary as an Answer (question "Summary of <file>")."""
    cancel = cancel or (lambda: False)
    parts = sections(chunks)
    sentences: list[AnswerSentence] = []
    citations: list[Citation] = []
    yield SummaryProgress(0, len(parts))
    for done, section in enumerate(parts, start=1):
        picked = extractive_bullets(section, embed)
        if picked:
            sentences.append(AnswerSentence(section.title, [], 0.0, True, role="heading"))
            for chunk, (s, e) in picked:
                n = len(citations) + 1
                citations.append(Citation(n, Passage(chunk=chunk, score=1.0), 1.0, (s, e)))
                sentences.append(AnswerSentence(" ".join(chunk.text[s:e].split()), [n], 1.0, True, role="bullet"))
        yield SummaryProgress(done, len(parts))
        if cancel():
            break
    yield Answer(question=f"Summary of {Path(path).name}", text=render_sentences(sentences), raw="",
                 sentences=sentences, citations=citations, engine="summary", kind="summary")


__all__ = ["Section", "SummaryProgress", "bullets_for", "extractive_bullets", "sections", "shouting", "summarize"]
