"""Which passage supports which sentence of an answer.

A small model writes citation markers badly: it cites [3] for a fact from [1], or cites
nothing. So Citewise does not trust the markers: each answer sentence is matched against the
sentences of the retrieved passages, by lexical overlap of content words (numbers and names
must match) and by embedding similarity with the embedder already loaded for retrieval. The
citations shown are the passages that support a sentence; a claim nothing supports is
flagged. The model's own marker only breaks ties.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from text_to_num import alpha2digit

from indexing.words import content_words
from retrieval.models import Passage

# [1]  [1, 2]  [1][2]  [Source 1]  [source: 2]  【1】
MARKER = re.compile(r"\s?[\[【]\s*(?:sources?\s*:?\s*|passages?\s*:?\s*)?([1-9]\d?(?:\s*[,;]\s*[1-9]\d?)*)\s*[\]】]", re.I)
# after . ! ? (and closing quotes) followed by space; at a blank line; before a list item
_SENTENCE_END = re.compile(r"(?<=[.!?。！？])[\"'”’)\]]*\s+|\n\s*\n\s*|\n(?=\s*(?:[-*•]|\d+[.)])\s)")


_ABBREVIATIONS = frozenset("e.g i.e dr mr mrs ms prof fig figs vs etc al no nos vol pp ca approx st jr sr inc ltd co".split())
_LIST_NUMBER = re.compile(r"(?:^|\n)\s*\d{1,3}[.)]$")


def _false_boundary(text: str, end: int) -> bool:
    """A period that does not end a sentence: "e.g.", "Dr.", "Fig.", a list number "2."."""
    if text[end - 1 : end] != ".":
        return False
    word = re.search(r"([\w.]+)\.$", text[max(0, end - 12) : end])
    if word and word.group(1).lower() in _ABBREVIATIONS:
        return True
    return bool(_LIST_NUMBER.search(text[max(0, end - 6) : end]))


def boundary_at(text: str, pos: int) -> bool:
    """True when a sentence boundary starts at `pos` (the sentence before it is complete)."""
    m = _SENTENCE_END.match(text, pos)
    return bool(m) and m.end() > pos and ("\n" in m.group(0) or not _false_boundary(text, pos))


def split_sentences(text: str) -> list[tuple[int, int]]:
    """Character spans of the sentences of `text` (after . ! ?, at blank lines, before list items)."""
    spans = []
    start = 0
    for m in _SENTENCE_END.finditer(text):
        end = m.start()
        if "\n" not in m.group(0) and _false_boundary(text, end):
            continue
        if text[start:end].strip():
            spans.append((start, end))
        start = m.end()
    if text[start:].strip():
        spans.append((start, len(text.rstrip())))
    return spans


def strip_markers(text: str) -> tuple[str, list[int]]:
    """Text without citation markers, and the numbers the markers named."""
    numbers: list[int] = []
    for m in MARKER.finditer(text):
        numbers.extend(int(n) for n in re.split(r"\s*[,;]\s*", m.group(1)))
    return MARKER.sub("", text), numbers


def lexical_support(sentence_words: set[str], passage_words: set[str]) -> float:
    """Share of the sentence's content words found in the passage; a number not found costs more."""
    if not sentence_words:
        return 0.0
    missing = sentence_words - passage_words
    penalty = sum(2.0 if any(ch.isdigit() for ch in w) else 1.0 for w in missing)
    weight = sum(2.0 if any(ch.isdigit() for ch in w) else 1.0 for w in sentence_words)
    return max(0.0, 1.0 - penalty / weight)


_FIGURE_IN_TEXT = re.compile(r"(?<![\w.])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?![\w])")
_COMPUTED = re.compile(r"\b(computed|calculated|difference|sum of|combined|in total)\b", re.I)


def _figures(text: str) -> set[float]:
    out = set()
    for m in _FIGURE_IN_TEXT.finditer(text):
        try:
            out.add(float(m.group(1).replace(",", "")))
        except ValueError:
            pass
    return out


def numbers_stated(sentence: str, passages: Sequence[Passage]) -> bool:
    """Whether every figure of a written sentence (two digits or more, or with a decimal point)
    is stated by one of the passages — as written, or the same amount in another scale ("$81.8
    billion" for a statement's 81,797 in millions, "74 %" for 74.0 %) — or the sentence says it
    computed it. A model that writes "$95 billion" for a row that says 81,797 is flagged."""
    if _COMPUTED.search(sentence):
        return True
    wanted = {x for x in _figures(sentence) if x >= 10 or x != int(x)}
    if not wanted:
        return True
    held = set()
    for p in passages:
        text = f"{p.chunk.context}\n{p.chunk.text}"
        held |= _figures(text) | _figures(_digits(text))
    for x in wanted:
        if any(abs(x - y) <= 1e-9 or _same_amount(x, y) for y in held):
            continue
        return False
    return True


