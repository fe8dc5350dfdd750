"""Whether the library holds an answer at all, decided from retrieval evidence before the LLM.

A small model asked about something its passages do not cover invents an answer. Citewise
refuses instead, and shows the closest passages so the user can judge. The decision is a
logistic model over retrieval evidence, fitted on SQuAD 2.0 and COVID-QA by
bench/retrieval.py (questions about indexed articles vs questions about others):

- the best dense cosine between question and passage,
- the best BM25 score, per question term,
- whether the best dense passage is also among the top lexical ones (agreement),
- the share of the question's content words found in the best passage (with its context: the
  heading path, a table's column headings). When the passage's document is the one the question
  names (its company, its period: retrieval/focus.py), the words that picked the document count
  as found, and the share is taken of the rest of the question (its topic);
- near misses: the share of the question's focus terms (names, years, numbers:
  retrieval/focus.focus_terms) found in none of the best passages nor their documents' identity,
  and whether one of them is nowhere in the library at all. "What was Tesla's revenue?" asked of
  Apple's filings finds Apple's revenue table, close in every other way.

Strictness picks the probability a question must reach to be answered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol, Sequence

from indexing.words import content_words, query_terms
from retrieval.focus import FocusTerm, focus_terms, found, holder, profile
from retrieval.models import Passage

TOPIC_KEYS = ("dense", "lexical", "agree", "coverage", "unknown")
FOCUS_KEYS = ("unmatched", "absent", "year")
KEYS = TOPIC_KEYS + FOCUS_KEYS
NEAR = 5  # the best passages a focus term is looked for in


class Library(Protocol):
    """What abstention reads of the library beside the passages (Retriever implements it)."""

    def identity(self, path: str) -> str: ...

    def frequency(self, words: Sequence[str]) -> dict[str, int]: ...  # chunks holding each word

# fitted by bench/retrieval.py on SQuAD 2.0 (1,600 questions about indexed vs other articles,
# both folds; bench/results/retrieval-20261123.json "final"); the thresholds refuse 1.5 / 4 / 10 %
# of answerable questions there. Out of fold, balanced refused 94.6-96.8 % of out-of-corpus
# questions with 3.2-5.6 % false refusals; on the unseen COVID-QA library 90.0 % with 2.0 %.
WEIGHTS = {"bias": -10.66, "dense": 17.60, "lexical": 1.67, "agree": -0.79, "coverage": 3.51}
THRESHOLDS = {"lenient": 0.19, "balanced": 0.46, "strict": 0.81}


@dataclass
class Decision:
    refuse: bool
    confidence: float  # probability that the library answers the question
    reason: str | None = None
    features: dict[str, float] | None = None
    missing: list[FocusTerm] | None = None  # focus terms the best passages do not hold


@dataclass
class FocusCheck:
    terms: list[FocusTerm]
    unmatched: list[FocusTerm]  # in none of the best passages (nor their documents' identity)
    absent: list[FocusTerm]  # of those, the ones no chunk of the library holds at all
    unknown: float = 0.0  # share of the question's words no chunk of the library holds


def check_focus(question: str, passages: Sequence[Passage], library: Library | None = None) -> FocusCheck:
    terms = focus_terms(question)
    asked = query_terms(question)
    counts = library.frequency(sorted({*asked, *(w for t in terms for w in t.words)})) if library is not None else {}
    unknown = sum(counts.get(w, 1) == 0 for w in asked) / len(asked) if asked else 0.0
    if not terms or not passages:
        return FocusCheck(terms, [], [], unknown)
    near = []
    for p in passages[:NEAR]:
        identity = library.identity(p.chunk.path) if library is not None else ""
        near.append((holder(p.chunk.search_text + "\n" + Path(p.chunk.path).stem), p.chunk.path, identity))
    unmatched = [t for t in terms if not any(found(t, w, path, ident) for w, path, ident in near)]
    absent = [t for t in unmatched if any(counts.get(w, 1) == 0 for w in t.words)]
    return FocusCheck(terms, unmatched, absent, unknown)


def features(question: str, passages: Sequence[Passage], topic: str | None = None,
             library: Library | None = None, focus: FocusCheck | None = None) -> dict[str, float]:
    words = content_words(question)
    if not passages:
        return {k: 0.0 for k in KEYS}
    focus = focus or check_focus(question, passages, library)
    unmatched = len(focus.unmatched) / len(focus.terms) if focus.terms else 0.0
    by_dense = max(passages, key=lambda p: p.dense if p.dense is not None else -1.0)
    dense = by_dense.dense or 0.0
    lexical_scores = [p.lexical for p in passages if p.lexical is not None]
    lexical = (max(lexical_scores) / max(len(words), 1)) if lexical_scores else 0.0
    top_lexical = sorted((p for p in passages if p.lexical is not None), key=lambda p: -p.lexical)[:3]
    agree = 1.0 if any(p.chunk.id == by_dense.chunk.id for p in top_lexical) else 0.0
    if topic and by_dense.focus >= 1.0:
        words = content_words(topic) or words
    coverage = len(words & content_words(by_dense.chunk.search_text)) / len(words) if words else 0.0
    return {"dense": dense, "lexical": lexical, "agree": agree, "coverage": coverage, "unknown": focus.unknown,
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
        return Decision(True, p, refusal_reason(focus, passages, library, p), f, focus.unmatched)
    return Decision(False, p, None, f, focus.unmatched)


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
