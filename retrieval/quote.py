"""Quote mode: answer with the passages' own best sentences, verbatim, each with its citation.

A 135M-parameter model often writes a fluent sentence that drops the one fact asked for
("The first ferry leaves on weekdays."). Quote mode picks the sentences of the retrieved
passages that best answer the question — embedding similarity to the question plus the share
of the question's words they contain, with the passage's retrieval rank as a prior — and
returns them as written. Every sentence is supported by construction; bench/retrieval.py
measures how often the gold answer is contained against the generated answers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from retrieval.attribution import content_words, split_sentences
from retrieval.models import Passage


@dataclass
class Quote:
    passage_index: int
    start: int  # span within the passage text
    end: int
    score: float

    def text(self, passages: Sequence[Passage]) -> str:
        return passages[self.passage_index].chunk.text[self.start : self.end].strip()


def best_sentences(
    question: str,
    passages: Sequence[Passage],
    embed: Callable[[list[str]], np.ndarray],
    *,
    max_sentences: int = 2,
    keep_ratio: float = 0.9,
) -> list[Quote]:
    """The sentences that answer `question` best, in reading order within their passage."""
    q_words = content_words(question)
    candidates: list[tuple[int, int, int]] = []
    texts: list[str] = []
    for i, p in enumerate(passages):
        for s, e in split_sentences(p.chunk.text):
            sentence = p.chunk.text[s:e]
            if len(sentence.split()) >= 4:
                candidates.append((i, s, e))
                texts.append(sentence)
    if not candidates:
        return []
    vectors = embed([question, *texts])
    qv, sv = vectors[0], vectors[1:]
    cos = sv @ qv
    scores = []
    for (i, s, e), c, text in zip(candidates, cos, texts):
        overlap = len(q_words & content_words(text)) / len(q_words) if q_words else 0.0
        prior = 0.04 * (len(passages) - i) / max(len(passages), 1)  # better-ranked passages first
        scores.append(0.65 * float(c) + 0.35 * overlap + prior)
    order = sorted(range(len(candidates)), key=lambda k: -scores[k])
    best = scores[order[0]]
    chosen = [order[0]]
    for k in order[1:]:
        if len(chosen) >= max_sentences or scores[k] < keep_ratio * best:
            break
        chosen.append(k)
    chosen.sort(key=lambda k: (candidates[k][0], candidates[k][1]))
    return [Quote(candidates[k][0], candidates[k][1], candidates[k][2], scores[k]) for k in chosen]
