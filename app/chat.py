"""Ask: question → passages → streamed answer → per-sentence citations. A Qt-free generator.

Events, in order: Status("searching"), Retrieved, then either Done (refused before the LLM
when retrieval found nothing close) or Status("generating"), Token…, SentenceCited… and Done.
The caller may cancel between tokens; the answer so far is still attributed and returned.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator, Union

from retrieval.abstain import decide
from retrieval.attribution import AttributionSettings, Attributor, boundary_at, split_sentences, strip_markers
from retrieval.models import Answer, AnswerSentence, Citation, Passage
from retrieval.prompts import REFUSAL, build_messages, pack
from retrieval.quote import best_sentences

_REFUSAL_TEXT = re.compile(r"(could not|couldn't|cannot|can't|unable to) find|not (mentioned|found|stated) in", re.I)


@dataclass
class Status:
    text: str


@dataclass
class Retrieved:
    passages: list[Passage]
    refused: bool


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


@dataclass
class Done:
    answer: Answer


ChatEvent = Union[Status, Retrieved, Token, SentenceCited, Done]


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
class _Numbering:
    """Citation numbers in order of first use: passage index → n."""

    by_passage: dict[int, int] = field(default_factory=dict)

    def number(self, passage_index: int) -> int:
        if passage_index not in self.by_passage:
            self.by_passage[passage_index] = len(self.by_passage) + 1
        return self.by_passage[passage_index]


class Chat:
    def __init__(self, services, library):
        self.services = services
        self.library = library

    def ask(
        self, question: str, *, cancel: Callable[[], bool] | None = None, mode: str | None = None
    ) -> Iterator[ChatEvent]:
        """`mode` ("generate" | "quote") overrides the settings' answer mode for this question."""
        if mode not in (None, "generate", "quote"):
            raise ValueError(f"answer mode must be generate or quote, not {mode!r}")
        cancel = cancel or (lambda: False)
        settings = self.services.settings
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")

        yield Status("searching")
        retriever = self.library.retriever
        passages = retriever.search(question, k=settings.retrieval.top_k)
        timings["retrieval_s"] = time.perf_counter() - t0
        decision = decide(question, passages, settings.retrieval.strictness, retriever.last_topic, retriever)
        yield Retrieved(passages, decision.refuse)
        if decision.refuse:
            answer = Answer(
                question=question, text=REFUSAL, raw="", refused=True,
                refusal_reason=decision.reason, closest=passages[:3],
            )
            timings["total_s"] = time.perf_counter() - t0
            answer.timings = timings
            yield Done(answer)
            return

        if (mode or answer_mode(settings)) == "quote":
            yield from self._quote_answer(question, passages, timings, t0)
            return

        engine = self.services.engine()
        for step in engine.load_steps():  # loading the model, starting or reaching the server
            yield Status(step)
        llm = settings.llm
        budget = engine.context_tokens - llm.max_tokens - 400
        context = pack(passages, budget, getattr(engine, "count_tokens", None))
        messages = build_messages(question, context)
        attributor = Attributor(context, embed=self.services.embedder.embed, settings=AttributionSettings())
        numbering = _Numbering()
        sentences: list[AnswerSentence] = []
        support_of: dict[int, tuple[float, tuple[int, int] | None]] = {}

        yield Status("generating")
        filt = MarkerFilter()
        text = ""  # the answer so far, markers removed
        raw = ""  # what the model wrote
        done_upto = 0  # characters of `text` already attributed
        marked_at = 0  # filt.numbers consumed
        t_gen = time.perf_counter()
        first_token = None

        seen_sentences: set[str] = set()
        looping = False

        def cite(sentence_text: str) -> SentenceCited | None:
            nonlocal marked_at, looping
            clean = sentence_text.strip()
            key = " ".join(clean.lower().split())
            if key in seen_sentences and len(key) > 12:
                looping = True  # a small model repeating itself: stop, keep what it said once
                return None
            seen_sentences.add(key)
            marked = filt.numbers[marked_at:]
            marked_at = len(filt.numbers)
            result = attributor.attribute(clean, marked)
            numbers = [numbering.number(s.passage_index) for s in result.supports]
            for s in result.supports:
                if s.score > support_of.get(s.passage_index, (0.0, None))[0]:
                    support_of[s.passage_index] = (s.score, s.quote)
            sentences.append(AnswerSentence(clean, numbers, round(result.best, 4), result.supported))
            return SentenceCited(len(sentences) - 1, clean, numbers, result.supported, result.claim)

        def complete_sentences(full: str, final: bool) -> tuple[int, list[str]]:
            """Sentences of full[done_upto:] that are complete, and where the last one ends."""
            tail = full[done_upto:]
            spans = split_sentences(tail)
            if not final and spans and not boundary_at(tail, spans[-1][1]):
                spans = spans[:-1]  # the last sentence may still be growing
            if not spans:
                return done_upto, []
            return done_upto + spans[-1][1], [tail[a:b] for a, b in spans]

        cancelled = False
        for delta in engine.stream_chat(
            messages, max_tokens=llm.max_tokens, temperature=llm.temperature, repetition_penalty=llm.repetition_penalty
        ):
            if first_token is None:
                first_token = time.perf_counter()
            raw += delta
            clean = filt.feed(delta)
            if clean:
                # cite a sentence right after its last character, before the text that follows it
                boundary, done = complete_sentences(text + clean, final=False)
                split = max(0, boundary - len(text))
                if done and split:
                    yield Token(clean[:split])
                    text += clean[:split]
                    clean = clean[split:]
                for sentence in done:
                    event = cite(sentence)
                    if event is not None:
                        yield event
                done_upto = max(done_upto, boundary)
                if looping:
                    break
                if clean:
                    text += clean
                    yield Token(clean)
            if cancel():
                cancelled = True
                break
        tail = filt.flush()
        if tail and not looping:
            text += tail
            yield Token(tail)
        if not looping:
            boundary, done = complete_sentences(text, final=True)
            for sentence in done:
                event = cite(sentence)
                if event is not None:
                    yield event
        t_end = time.perf_counter()

        refused = bool(_REFUSAL_TEXT.search(text)) and not any(s.supported for s in sentences)
        citations = [
            Citation(n, context[i], *support_of.get(i, (0.0, None)))
            for i, n in sorted(numbering.by_passage.items(), key=lambda kv: kv[1])
        ]
        answer = Answer(
            question=question,
            text=render_answer(sentences) if not refused else REFUSAL,
            raw=raw,
            sentences=sentences,
            citations=citations if not refused else [],
            refused=refused,
            refusal_reason="The model found no answer in the passages." if refused else None,
            closest=passages[:3] if refused else [],
            engine=getattr(engine, "name", None),
            model=getattr(engine, "model", None),
        )
        timings["ttft_s"] = (first_token - t_gen) if first_token else 0.0
        timings["generation_s"] = t_end - t_gen
        timings["total_s"] = t_end - t0
        if cancelled:
            timings["cancelled"] = 1.0
        answer.timings = timings
        yield Done(answer)


    def _quote_answer(self, question, passages, timings, t0) -> Iterator[ChatEvent]:
        """Quote mode: the passages' best sentences, verbatim, each cited."""
        quotes = best_sentences(question, passages, self.services.embedder.embed)
        numbering = _Numbering()
        sentences: list[AnswerSentence] = []
        quote_of: dict[int, tuple[float, tuple[int, int]]] = {}
        for q in quotes:
            text = q.display(passages)
            n = numbering.number(q.passage_index)
            if q.score > quote_of.get(q.passage_index, (0.0, None))[0]:
                quote_of[q.passage_index] = (q.score, (q.start, q.end))
            sentences.append(AnswerSentence(text, [n], round(q.score, 4), True))
            yield Token(("" if len(sentences) == 1 else " ") + text)
            yield SentenceCited(len(sentences) - 1, text, [n], True, True)
        citations = [
            Citation(n, passages[i], *quote_of[i]) for i, n in sorted(numbering.by_passage.items(), key=lambda kv: kv[1])
        ]
        timings["total_s"] = time.perf_counter() - t0
        yield Done(Answer(question=question, text=render_answer(sentences), raw="", sentences=sentences,
                          citations=citations, engine="quote", model=None, timings=timings))


