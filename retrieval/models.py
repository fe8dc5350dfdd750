"""What retrieval hands to the answer path and what an answer is made of (Qt- and LLM-free)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path

from indexing.models import Chunk, UnitKind


def where(c: "Citation | Passage", sep: str = ", ") -> str:
    """Where a citation points, the one way every view says it: `report.pdf, page 2, § Results` /
    `book.epub, chapter 3 (Down the Rabbit-Hole)`. `c`: a citation, or a passage."""
    k = (c.passage if isinstance(c, Citation) else c).chunk
    return _describe(Path(k.path).name, k.unit_kind.value, k.unit, k.unit_label, k.heading, sep)


def _describe(file_name: str, unit_kind: str, unit: int | None, unit_label: str | None = None,
              heading=(), sep: str = ", ") -> str:
    """`report.pdf, page 2` / `book.epub, chapter 3 (Down the Rabbit-Hole)` / `notes.md, § Setup`."""
    parts = [file_name]
    if unit_kind in ("page", "chapter"):
        parts.append(f"{unit_kind} {unit}" + (f" ({unit_label})" if unit_label else ""))
    if heading and unit_kind != "chapter":
        parts.append("§ " + " › ".join(list(heading)[-2:]))
    return sep.join(parts)


def refusal_message(answer: "Answer") -> str:
    """A refused answer with why, as every view shows it: "I could not find this in your
    documents. Your documents do not mention “Tesla”."."""
    reason = answer.refusal_reason
    return f"{answer.text} {reason}" if reason else answer.text


def match_words(cosine: float | None) -> str:
    """How close a passage is to the question, in words a reader can use (not a fusion score)."""
    if cosine is None:
        return "matched by its words"
    if cosine >= 0.6:
        return "close match"
    if cosine >= 0.45:
        return "partial match"
    return "loose match"


@dataclass
class Passage:
    """A retrieved chunk with its scores. `score` orders passages; `dense` is a cosine."""

    chunk: Chunk
    score: float
    dense: float | None = None
    lexical: float | None = None
    focus: float = 0.0  # how well its document matches what the question names (retrieval/focus.py)

    @property
    def file_name(self) -> str:
        return Path(self.chunk.path).name

    def where(self) -> str:
        return where(self)


@dataclass
class Citation:
    """A numbered source of an answer: `[n]` in the answer text points here."""

    n: int
    passage: Passage
    support: float = 0.0  # how strongly the best supported sentence matches this passage
    quote: tuple[int, int] | None = None  # the supporting sentence, as a span of the passage text

    @property
    def quote_text(self) -> str:
        text = self.passage.chunk.text
        if self.quote:
            return text[self.quote[0] : self.quote[1]]
        return text

    def to_dict(self) -> dict:
        c = self.passage.chunk
        return {
            "n": self.n,
            "file": c.path,
            "file_name": self.passage.file_name,
            "page": c.page,
            "unit": c.unit,
            "unit_kind": c.unit_kind.value,
            "unit_label": c.unit_label,
            "heading": list(c.heading),
            "start": c.start,
            "end": c.end,
            "text": c.text,
            "score": round(self.passage.score, 4),
            "match": match_words(self.passage.dense),
            "context": c.context,
            "support": round(self.support, 4),
            "quote": self.quote_text if self.quote else None,
            "quote_start": c.start + self.quote[0] if self.quote else None,
            "quote_end": c.start + self.quote[1] if self.quote else None,
            "chunk_id": c.id,
        }

    @classmethod
    def from_dict(cls, d: dict) -> "Citation":
        """The citation a serialised one (`to_dict()`) was made from: its chunk and passage rebuilt
        from what was saved. What is not saved takes a default: the chunk's content hash, its
        position in its file and its token count; the passage's cosine is one that `match_words`
        says as the saved match ("close match" → 0.6), its lexical and focus scores none. A dict
        saved before a key existed gets that key's default."""
        start = int(d.get("start") or 0)
        text = d.get("text") or ""
        end = d.get("end")
        end = start + len(text) if end is None else int(end)
        unit_kind = d.get("unit_kind") or "document"
        unit = d.get("unit")
        if unit is None:
            unit = d.get("page") or 1
        path = d.get("file") or ""
        chunk = Chunk(
            id=d.get("chunk_id") or f"{path}:{unit}:{start}",
            text=text,
            path=path,
            content_hash="",
            unit=int(unit),
            unit_kind=UnitKind(unit_kind),
            start=start,
            end=end,
            index=0,
            unit_label=d.get("unit_label"),
            heading=tuple(d.get("heading") or ()),
            context=d.get("context") or "",
        )
        passage = Passage(chunk, score=float(d.get("score") or 0.0), dense=_MATCH_COSINE.get(d.get("match")))
        quote = None
        if d.get("quote") is not None and d.get("quote_start") is not None and d.get("quote_end") is not None:
            quote = (int(d["quote_start"]) - start, int(d["quote_end"]) - start)
        return cls(int(d.get("n") or 0), passage, float(d.get("support") or 0.0), quote)


# a cosine that `match_words` says as each saved match (what a serialised citation keeps of it)
_MATCH_COSINE = {"close match": 0.6, "partial match": 0.45, "loose match": 0.0}


