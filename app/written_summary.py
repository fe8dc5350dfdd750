"""A whole document summarised by the answering model (map-reduce), every bullet checked and cited.

With a model that writes (a catalog model, the user's own, a remote server) "Summarize" reads every
chunk through it: the document is cut into the same sections as the extractive summary
(retrieval/summary.py: headings, else page ranges); each section's chunks, in as few groups as fit
the model's context, are summarised into at most 1–3 bullets each (map); a section read in several
groups has its bullets merged by the model into its 1–3 most important ones (reduce). Every bullet
the model writes is checked against the passages like an answer's sentences (retrieval/attribution):
one no passage supports is left out, and a section left without a supported bullet gives its
extractive bullets instead (quoted, never invented). The bundled model quotes (extractive summary).
"""

from __future__ import annotations

import dataclasses
import re
import time
from pathlib import Path
from typing import Callable, Iterator, Sequence

from app.chat import Status
from retrieval.attribution import AttributionSettings, Attributor, split_sentences, strip_markers
from retrieval.models import Answer, AnswerSentence, Citation, Passage, render_sentences
from retrieval.prompts import merge_messages, summary_messages
from retrieval.summary import SummaryProgress, Section, bullets_for, extractive_bullets, sections, shouting

_BULLET = re.compile(r"^\s*(?:[-*•]|\d{1,2}[.)])\s+")
_MARKUP = re.compile(r"</?\s*[a-z]+[^>]*>|^\s*(section|sources?)\s*:", re.I)


def _plain(sentence: str) -> bool:
    """A bullet a reader can use: a sentence (capital or figure first), not markup or the prompt
    echoed back (seen with the bundled model: "Section: Pages 1–6 …", "</source><sub>…"), not
    capitals copied from a title or a table's header."""
    return (len(sentence.split()) >= 4 and (sentence[0].isupper() or sentence[0].isdigit() or sentence[0] in "$€£")
            and not shouting(sentence) and not _MARKUP.search(sentence))


def _groups(chunks: list, budget: int, count: Callable[[str], int]) -> list[list]:
    """The chunks in reading order, cut into groups whose text fits `budget` tokens."""
    groups: list[list] = [[]]
    used = 0
    for c in chunks:
        cost = count(c.text) + 24
        if groups[-1] and used + cost > budget:
            groups.append([])
            used = 0
        groups[-1].append(c)
        used += cost
    return [g for g in groups if g]


def _part(chunk, start: int, end: int):
    """The chunk's text[start:end] as a chunk of its own (its page and offsets kept: a citation of
    it opens where it is)."""
    if (start, end) == (0, len(chunk.text)):
        return chunk
    return dataclasses.replace(chunk, text=chunk.text[start:end], start=chunk.start + start, end=chunk.start + end)


def _assigned(chunks: Sequence, parts: list[Section]) -> list[tuple[Section, list]]:
    """Every chunk's text with its section, in reading order. A chunk shared by sections (a short
    document's one chunk holds several) is cut where the next section's first sentence starts; a
    chunk holding none of the sections' sentences (a table, a list) goes with the section before
    it; a document without a sentence of prose is one section."""
    chunks = sorted(chunks, key=lambda c: c.index)
    if not parts:
        return [(Section("Whole document", []), chunks)] if chunks else []
    starts: dict[str, list[tuple[int, int]]] = {}  # chunk id → (offset, section) where a section starts in it
    for k, section in enumerate(parts):
        for chunk, s, _ in section.sentences:
            marks = starts.setdefault(chunk.id, [])
            if not marks or marks[-1][1] != k:
                marks.append((s, k))
    out: list[tuple[Section, list]] = [(section, []) for section in parts]
    current = 0
    for c in chunks:
        marks = starts.get(c.id, [])
        if not marks:
            out[current][1].append(c)
            continue
        if marks[0][1] != current and c.text[: marks[0][0]].strip():
            out[current][1].append(_part(c, 0, marks[0][0]))  # the end of the section before
        else:  # the chunk's first section starts at its first character
            marks = [(0, marks[0][1])] + marks[1:]
        for (a, k), nxt in zip(marks, marks[1:] + [(len(c.text), None)]):
            out[k][1].append(_part(c, a, nxt[0]))
        current = marks[-1][1]
    return [(section, own) for section, own in out if own]


def _checked(text: str, passages: Sequence[Passage], embed) -> list[tuple[str, list[tuple[Passage, float, tuple | None]]]]:
    """The supported bullets of what the model wrote: (sentence, [(passage, support, quote span)…]),
    each sentence checked as an answer's is (its own markers only break ties); repeats once."""
    attributor = Attributor(passages, embed=embed, settings=AttributionSettings())
    out, seen = [], set()
    for a, b in split_sentences(text):
        clean, marked = strip_markers(text[a:b])
        sentence = " ".join(_BULLET.sub("", clean.strip()).split())
        key = sentence.casefold()
        if not _plain(sentence) or key in seen:
            continue
        seen.add(key)
        result = attributor.attribute(sentence, marked)
        if result.supported:
            out.append((sentence, [(passages[s.passage_index], s.score, s.quote) for s in result.supports]))
    return out


