"""Follow-ups with a capable model: the question rewritten as one that stands alone (condense).

"And on weekends?" after "When does the ferry to Vardø leave?" is rewritten by the answering
model as "When does the ferry to Vardø leave on weekends?", and that is what is searched and
answered — llama-index's condense step (CondenseQuestionChatEngine: its prompt and its history
format are used as they are). A model that writes answers (a catalog model, the user's own, a
remote server) does it; the bundled 135M model cannot rewrite reliably, so the quote path reads
a follow-up with the conversation instead (retrieval/followup.py).

A rewrite is only used when it is one: a single question that keeps the words the user asked
(a model that answers, refuses, drops "weekends" or rambles is not followed) and adds something
from the conversation (a rewrite adding nothing says nothing the conversation-weighted search
does not). Otherwise the question is searched as a follow-up as before; the answer says which.
The search still leans a little on the conversation (the rewrite's own length fades it:
followup.reliance), so a rewrite that names the topic but misses the document is still helped.
"""

from __future__ import annotations

import re

from indexing.words import content_words
from retrieval.attribution import split_sentences, strip_markers
from retrieval.followup import Turn

TURNS = 3  # earlier turns shown to the model
ANSWER_CHARS = 400  # of each earlier answer
MAX_TOKENS = 64  # a question, not an essay


def condense_messages(question: str, earlier: list[Turn]) -> list[dict[str, str]]:
    """The chat messages asking the model for the standalone question (llama-index's template),
    showing it the earlier turns' questions and answers."""
    from llama_index.core.base.llms.generic_utils import messages_to_history_str
    from llama_index.core.base.llms.types import ChatMessage, MessageRole
    from llama_index.core.chat_engine.condense_question import DEFAULT_TEMPLATE

    history: list[ChatMessage] = []
    for turn in earlier[-TURNS:]:
        history.append(ChatMessage(role=MessageRole.USER, content=" ".join(turn.question.split())))
        if turn.answer.strip():
            answer = " ".join(strip_markers(turn.answer)[0].split())
            if len(answer) > ANSWER_CHARS:
                answer = answer[:ANSWER_CHARS].rsplit(" ", 1)[0] + " …"
            history.append(ChatMessage(role=MessageRole.ASSISTANT, content=answer))
    prompt = DEFAULT_TEMPLATE.format(chat_history=messages_to_history_str(history), question=question.strip())
    return [{"role": "user", "content": prompt}]


_label = re.compile(r"^\s*(<?\s*standalone question\s*>?\s*:?|(rewritten )?question\s*:)\s*", re.I)
_answerish = re.compile(r"\b(i could not|i couldn't|i cannot|i can't|i don't know|sorry|as an ai)\b", re.I)


# words of asking, not of the topic: a rewrite may drop them ("tell me more about the reasons" →
# "What reasons does the 10-Q give for …?")
_ASKING = "tell explain describe show list give say know want mean more else also again please kind sort"


def _stems(words) -> set[str]:
    """Word forms that count as the same word ("weekend" / "weekends", "built" / "build")."""
    return {w.casefold()[:5] for w in words}


def clean(text: str) -> str:
    """The model's reply as one line: its first non-empty line, without a label or quotes."""
    line = next((ln.strip() for ln in text.splitlines() if ln.strip()), "")
    line = _label.sub("", line).strip().strip('"“”\'`').strip()
    return " ".join(line.split())


def accept(question: str, reply: str, earlier: list[Turn], *, keep: float = 0.75, longest: int = 40) -> str | None:
    """The rewrite to search with, or None when the reply is not a usable one: empty, more than
    `longest` words (or four times the question's), more than one sentence, an answer or a refusal
    rather than a question (a question asked with "?" is rewritten as one),
    keeping fewer than `keep` of the question's content words, or adding none from the conversation
    (the `earlier` turns: what the question refers back to is there, not in the model's fancy)."""
    rewrite = clean(reply)
    if not rewrite or _answerish.search(rewrite):
        return None
    n = len(rewrite.split())
    if n > max(longest, 4 * len(question.split())):
        return None
    if "?" in rewrite and not rewrite.endswith("?"):  # a question followed by more (an answer)
        return None
    if len(split_sentences(rewrite)) > 1:  # one question, not a paragraph (an answer, an explanation)
        return None
    if question.strip().endswith("?") and not rewrite.endswith("?"):  # a statement: an answer
        return None
    asked = _stems(content_words(question)) - _stems(content_words(_ASKING))
    said = _stems(content_words(rewrite))
    if asked and len(asked & said) < keep * len(asked):
        return None
    told = _stems(content_words(" ".join(f"{t.question} {t.answer}" for t in earlier[-TURNS:])))
    if not (said - asked) & told:
        return None
    return rewrite


__all__ = ["MAX_TOKENS", "accept", "clean", "condense_messages"]