def _digits(text: str) -> str:
    """Numbers a passage spells out, as digits ("eighteen hours" → "18 hours"): text2num reads
    English number words, compounds and all."""
    try:
        return alpha2digit(text, "en")
    except Exception:  # a text the parser cannot read: its figures as written still count
        return ""


def _same_amount(x: float, y: float) -> bool:
    """x is y rounded, or y in thousands or millions rounded to x's precision ("81.8" ↔ 81,797)."""
    digits = _decimals(x)
    return any(y and round(y * scale, digits) == x for scale in (1.0, 1e-3, 1e-6, 1e3))


def _decimals(x: float) -> int:
    text = f"{x:.6f}".rstrip("0").rstrip(".")
    return len(text.split(".")[1]) if "." in text else 0


@dataclass
class AttributionSettings:
    threshold: float = 0.6  # combined support needed to call a sentence supported
    min_lexical: float = 0.45  # and at least this share of its content words (numbers weigh double)
    lexical_weight: float = 0.5
    tie_margin: float = 0.05  # other passages this close to the best are cited too
    max_citations: int = 2
    min_claim_words: int = 3  # shorter sentences ("Sure.") are not claims


@dataclass
class Support:
    passage_index: int  # into the passages list given to attribute()
    score: float
    lexical: float
    semantic: float
    quote: tuple[int, int] | None = None  # span of the best-matching sentence within the passage


@dataclass
class SentenceAttribution:
    text: str
    claim: bool
    supports: list[Support]  # cited passages, best first
    best: float

    @property
    def supported(self) -> bool:
        return bool(self.supports)


class Attributor:
    """Attributes answer sentences to passages. `embed` maps texts to L2-normalised vectors."""

    def __init__(
        self,
        passages: Sequence[Passage],
        embed: Callable[[list[str]], np.ndarray] | None = None,
        settings: AttributionSettings | None = None,
    ):
        self.passages = list(passages)
        self.embed = embed
        self.settings = settings or AttributionSettings()
        self._words = [content_words(p.chunk.text) for p in self.passages]
        self._spans = [split_sentences(p.chunk.text) for p in self.passages]
        self._span_words = [
            [content_words(p.chunk.text[a:b]) for a, b in spans] for p, spans in zip(self.passages, self._spans)
        ]
        self._sent_vecs: list[np.ndarray] | None = None

    def _passage_sentence_vectors(self) -> list[np.ndarray]:
        """One row per sentence of each passage (same order as self._spans)."""
        if self._sent_vecs is None:
            texts = [p.chunk.text[a:b] for p, spans in zip(self.passages, self._spans) for a, b in spans]
            vecs = self.embed(texts) if (self.embed and texts) else np.zeros((0, 1), dtype=np.float32)
            out, k = [], 0
            for spans in self._spans:
                out.append(vecs[k : k + len(spans)])
                k += len(spans)
            self._sent_vecs = out
        return self._sent_vecs

    def _quote(self, i: int, words: set[str], sims: np.ndarray | None) -> tuple[int, int] | None:
        spans = self._spans[i]
        if not spans:
            return None
        lex = np.array([lexical_support(words, w) for w in self._span_words[i]])
        score = lex if sims is None or len(sims) != len(spans) else 0.5 * lex + 0.5 * sims
        return spans[int(np.argmax(score))]

    def attribute(self, sentence: str, marked: Sequence[int] = ()) -> SentenceAttribution:
        """Support for one sentence (markers already stripped). `marked`: 1-based numbers the model wrote."""
        cfg = self.settings
        words = content_words(sentence)
        if len(words) < cfg.min_claim_words or not self.passages:
            return SentenceAttribution(sentence, claim=len(words) >= cfg.min_claim_words, supports=[], best=0.0)
        lexical = [lexical_support(words, pw) for pw in self._words]
        semantic = [0.0] * len(self.passages)
        sims: list[np.ndarray | None] = [None] * len(self.passages)
        if self.embed is not None:
            vec = self.embed([sentence])[0]
            for i, sv in enumerate(self._passage_sentence_vectors()):
                if len(sv):
                    sims[i] = sv @ vec
                    semantic[i] = max(0.0, float(np.max(sims[i])))
        w = cfg.lexical_weight if self.embed is not None else 1.0
        scores = [w * lx + (1 - w) * sm for lx, sm in zip(lexical, semantic)]
        for n in marked:  # the model's own marker breaks ties, never creates support
            if 1 <= n <= len(scores):
                scores[n - 1] += 0.02
        order = sorted(range(len(scores)), key=lambda i: -scores[i])
        best = scores[order[0]]
        supports = [
            Support(i, scores[i], lexical[i], semantic[i], self._quote(i, words, sims[i]))
            for i in order[: cfg.max_citations]
            if scores[i] >= cfg.threshold and scores[i] >= best - cfg.tie_margin and lexical[i] >= cfg.min_lexical
        ]
        if supports and not numbers_stated(sentence, [self.passages[s.passage_index] for s in supports]):
            supports = []  # a figure no cited passage states is the model's, not the documents'
        return SentenceAttribution(sentence, claim=True, supports=supports, best=best)
