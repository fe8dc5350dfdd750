"""An answer streamed by a model, cut into sentences as its tokens arrive, each cited as soon as
its last character is in — before the text that follows it is shown.

`StreamingCiter.feed(delta)` takes what the model wrote next and yields `Token`s (the text
without its [n] markers, which may be split across tokens) and `SentenceCited` events (a
sentence, the citation numbers of the passages that support it, in order of first use);
`finish()` flushes the rest. A small model that repeats a sentence it already wrote is stopped
(`looping`): what it said once is kept. No engine here: tests feed it tokens.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Iterator

from retrieval.attribution import Attributor, boundary_at, split_sentences, strip_markers
from retrieval.models import AnswerSentence, Citation, Passage


@dataclass
class Token:
    text: str


@dataclass
class SentenceCited:
    index: int
    text: str
    citations: list[int]  # citation numbers, in the answer's numbering
    supported: bool
    claim: bool


class MarkerFilter:
    """Removes the model's [n] markers from a token stream, even when split across tokens."""

    HOLD = 24

    def __init__(self) -> None:
        self._pending = ""
        self.numbers: list[int] = []

    def feed(self, text: str) -> str:
        self._pending += text
        cut = len(self._pending)
        for opener in ("[", "【"):
            i = self._pending.rfind(opener)
            if i >= 0 and "]" not in self._pending[i:] and "】" not in self._pending[i:] and len(self._pending) - i < self.HOLD:
                cut = min(cut, i)
        # keep spaces before a possible marker back too: they go with it (" [1]")
        while cut > 0 and self._pending[cut - 1] == " ":
            cut -= 1
        ready, self._pending = self._pending[:cut], self._pending[cut:]
        return self._clean(ready)

    def flush(self) -> str:
        ready, self._pending = self._pending, ""
        return self._clean(ready)

    def _clean(self, text: str) -> str:
        clean, numbers = strip_markers(text)
        self.numbers.extend(numbers)
        return clean


@dataclass
class Numbering:
    """Citation numbers in order of first use: passage index → n."""

    by_passage: dict[int, int] = field(default_factory=dict)

    def number(self, passage_index: int) -> int:
        if passage_index not in self.by_passage:
            self.by_passage[passage_index] = len(self.by_passage) + 1
        return self.by_passage[passage_index]


class StreamingCiter:
    def __init__(self, attributor: Attributor):
        self.attributor = attributor
        self.filter = MarkerFilter()
        self.numbering = Numbering()
        self.sentences: list[AnswerSentence] = []
        self.text = ""  # the answer so far, markers removed
        self.raw = ""  # what the model wrote
        self.looping = False  # the model repeated a sentence: stop it
        self._support: dict[int, tuple[float, tuple[int, int] | None]] = {}
        self._done_upto = 0  # characters of `text` already attributed
        self._marked_at = 0  # filter.numbers consumed
        self._seen: set[str] = set()

    def feed(self, delta: str) -> Iterator[Token | SentenceCited]:
        self.raw += delta
        clean = self.filter.feed(delta)
        if not clean:
            return
        # cite a sentence right after its last character, before the text that follows it
        boundary, done = self._complete(self.text + clean, final=False)
        split = max(0, boundary - len(self.text))
        if done and split:
            yield Token(clean[:split])
            self.text += clean[:split]
            clean = clean[split:]
        for sentence in done:
            event = self._cite(sentence)
            if event is not None:
                yield event
        self._done_upto = max(self._done_upto, boundary)
        if self.looping:
            return
        if clean:
            self.text += clean
            yield Token(clean)

    def finish(self) -> Iterator[Token | SentenceCited]:
        tail = self.filter.flush()
        if self.looping:
            return
        if tail:
            self.text += tail
            yield Token(tail)
        _, done = self._complete(self.text, final=True)
        for sentence in done:
            event = self._cite(sentence)
            if event is not None:
                yield event

    def citations(self, context: list[Passage]) -> list[Citation]:
        """The cited passages, numbered in order of first use, each with its best support."""
        return [
            Citation(n, context[i], *self._support.get(i, (0.0, None)))
            for i, n in sorted(self.numbering.by_passage.items(), key=lambda kv: kv[1])
        ]

    def _complete(self, full: str, final: bool) -> tuple[int, list[str]]:
        """Sentences of full[done_upto:] that are complete, and where the last one ends."""
        tail = full[self._done_upto:]
        spans = split_sentences(tail)
        if not final and spans and not boundary_at(tail, spans[-1][1]):
            spans = spans[:-1]  # the last sentence may still be growing
        if not spans:
            return self._done_upto, []
        return self._done_upto + spans[-1][1], [tail[a:b] for a, b in spans]

    def _cite(self, sentence_text: str) -> SentenceCited | None:
        clean = sentence_text.strip()
        key = " ".join(clean.lower().split())
        if key in self._seen and len(key) > 12:
            self.looping = True  # a small model repeating itself: stop, keep what it said once
            return None
        self._seen.add(key)
        marked = self.filter.numbers[self._marked_at:]
        self._marked_at = len(self.filter.numbers)
        result = self.attributor.attribute(clean, marked)
        numbers = [self.numbering.number(s.passage_index) for s in result.supports]
        for s in result.supports:
            if s.score > self._support.get(s.passage_index, (0.0, None))[0]:
                self._support[s.passage_index] = (s.score, s.quote)
        self.sentences.append(AnswerSentence(clean, numbers, round(result.best, 4), result.supported))
        return SentenceCited(len(self.sentences) - 1, clean, numbers, result.supported, result.claim)
