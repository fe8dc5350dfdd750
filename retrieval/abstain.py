"""Whether the library holds an answer at all, decided from retrieval evidence before the LLM.

A small model asked about something its passages do not cover invents an answer. Citewise
refuses instead, and shows the closest passages so the user can judge. The probability that the
library answers is the product of two small logistic models, fitted by bench/abstain.py on
SQuAD 2.0, COVID-QA and sec-10q libraries:

- topic (answerable vs out-of-corpus questions): the best dense cosine between question and
  passage; the share of the question's words found in the best passages (with their context:
  heading path, a table's column headings), each word weighted by its rarity in the library
  (inverse document frequency: "judicial" counts, "main" hardly); the share of the question's
  words no chunk of the library holds; the library's size (the best of many passages is closer to
  any question than the best of a few). When the passages' document is the one the question names
  (its company, its period: retrieval/focus.py), the words that picked the document count as
  found, and the share is taken of the rest of the question (its topic);
- focus (answerable questions vs near misses): the share of the question's focus terms (names,
  years, numbers: retrieval/focus.focus_terms) found in none of the best passages nor their
  documents' identity; whether one of them is nowhere in the library at all; whether a year is
  among those missing. "What was Tesla's revenue?" asked of Apple's filings finds Apple's revenue
  table, close in every other way.

Strictness picks the probability a question must reach to be answered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

from indexing.words import content_words, query_terms, stem
from retrieval.focus import FocusTerm, focus_terms, found, holder, profile
from retrieval.models import Passage

TOPIC_KEYS = ("dense", "coverage", "unknown", "size")
FOCUS_KEYS = ("unmatched", "absent", "year")
KEYS = TOPIC_KEYS + FOCUS_KEYS
NEAR = 5  # the best passages a focus term is looked for in
NEAR_TOPIC = 3  # the best passages the question's words are looked for in


class Library(Protocol):
    """What abstention reads of the library beside the passages (Retriever implements it)."""

    def identity(self, path: str) -> str: ...

    def frequency(self, words: Sequence[str]) -> dict[str, int]: ...  # chunks holding each word

    def size(self) -> int: ...  # chunks in the library

# fitted by bench/abstain.py on SQuAD 2.0 (two libraries of 8 articles), COVID-QA (98 papers) and
# sec-10q (20 filings): answerable questions vs out-of-corpus ones (topic) and vs near misses
# (focus); bench/results/abstain-2026-11-27.json "final": the thresholds are the lenient, balanced
# and strict rates of false refusals fitted there (docs/benchmarks.md, "Abstention").
WEIGHTS = {
    "topic": {"dense": 19.375, "coverage": 6.074, "unknown": -2.176, "size": -1.121, "bias": -6.985},
    "focus": {"unmatched": -3.382, "absent": -4.998, "year": -6.299, "bias": 3.139},
}
THRESHOLDS = {"lenient": 0.023, "balanced": 0.215, "strict": 0.567}


@dataclass
class Decision:
    refuse: bool
    confidence: float  # probability that the library answers the question
    reason: str | None = None
    features: dict[str, float] | None = None


@dataclass
class FocusCheck:
    terms: list[FocusTerm]
    unmatched: list[FocusTerm]  # in none of the best passages (nor their documents' identity)
    absent: list[FocusTerm]  # of those, the ones no chunk of the library holds at all
    unknown: float = 0.0  # share of the question's words no chunk of the library holds
    counts: dict[str, int] | None = None  # chunks holding each word of the question


def check_focus(question: str, passages: Sequence[Passage], library: Library | None = None) -> FocusCheck:
    terms = focus_terms(question)
    asked = query_terms(question)
    counts = library.frequency(sorted({*asked, *(w for t in terms for w in t.words)})) if library is not None else {}
    unknown = sum(counts.get(w, 1) == 0 for w in asked) / len(asked) if asked else 0.0
    if not terms or not passages:
        return FocusCheck(terms, [], [], unknown, counts)
    near = []
    for p in passages[:NEAR]:
        identity = library.identity(p.chunk.path) if library is not None else ""
        near.append((holder(p.chunk.search_text + "\n" + Path(p.chunk.path).stem), p.chunk.path, identity))
    unmatched = [t for t in terms if not any(found(t, w, path, ident) for w, path, ident in near)]
    absent = [t for t in unmatched if any(counts.get(w, 1) == 0 for w in t.words)]
    return FocusCheck(terms, unmatched, absent, unknown, counts)


def features(question: str, passages: Sequence[Passage], topic: str | None = None,
             library: Library | None = None, focus: FocusCheck | None = None) -> dict[str, float]:
    if not passages:
        return {k: 0.0 for k in KEYS}
    focus = focus or check_focus(question, passages, library)
    unmatched = len(focus.unmatched) / len(focus.terms) if focus.terms else 0.0
    dense = max((p.dense for p in passages if p.dense is not None), default=0.0)
    best = passages[:NEAR_TOPIC]
    asked = query_terms(topic) if topic and best[0].focus >= 1.0 else []
    asked = asked or query_terms(question)
    counts = focus.counts or {}
    n = library.size() if library is not None else 0
    # a word's weight: its rarity in the library (without a library, every word weighs the same)
    weight = {w: math.log((n + 1) / (counts.get(w, 1) + 1)) if n else 1.0 for w in asked}
    total = sum(weight.values())
    coverage = 0.0
    for p in best:
        held = content_words(p.chunk.search_text)
        coverage = max(coverage, sum(v for w, v in weight.items() if stem(w) in held) / total if total else 0.0)
    # the best of many passages is closer to any question than the best of a few: a larger
    # library needs a closer passage (log10 of its chunks, bounded; 1,000 when unknown)
    size = math.log10(min(max(n, 30), 300_000)) if n else 3.0
    return {"dense": dense, "coverage": coverage, "unknown": focus.unknown, "size": size,
            "unmatched": unmatched, "absent": 1.0 if focus.absent else 0.0,
            "year": 1.0 if any(t.kind == "year" for t in focus.unmatched) else 0.0}


def _logistic(f: dict[str, float], w: dict[str, float]) -> float:
    z = w["bias"] + sum(v * f.get(k, 0.0) for k, v in w.items() if k != "bias")
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def probability(f: dict[str, float], weights: dict | None = None) -> float:
    """P(the library answers) = P(it holds the topic) × P(it holds what the question names):
    two small models, each fitted on the questions it tells apart (out of corpus, near misses)."""
    w = weights or WEIGHTS
    if "topic" not in w:  # one model
        return _logistic(f, w)
    return _logistic(f, w["topic"]) * _logistic(f, w["focus"])


def decide(question: str, passages: Sequence[Passage], strictness: str = "balanced", topic: str | None = None,
           library: Library | None = None) -> Decision:
    if strictness not in THRESHOLDS:
        raise ValueError(f"strictness must be one of {', '.join(THRESHOLDS)}, not {strictness!r}")
    if not passages:
        return Decision(True, 0.0, "the library is empty")
    focus = check_focus(question, passages, library)
    f = features(question, passages, topic, library, focus)
    p = probability(f)
    if p < THRESHOLDS[strictness]:
        return Decision(True, p, refusal_reason(focus, passages, library, p), f)
    return Decision(False, p, None, f)


def _quoted(terms: Sequence[FocusTerm]) -> str:
    names = [f"“{t.text}”" for t in terms]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def refusal_reason(focus: FocusCheck, passages: Sequence[Passage], library: Library | None, p: float) -> str:
    """Why the library does not answer, in words a reader can check against the closest passages."""
    years = [t for t in focus.unmatched if t.kind == "year"]
    names = [t for t in focus.unmatched if t.kind == "name"]
    absent_names = [t for t in names if t in focus.absent]
    if absent_names:
        return f"Your documents do not mention {_quoted(absent_names)}."
    if years:
        held = _years_of(passages[:NEAR], library)
        asked = ", ".join(t.text for t in years)
        if held:
            return f"The closest passages are about {', '.join(map(str, held))}, not {asked}."
        return f"None of the closest passages is about {asked}."
    if names:
        where = passages[0].file_name
        return (f"Your documents mention {_quoted(names)}, but not near what you asked: "
                f"the closest passages, from {where}, are about something else.")
    numbers = [t for t in focus.unmatched if t.kind == "number"]
    if numbers:
        return f"None of the closest passages mentions {_quoted(numbers)}."
    return f"Nothing in your documents is close enough to the question (confidence {p:.2f})."


def _years_of(passages: Sequence[Passage], library: Library | None) -> list[int]:
    """The periods the passages' documents are of (their file names, covers), newest first."""
    years: set[int] = set()
    for p in passages:
        identity = library.identity(p.chunk.path) if library is not None else ""
        years |= profile(p.chunk.path, identity).years
    return sorted(years, reverse=True)[:3]
