"""Streaming attribution without an engine: a scripted model's tokens are fed as they would arrive,
and every edge case a real model produces now and then is made to happen on purpose."""

from __future__ import annotations

from retrieval.attribution import Attributor
from retrieval.streaming import SentenceCited, StreamingCiter, Token
from tests.retrieval.test_attribution import PASSAGES


def _run(tokens: list[str], stop_after: int | None = None):
    """What Chat.ask does with an engine's stream: feed, stop on a loop or a cancel, finish."""
    citer = StreamingCiter(Attributor(PASSAGES))
    events = []
    for i, delta in enumerate(tokens):
        events += list(citer.feed(delta))
        if citer.looping or (stop_after is not None and i + 1 >= stop_after):
            break
    events += list(citer.finish())
    return citer, events


def test_a_marker_split_across_tokens_is_never_shown_and_still_counts():
    citer, events = _run(["The Lund site employs 310 peo", "ple [", "2", "]. Output fell in 2020 [1", "]."])
    shown = "".join(e.text for e in events if isinstance(e, Token))
    assert "[" not in shown and "]" not in shown
    assert shown == "The Lund site employs 310 people. Output fell in 2020."
    cited = [e for e in events if isinstance(e, SentenceCited)]
    assert [(e.text, e.supported) for e in cited] == [("The Lund site employs 310 people.", True), ("Output fell in 2020.", True)]
    assert cited[0].citations == [1] and cited[1].citations == [2]  # numbered in order of first use
    assert [c.passage.chunk.unit for c in citer.citations(PASSAGES)] == [2, 1]


def test_a_sentence_is_cited_before_the_text_that_follows_it_is_shown():
    _, events = _run(["The Lund site employs 310 people. Most", " of them work in two shifts."])
    kinds = [(type(e).__name__, e.text) for e in events]
    assert kinds.index(("SentenceCited", "The Lund site employs 310 people.")) < kinds.index(("Token", " Most"))


def test_a_model_that_repeats_itself_is_stopped_and_said_once():
    loop = ["The plant produced 4,200 tonnes of steel in 2019. "] * 6
    citer, events = _run(loop)
    assert citer.looping
    assert [e.text for e in events if isinstance(e, SentenceCited)] == ["The plant produced 4,200 tonnes of steel in 2019."]
    # stopped at the first repeat (the answer is rendered from its sentences: said once)
    assert len(citer.sentences) == 1 and citer.raw.count("4,200") < 6


def test_cancelled_mid_sentence_the_answer_so_far_is_still_attributed():
    citer, events = _run(["The company employs 310 people", " at its Lund site. Most of them", " work in two shifts."], stop_after=2)
    cited = [e for e in events if isinstance(e, SentenceCited)]
    assert [e.text for e in cited] == ["The company employs 310 people at its Lund site.", "Most of them"]
    assert citer.text == "The company employs 310 people at its Lund site. Most of them"