@dataclass
class AnswerSentence:
    text: str
    citations: list[int] = field(default_factory=list)  # citation numbers
    support: float = 0.0
    supported: bool = False
    # "claim" (a sentence of an answer) | "answer" (the first line that states the figure asked
    # for) | "row" (a side-by-side row) | "note" (sources that differ) | "heading" | "bullet" (a summary's)
    role: str = "claim"

    @property
    def unsupported(self) -> bool:
        """A sentence of three words or more that no passage supports: every view marks it [?]."""
        return not self.supported and len(self.text.split()) >= 3


@dataclass
class Answer:
    question: str
    text: str = ""  # the answer with verified [n] markers
    raw: str = ""  # what the model wrote
    sentences: list[AnswerSentence] = field(default_factory=list)
    citations: list[Citation] = field(default_factory=list)
    refused: bool = False
    refusal_reason: str | None = None
    closest: list[Passage] = field(default_factory=list)  # shown when refused
    engine: str | None = None
    model: str | None = None
    timings: dict[str, float] = field(default_factory=dict)
    # a follow-up: the earlier questions it was read with (retrieval/followup.py), else None
    read_with: str | None = None
    # a follow-up rewritten by the answering model as a question that stands alone
    # (retrieval/condense.py): what was searched and answered instead of `question`, else None
    rewritten: str | None = None
    retrieved: list[tuple[str, int]] = field(default_factory=list)  # (file, chunk position), best first
    scope: list[str] | None = None  # the files/folders it was asked within (None: the whole library)
    kind: str = "answer"  # or "summary" (retrieval/summary.py: bullets under section headings)
    # the figure the first line states (retrieval/answers.py: label, value, unit, period, cited
    # cell and row, citation n), and a change across periods or filings side by side, else None
    figure: dict | None = None
    comparison: dict | None = None
    # asked while the library was still being indexed: what it had not finished (files not read,
    # vectors not written), in words (app.library.Unfinished.note), else None
    incomplete: str | None = None
    # why the answer could not be given (the window shows "The answer failed: …"), else None
    error: str | None = None

    @property
    def closest_citations(self) -> list[Citation]:
        """A refusal's closest passages, numbered from 1 as every view shows them."""
        return [Citation(i, p) for i, p in enumerate(self.closest, 1)]

    def to_dict(self) -> dict:
        d = {
            "question": self.question,
            "read_with": self.read_with,
            "rewritten": self.rewritten,
            "retrieved": [{"file": f, "index": i} for f, i in self.retrieved],
            "scope": self.scope,
            "incomplete": self.incomplete,
            "kind": self.kind,
            "answer": self.text,
            "figure": self.figure,
            "comparison": self.comparison,
            "citations": [c.to_dict() for c in self.citations],
            "sentences": [asdict(s) for s in self.sentences],
            "refused": self.refused,
            "refusal_reason": self.refusal_reason,
            "closest": [c.to_dict() for c in self.closest_citations],
            "engine": self.engine,
            "model": self.model,
            "timings": {k: round(v, 4) for k, v in self.timings.items()},
        }
        if self.error is not None:
            d["error"] = self.error
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "Answer":
        """The answer a serialised one (`to_dict()`, as conversations store it) was made from:
        `Answer.from_dict(a.to_dict()).to_dict() == a.to_dict()`. A dict saved before a key
        existed gets that key's default; what `to_dict` does not keep (the model's raw text, the
        closest passages' cosines beyond their match words) is left at its default."""
        sentences = []
        for s in d.get("sentences") or []:
            sentences.append(AnswerSentence(
                text=s.get("text", ""), citations=list(s.get("citations") or []), support=s.get("support", 0.0),
                supported=bool(s.get("supported", False)), role=s.get("role") or "claim"))
        return cls(
            question=d.get("question", ""),
            text=d.get("answer") or "",
            sentences=sentences,
            citations=[Citation.from_dict(c) for c in d.get("citations") or []],
            refused=bool(d.get("refused", False)),
            refusal_reason=d.get("refusal_reason"),
            closest=[Citation.from_dict(c).passage for c in d.get("closest") or []],
            engine=d.get("engine"),
            model=d.get("model"),
            timings=dict(d.get("timings") or {}),
            read_with=d.get("read_with"),
            rewritten=d.get("rewritten"),
            retrieved=[(r["file"], r["index"]) for r in d.get("retrieved") or []],
            scope=d.get("scope"),
            kind=d.get("kind") or "answer",
            figure=d.get("figure"),
            comparison=d.get("comparison"),
            incomplete=d.get("incomplete"),
            error=d.get("error"),
        )


def render_sentences(sentences: list[AnswerSentence]) -> str:
    """The answer with verified markers after each supported sentence; a summary's section
    headings and bullets on lines of their own."""
    text = ""
    lines_before = False
    for s in sentences:
        marks = "".join(f"[{n}]" for n in s.citations)
        part = f"{s.text} {marks}" if marks else s.text
        if s.role == "heading":
            text = f"{text}\n\n{part}" if text else part
            lines_before = True
            continue
        if s.role == "bullet":
            text = f"{text}\n• {part}" if text else f"• {part}"
            lines_before = True
            continue
        lines = "\n" in s.text or " | " in s.text  # a quoted table row stands on lines of its own
        text = f"{text}{chr(10) if lines or lines_before else ' '}{part}" if text else part
        lines_before = lines
    return text
