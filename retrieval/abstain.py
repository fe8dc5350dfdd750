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
  as found, and the share is taken of the rest of the question (its topic).

Strictness picks the probability a question must reach to be answered.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

from indexing.words import content_words
from retrieval.models import Passage

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


def features(question: str, passages: Sequence[Passage], topic: str | None = None) -> dict[str, float]:
    words = content_words(question)
    if not passages:
        return {"dense": 0.0, "lexical": 0.0, "agree": 0.0, "coverage": 0.0}
    by_dense = max(passages, key=lambda p: p.dense if p.dense is not None else -1.0)
    dense = by_dense.dense or 0.0
    lexical_scores = [p.lexical for p in passages if p.lexical is not None]
    lexical = (max(lexical_scores) / max(len(words), 1)) if lexical_scores else 0.0
    top_lexical = sorted((p for p in passages if p.lexical is not None), key=lambda p: -p.lexical)[:3]
    agree = 1.0 if any(p.chunk.id == by_dense.chunk.id for p in top_lexical) else 0.0
    if topic and by_dense.focus >= 1.0:
        words = content_words(topic) or words
    coverage = len(words & content_words(by_dense.chunk.search_text)) / len(words) if words else 0.0
    return {"dense": dense, "lexical": lexical, "agree": agree, "coverage": coverage}


def probability(f: dict[str, float], weights: dict[str, float] | None = None) -> float:
    w = weights or WEIGHTS
    z = w["bias"] + sum(w[k] * f[k] for k in ("dense", "lexical", "agree", "coverage"))
    return 1.0 / (1.0 + math.exp(-max(-50.0, min(50.0, z))))


def decide(question: str, passages: Sequence[Passage], strictness: str = "balanced", topic: str | None = None) -> Decision:
    if strictness not in THRESHOLDS:
        raise ValueError(f"strictness must be one of {', '.join(THRESHOLDS)}, not {strictness!r}")
    if not passages:
        return Decision(True, 0.0, "the library is empty")
    f = features(question, passages, topic)
    p = probability(f)
    if p < THRESHOLDS[strictness]:
        return Decision(True, p, f"no passage is close enough to the question (confidence {p:.2f})", f)
    return Decision(False, p, None, f)
