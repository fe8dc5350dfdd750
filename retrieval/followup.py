"""Follow-up questions: what a question refers back to, without an LLM.

"And on weekends?", "who built it?", "yes, I have one": asked alone, such a turn retrieves the
wrong passages (or nothing). The conversation is read with it, each part weighted below the
question itself (fused ranks, retrieval/search.py):
- the earlier questions (the last `turns` of them) read together with this one, as a second
  dense and a second lexical list beside the question's own;
- the documents the previous answer came from: a bonus for their passages;
- the passages next to the ones the previous answer came from: a further bonus (a conversation
  walks through a document: the next answer is usually a little further on).
All three count less the more the question says on its own: "and on weekends?" (one content word)
leans on the conversation fully, "how much does a library membership card cost?" (four) little, so
a change of topic does not inherit the old one; and a question that says that much whose own
dense and lexical searches both rank first a passage of another document than the previous
answer's leans on it less still (× 0.3). (Applied to every question, that check undid "and on
weekends?", whose one word points at the buses' page: short questions are left out of it.)
Weights were picked on one half of doc2dial's dialogues and checked on the other (bench/conversation.py
--grid: three earlier questions and a document bonus twice the first rank's score; a question on a
new topic pays a little for it: docs/benchmarks.md, "Follow-up questions").
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Turn:
    """What retrieval keeps of an earlier turn: its question and the passages it answered from,
    best first, as (file path, chunk position in the file); its answer's text (what a capable
    model reads when it rewrites a follow-up: retrieval/condense.py), empty when it refused."""

    question: str
    passages: list[tuple[str, int]] = field(default_factory=list)
    answer: str = ""


@dataclass
class Context:
    """What a question refers back to, as retrieval reads it (Retriever.search(context=…))."""

    text: str  # earlier questions, oldest first
    documents: dict[str, float]  # path → 0..1: the previous answer's documents
    near: dict[str, set[int]]  # path → chunk positions the previous answer came from
    weight: float  # of the lists of the question read in context, against the question's own
    document_bonus: float
    near_bonus: float
    span: int  # chunks either side of a cited one that count as near
    own_words: bool = False  # the question says more than `short` content words on its own
    new_topic: float = 1.0  # then, if its own lists agree on another document: the weights' factor


@dataclass
class FollowUpSettings:
    turns: int = 3  # earlier questions read with the question
    weight: float = 0.7
    passages: int = 3  # of the previous answer's passages whose documents and neighbours count
    document_bonus: float = 2.0 / 61.0  # twice the fused score of a passage ranked first by one list
    near_bonus: float = 0.5 / 61.0
    span: int = 2
    # a question of up to `short` content words leans on the conversation fully; each word more
    # divides the weights by 1 + 1/`fade` more (4 words: by 2 with short 2, fade 2)
    short: int = 2
    fade: float = 2.0
    # a question of more than `short` content words whose own dense and lexical lists both rank
    # first a passage of another document than the previous answer's: the weights times this
    new_topic: float = 0.3


def reliance(question: str, s: FollowUpSettings) -> float:
    """How much the question leans on the conversation: 1 for a short one, less the more it says."""
    from indexing.words import content_words

    extra = max(0, len(content_words(question)) - s.short)
    return 1.0 / (1.0 + extra / s.fade) if s.fade > 0 else 1.0


def context_for(turns: list[Turn], settings: FollowUpSettings | None = None, question: str = "") -> Context | None:
    """The context of `question`, the next one of a conversation with these earlier turns (None: none)."""
    s = settings or FollowUpSettings()
    if not turns or s.turns <= 0:
        return None
    lean = reliance(question, s) if question else 1.0
    own_words = lean < 1.0
    text = " ".join(t.question.strip() for t in turns[-s.turns:] if t.question.strip())
    documents: dict[str, float] = {}
    near: dict[str, set[int]] = {}
    for rank, (path, index) in enumerate(turns[-1].passages[: s.passages]):
        documents[path] = max(documents.get(path, 0.0), 1.0 / (rank + 1))
        near.setdefault(path, set()).add(index)
    return Context(text=text, documents=documents, near=near, weight=s.weight * lean,
                   document_bonus=s.document_bonus * lean, near_bonus=s.near_bonus * lean, span=s.span,
                   own_words=own_words, new_topic=s.new_topic)


def turn_of(question: str, passages, relevant: float = 0.5) -> Turn:
    """The Turn to remember after answering `question` from these passages (retrieval.models.Passage,
    best first): those that scored at least `relevant` × the best one's fused score; a list always
    has a fifth passage, and one far below the first says nothing about what the answer was about."""
    best = passages[0].score if passages else 0.0
    return Turn(question, [(p.chunk.path, p.chunk.index) for p in passages if p.score >= relevant * best])


__all__ = ["Context", "FollowUpSettings", "Turn", "context_for", "turn_of"]
