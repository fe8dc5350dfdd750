"""Ask: question → passages → streamed answer → per-sentence citations. A Qt-free generator.

Events, in order: (a follow-up a writing model rewrites: the engine's loading Status and
Status("rewriting the question")), Status("searching"), Retrieved, then either Done (refused before the LLM
when retrieval found nothing close) or Status("generating"), Token…, SentenceCited… and Done.
The caller may cancel between tokens; the answer so far is still attributed and returned.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from typing import Callable, Iterator, Union

from indexing.models import DocumentError
from retrieval.abstain import decide
from retrieval.attribution import AttributionSettings, Attributor
from retrieval.condense import MAX_TOKENS as CONDENSE_TOKENS
from retrieval.condense import accept, condense_messages
from retrieval.followup import Turn, context_for, turn_of
from retrieval.models import Answer, AnswerSentence, Citation, Passage, render_sentences
from retrieval.prompts import REFUSAL, build_messages, pack
from retrieval.answers import direct_answer
from retrieval.question import follow, read_question
from retrieval.quote import best_sentences, is_row
from retrieval.streaming import MarkerFilter, Numbering, SentenceCited, StreamingCiter, Token  # noqa: F401  (events of Chat.ask)

NOT_YET = "Not found yet."  # the refusal while the library is still being indexed
_REFUSAL_TEXT = re.compile(r"(could not|couldn't|cannot|can't|unable to) find|not (mentioned|found|stated) in", re.I)


@dataclass
class Status:
    text: str


@dataclass
class Retrieved:
    passages: list[Passage]
    refused: bool
    rewritten: str | None = None  # the standalone question searched instead (a follow-up rewritten)


@dataclass
class Done:
    answer: Answer


@dataclass
class Scope:
    """A question asked within chosen files or folders: what the user chose, and the indexed
    files that holds (Library.scope)."""

    chosen: list[str]
    files: list[str]


ChatEvent = Union[Status, Retrieved, Token, SentenceCited, Done]


class Chat:
    """Answers questions from one library. Its collaborators are handed in: the library's retriever,
    the engine (made on first use: loading a model is slow, and quote mode never needs one), the
    embedder's `embed` (attribution and quotes) and the settings (read at each question, so a
    change applies to the next one)."""

    def __init__(self, retriever, engine: Callable[[], object], embed: Callable, settings,
                 chunks_of: Callable[[str], list] | None = None, unfinished: Callable[[], object] | None = None):
        self.retriever = retriever
        self.engine = engine
        self.embed = embed
        self.settings = settings
        self.chunks_of = chunks_of  # a document's chunks (Library.chunks_of): its tables are read whole
        # what the library has not finished indexing (Library.unfinished): an answer says so, and
        # nothing is called absent from the documents while some are unread
        self.unfinished = unfinished or (lambda: None)

    def read_document(self, path: str) -> list[Passage]:
        """A document's chunks as passages, for the cell a figure question asks for (retrieval/answers.py)."""
        if self.chunks_of is None:
            return []
        try:
            return [Passage(chunk, score=0.0) for chunk in self.chunks_of(path)]
        except DocumentError:  # removed since it was retrieved: its retrieved passages still answer
            return []

    def ask(
        self, question: str, *, cancel: Callable[[], bool] | None = None, mode: str | None = None,
        history: list[Turn] | None = None, scope: Scope | None = None,
    ) -> Iterator[ChatEvent]:
        """`mode` ("generate" | "quote") overrides the settings' answer mode for this question.
        `history`: the conversation's earlier turns (oldest first): the question is a follow-up,
        read with them (retrieval/followup.py), after the answering model rewrote it as a standalone
        question where it writes the answer (retrieval/condense.py). `scope`: only those files are searched.

        The steps: read (rewrite a follow-up), search and judge (`_search`), then a refusal, a
        quoted answer (`_quote_answer`) or a written one (`_written_answer`), ending with Done."""
        if mode not in (None, "generate", "quote"):
            raise ValueError(f"answer mode must be generate or quote, not {mode!r}")
        question = question.strip()
        if not question:
            raise ValueError("the question is empty")
        timings: dict[str, float] = {}
        t0 = time.perf_counter()
        mode = mode or answer_mode(self.settings)
        rewritten = None
        if history and condenses(self.settings, mode):
            rewritten = yield from self._condense(question, history, timings)
        query = rewritten or question  # what is searched, judged and answered

        passages, decision, followup = yield from self._search(question, query, history, rewritten, scope, timings)
        unfinished = self.unfinished()
        if unfinished is not None:
            followup["incomplete"] = unfinished.note()
        if decision.refuse:
            text, reason = REFUSAL, decision.reason
            if unfinished is not None:  # not "not in your documents" while some are not read
                text, reason = NOT_YET, unfinished.not_yet()
            answer = Answer(question=question, text=text, raw="", refused=True, refusal_reason=reason,
                            closest=passages[:3], **followup)
            timings["total_s"] = time.perf_counter() - t0
            answer.timings = timings
            yield Done(answer)
        elif mode == "quote":
            read_with = None if rewritten else followup["read_with"]
            earlier = history[-1].question if history and not rewritten else None
            for event in self._quote_answer(query, passages, timings, t0, read_with, earlier):
                if isinstance(event, Done):
                    event.answer.question = question  # the user's words; the rewrite is `rewritten`
                    for name, value in followup.items():
                        setattr(event.answer, name, value)
                yield event
        else:
            yield from self._written_answer(question, query, passages, followup, cancel or (lambda: False), timings, t0)

    def _search(self, question, query, history, rewritten, scope, timings) -> Iterator[ChatEvent]:
        """Search for the question (read with the conversation) and judge whether the passages
        hold an answer; returns (passages, decision, what the answer records of the follow-up)."""
        yield Status("searching")
        t_search = time.perf_counter()
        context = context_for(history or [], question=query)
        # a follow-up asking for a figure or a change without saying of what is searched and
        # judged with the question before it (which says): quote mode's deterministic condense
        searched = judged_as(query, history, rewritten)
        passages = self.retriever.search(searched, k=self.settings.retrieval.top_k, context=context,
                                         within=scope.files if scope is not None else None)
        timings["retrieval_s"] = time.perf_counter() - t_search
        # judged on the question itself (a rewrite stands alone too), with the passages found in
        # context: on doc2dial the question read with the earlier ones was refused more often
        # (bench/conversation.py; docs/benchmarks.md)
        decision = decide(searched, passages, self.settings.retrieval.strictness, passages.topic, self.retriever)
        yield Retrieved(passages, decision.refuse, rewritten)
        followup = {"read_with": context.text if context is not None else None,
                    "rewritten": rewritten,
                    "retrieved": turn_of(question, passages).passages,
                    "scope": scope.chosen if scope is not None else None}
        return passages, decision, followup

    def _written_answer(self, question, query, passages, followup, cancel, timings, t0) -> Iterator[ChatEvent]:
        """The engine writes; each sentence is attributed as it arrives (StreamingCiter)."""
        engine = self.engine()
        for step in engine.load_steps():  # loading the model, starting or reaching the server
            yield Status(step)
        llm = self.settings.llm
        context = pack(passages, engine.context_tokens - llm.max_tokens - 400, getattr(engine, "count_tokens", None))
        citer = StreamingCiter(Attributor(context, embed=self.embed, settings=AttributionSettings()))
        yield Status("generating")
        t_gen = time.perf_counter()
        first_token = None
        cancelled = False
        for delta in engine.stream_chat(build_messages(query, context), max_tokens=llm.max_tokens,
                                        temperature=llm.temperature, repetition_penalty=llm.repetition_penalty):
            first_token = first_token or time.perf_counter()
            yield from citer.feed(delta)
            if citer.looping:
                break
            if cancel():
                cancelled = True
                break
        yield from citer.finish()
        t_end = time.perf_counter()
        text, sentences = citer.text, citer.sentences
        refused = bool(_REFUSAL_TEXT.search(text)) and not any(s.supported for s in sentences)
        answer = Answer(
            question=question, text=render_sentences(sentences) if not refused else REFUSAL, raw=citer.raw,
            sentences=sentences, citations=citer.citations(context) if not refused else [], refused=refused,
            refusal_reason="The model found no answer in the passages." if refused else None,
            closest=passages[:3] if refused else [], engine=getattr(engine, "name", None),
            model=getattr(engine, "model", None), **followup,
        )
        timings.update(ttft_s=(first_token - t_gen) if first_token else 0.0, generation_s=t_end - t_gen, total_s=t_end - t0)
        if cancelled:
            timings["cancelled"] = 1.0
        answer.timings = timings
        yield Done(answer)

    def _condense(self, question: str, history: list[Turn], timings: dict) -> Iterator[ChatEvent]:
        """The answering model rewrites the follow-up as a standalone question (retrieval/condense.py);
        returns the rewrite, or None when its reply is not a usable one (then the question is read
        with the conversation, as the bundled path does)."""
        engine = self.engine()
        for step in engine.load_steps():
            yield Status(step)
        yield Status("rewriting the question")
        t = time.perf_counter()
        llm = self.settings.llm
        reply = "".join(engine.stream_chat(condense_messages(question, history), max_tokens=CONDENSE_TOKENS,
                                           temperature=0.0, repetition_penalty=llm.repetition_penalty))
        timings["condense_s"] = time.perf_counter() - t
        return accept(question, reply, history)

    def _quote_answer(self, question, passages, timings, t0, read_with=None, earlier=None) -> Iterator[ChatEvent]:
        """Quote mode: the figure asked for (a table's cell, or a change side by side) on the first
        line where the passages hold it (retrieval/answers.py), else the passages' best sentences,
        verbatim, each cited."""
        reading = read_question(question, getattr(passages, "topic", None))
        if earlier:  # "how did they change from the quarter before?": what the question before measured
            reading = follow(reading, read_question(earlier))
        documents, named = self._documents_of(passages, reading)
        direct = direct_answer(reading, passages, documents, self.read_document, named)
        if direct is not None:
            # one supporting sentence of the passages, after the figure and its row ("Total net
            # sales decreased 1 % … driven by …"): the figure first, never behind a neighbour
            for q in best_sentences(question, passages, self.embed, max_sentences=1, reading=reading):
                text = q.display(passages)
                if not is_row(text) and all(text not in t for t, *_ in direct.sentences):
                    n = direct.cite(passages[q.passage_index], (q.start, q.end), q.score)
                    direct.sentences.append((text, [n], "claim", q.score))
            yield from self._direct(question, direct, timings, t0)
            return
        quotes = best_sentences(question, passages, self.embed, read_with=read_with, reading=reading)
        numbering = Numbering()
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
        yield Done(Answer(question=question, text=render_sentences(sentences), raw="", sentences=sentences,
                          citations=citations, engine="quote", model=None, timings=timings))


    def _documents_of(self, passages, reading) -> tuple[list[str], bool]:
        """The documents a question is about, and whether it named them: those its names and
        periods picked (every AAPL filing for "Apple's net sales over time", the newest for "last
        quarter"), else those of the passages, best first. A change named by no period of its own
        ("from the quarter before") also reads the documents that match its names in part (the
        same company's other filings)."""
        prefs = getattr(passages, "preferences", None) or {}
        named = sorted((p for p, v in prefs.items() if v >= 1.0), key=lambda p: -prefs[p])
        if not named:
            return list(dict.fromkeys(p.chunk.path for p in passages)), False
        period = reading.period
        if reading.change and not reading.parts and not (period.years or period.quarters or period.dates):
            named += sorted((p for p, v in prefs.items() if 0 < v < 1.0), key=lambda p: -prefs[p])
        return named, True

    def _direct(self, question, direct, timings, t0) -> Iterator[ChatEvent]:
        sentences = []
        for i, (text, numbers, role, score) in enumerate(direct.sentences):
            sentences.append(AnswerSentence(text, numbers, round(score, 4), True, role))
            yield Token(("" if i == 0 else "\n") + text)
            yield SentenceCited(i, text, numbers, True, True)
        citations = [Citation(n, p, score, span) for n, (p, span, score) in enumerate(direct.cited, 1)]
        timings["total_s"] = time.perf_counter() - t0
        yield Done(Answer(question=question, text=render_sentences(sentences), raw="", sentences=sentences,
                          citations=citations, engine="quote", model=None, timings=timings,
                          figure=direct.figure, comparison=direct.comparison))


