"""Whether the library holds an answer at all, decided from retrieval evidence before the LLM.

A small model asked about something its passages do not cover invents an answer. Citewise
refuses instead when the best passage is too far from the question, and shows the closest
passages so the user can judge. Strictness moves the threshold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

from retrieval.models import Passage

# cosine of all-MiniLM-L6-v2 between a question and its best passage
THRESHOLDS = {"lenient": 0.22, "balanced": 0.32, "strict": 0.42}


@dataclass
class Decision:
    refuse: bool
    confidence: float
    reason: str | None = None


def decide(passages: Sequence[Passage], strictness: str = "balanced") -> Decision:
    if strictness not in THRESHOLDS:
        raise ValueError(f"strictness must be one of {', '.join(THRESHOLDS)}, not {strictness!r}")
    if not passages:
        return Decision(True, 0.0, "the library is empty" )
    best = max((p.dense if p.dense is not None else p.score) for p in passages)
    threshold = THRESHOLDS[strictness]
    if best < threshold:
        return Decision(True, best, f"no passage is close to the question (best match {best:.2f} < {threshold:.2f})")
    return Decision(False, best)