def answer_mode(settings) -> str:
    """`generate` (the LLM writes, citations verified) or `quote` (the passages' own sentences).

    `auto`: quote with the bundled 135M-parameter model, which measured far worse at writing
    (bench/retrieval.py, 100 SQuAD questions: gold answer contained 77 % quoted vs 13 % generated,
    citation precision 83 % vs 63 %, 0 vs 130 of 207 sentences unsupported); generate with a
    model the user chose (their own, or a remote server), which is what they chose it for."""
    mode = settings.retrieval.answer_mode
    if mode != "auto":
        return mode
    bundled = settings.llm.model in ("", "bundled") and settings.llm.engine != "remote"
    return BUNDLED_ANSWER_MODE if bundled else "generate"


# what bench/retrieval.py measured as better on SQuAD with the bundled model (see README)
BUNDLED_ANSWER_MODE = "quote"


def render_answer(sentences: list[AnswerSentence]) -> str:
    """The answer with verified markers after each supported sentence."""
    text = ""
    lines_before = False
    for s in sentences:
        marks = "".join(f"[{n}]" for n in s.citations)
        part = f"{s.text} {marks}" if marks else s.text
        lines = "\n" in s.text or " | " in s.text  # a quoted table row stands on lines of its own
        text = f"{text}{chr(10) if lines or lines_before else ' '}{part}" if text else part
        lines_before = lines
    return text


__all__ = ["Chat", "ChatEvent", "Status", "Retrieved", "Token", "SentenceCited", "Done", "render_answer"]