def judged_as(query: str, history: list[Turn] | None, rewritten: str | None) -> str:
    """What abstention judges: the question itself, except a follow-up that asks for a figure or
    a change without saying of what ("How did it change from the quarter before?" after a
    question about freight revenue), judged with the question before it, which says."""
    if not history or rewritten:
        return query
    now = read_question(query)
    if now.metric or not (now.change or now.wants_figure or now.kind in ("amount", "percent", "count")):
        return query
    before = history[-1].question
    return f"{before} {query}" if read_question(before).metric else query


def answer_mode(settings) -> str:
    """`generate` (the LLM writes, citations verified) or `quote` (the passages' own sentences).

    `auto`: quote with the bundled 135M-parameter model, which measured far worse at writing
    than quoting (bench/retrieval.py; docs/benchmarks.md, "Quoted or written answers"); generate
    with a model the user chose (their own, or a remote server), which is what they chose it for."""
    mode = settings.retrieval.answer_mode
    if mode != "auto":
        return mode
    bundled = settings.llm.model in ("", "bundled") and settings.llm.engine != "remote"
    return BUNDLED_ANSWER_MODE if bundled else "generate"


def condenses(settings, mode: str) -> bool:
    """Whether a follow-up is rewritten by the model before the search: `auto` when the model
    writes the answer (the bundled one, which quotes, cannot rewrite either; and quote mode
    starts no engine), `on` always, `off` never."""
    choice = settings.retrieval.condense
    return choice == "on" or (choice == "auto" and mode == "generate")


# what bench/retrieval.py measured as better on SQuAD with the bundled model (see README)
BUNDLED_ANSWER_MODE = "quote"


__all__ = ["Chat", "ChatEvent", "Scope", "Status", "Retrieved", "Token", "SentenceCited", "Done"]