def written_summary(
    path: str, chunks: Sequence, engine, embed, llm, *, cancel: Callable[[], bool] | None = None,
) -> Iterator[SummaryProgress | Answer]:
    """Progress per section, then the summary (an Answer of kind "summary", written by `engine`)."""
    cancel = cancel or (lambda: False)
    t0 = time.perf_counter()
    parts = sections(chunks)
    count = getattr(engine, "count_tokens", None) or (lambda s: len(s) // 3 + 1)
    budget = max(512, engine.context_tokens - llm.max_tokens - 400)
    sentences: list[AnswerSentence] = []
    citations: list[Citation] = []
    stats = {"groups": 0, "written": 0, "kept": 0, "extractive_sections": 0}  # written: lines of the map steps
    write = _writer(engine, llm, cancel)

    yield from (Status(s) for s in engine.load_steps())
    parts = _assigned(chunks, parts)
    yield SummaryProgress(0, len(parts))
    for done, (section, own) in enumerate(parts, start=1):
        keep = bullets_for(section) if section.sentences else 3
        bullets = _mapped(section.title, _groups(own, budget, count), keep, write, embed, stats, cancel)
        if len(bullets) > keep and not cancel():  # reduce: the model keeps the most important, checked again
            bullets = _reduced(section.title, bullets, keep, write, embed)
        stats["kept"] += len(bullets)
        sentences.append(AnswerSentence(section.title, [], 0.0, True, role="heading"))
        if not bullets:  # nothing the model wrote is supported: the section's central sentences, quoted
            stats["extractive_sections"] += 1
            quoted = extractive_bullets(section, embed)
            if not quoted:  # no sentence to quote either (tables only): no heading without bullets
                sentences.pop()
            _add_quoted(quoted, sentences, citations)
        _add_bullets(bullets, sentences, citations)
        yield SummaryProgress(done, len(parts))
        if cancel():
            break
    timings = {"total_s": time.perf_counter() - t0, **{k: float(v) for k, v in stats.items()}}
    yield Answer(question=f"Summary of {Path(path).name}", text=render_sentences(sentences), raw="",
                 sentences=sentences, citations=citations, engine=getattr(engine, "name", None),
                 model=getattr(engine, "model", None), timings=timings, kind="summary")


def _writer(engine, llm, cancel: Callable[[], bool]) -> Callable[[list], str]:
    """What the model writes for a prompt's messages, read whole (until Stop)."""

    def write(messages) -> str:  # Stop ends the model's writing too (a part takes seconds on a CPU)
        text = ""
        for delta in engine.stream_chat(messages, max_tokens=llm.max_tokens, temperature=0.0,
                                        repetition_penalty=llm.repetition_penalty):
            text += delta
            if cancel():
                break
        return text

    return write


def _mapped(title: str, groups: list[list], keep: int, write, embed, stats: dict, cancel: Callable[[], bool]) -> list:
    """The map step: each group of a section's chunks summarised, the supported bullets of all of them."""
    bullets = []
    for group in groups:  # map
        passages = [Passage(chunk=c, score=1.0) for c in group]
        text = write(summary_messages(title, passages, keep))
        found = _checked(text, passages, embed)
        stats["groups"] += 1
        stats["written"] += len([ln for ln in text.splitlines() if ln.strip()])
        bullets += found
        if cancel():
            break
    return bullets


def _reduced(title: str, bullets: list, keep: int, write, embed) -> list:
    """The reduce step: the model merges a section's bullets into its `keep` most important, checked again."""
    sources = list({id(p): p for _, cited in bullets for p, _, _ in cited}.values())
    merged = _checked(write(merge_messages(title, [b for b, _ in bullets], keep)), sources, embed)
    return merged[:keep] if merged else bullets[:keep]


def _add_quoted(quoted, sentences: list[AnswerSentence], citations: list[Citation]) -> None:
    """A section's quoted central sentences added as bullets, each citing where it is quoted from."""
    for chunk, (s, e) in quoted:
        n = len(citations) + 1
        citations.append(Citation(n, Passage(chunk=chunk, score=1.0), 1.0, (s, e)))
        sentences.append(AnswerSentence(" ".join(chunk.text[s:e].split()), [n], 1.0, True, role="bullet"))


def _add_bullets(bullets: list, sentences: list[AnswerSentence], citations: list[Citation]) -> None:
    """The model's supported bullets added, each citing the passages that support it."""
    for sentence, cited in bullets:
        numbers = []
        for passage, support, quote in cited:
            n = len(citations) + 1
            citations.append(Citation(n, passage, support, quote))
            numbers.append(n)
        sentences.append(AnswerSentence(sentence, numbers, round(max(s for _, s, _ in cited), 4), True, role="bullet"))


__all__ = ["written_summary"]
