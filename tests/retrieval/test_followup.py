"""Follow-up questions read with the conversation (retrieval/followup.py), on a real library."""

from __future__ import annotations

import pytest

from retrieval.followup import FollowUpSettings, Turn, context_for, turn_of
from tests import docs



@pytest.fixture
def town(library, tmp_path):
    folder = docs.make_town(tmp_path / "town")
    for _ in library.add([str(folder)]):
        pass
    return library


def _top(passages) -> str:
    return passages[0].chunk.path.rsplit("/", 1)[-1]


def test_a_follow_up_finds_what_the_question_alone_misses(town):
    retriever = town.retriever
    first = retriever.search("When does the ferry to Vardø leave?", 5)
    assert _top(first) == "ferry.md"
    history = [turn_of("When does the ferry to Vardø leave?", first)]
    alone = retriever.search("And on weekends?", 5)
    assert _top(alone) == "bus.md"  # alone, "weekends" is the buses' word
    followed = retriever.search("And on weekends?", 5, context=context_for(history, question="And on weekends?"))
    assert _top(followed) == "ferry.md" and "Saturdays" in followed[0].chunk.text


def test_a_change_of_topic_does_not_inherit_the_old_one(town):
    retriever = town.retriever
    first = retriever.search("When does the ferry to Vardø leave?", 5)
    history = [turn_of("When does the ferry to Vardø leave?", first)]
    question = "How much does a library membership card cost?"
    passages = retriever.search(question, 5, context=context_for(history, question=question))
    assert _top(passages) == "library.md"


def test_the_context_reads_the_last_turns_and_the_previous_answer():
    turns = [Turn("first question", [("/a.md", 0)]), Turn("second question", [("/b.md", 3), ("/a.md", 1)]),
             Turn("third question", [("/c.md", 7), ("/c.md", 8), ("/b.md", 2), ("/d.md", 0)])]
    context = context_for(turns, FollowUpSettings(turns=2, passages=3))
    assert context.text == "second question third question"
    assert context.documents == {"/c.md": 1.0, "/b.md": pytest.approx(1 / 3)}  # best rank of each, the first 3
    assert context.near == {"/c.md": {7, 8}, "/b.md": {2}}
    assert context_for([]) is None
    short = context_for(turns, question="and on weekends?")
    long = context_for(turns, question="how much does a library membership card cost?")
    assert short.weight == FollowUpSettings().weight and long.weight < short.weight / 1.5
