"""A follow-up rewritten by a capable model (retrieval/condense.py): what the model is shown, and
which replies are followed (a standalone question keeping the user's words and naming what they
referred to) and which are not (an answer, a refusal, a drift, a ramble)."""

from __future__ import annotations

import pytest

from retrieval.condense import accept, condense_messages
from retrieval.followup import Turn

EARLIER = [Turn("When does the ferry to Vardø leave?",
                answer="The ferry to Vardø leaves the harbour at 9:00 on weekdays [1].")]


def test_the_model_is_shown_the_conversation_and_the_follow_up():
    long_answer = "The museum opens at ten. " * 40
    earlier = [Turn(f"question {i}?", answer=f"answer {i} [2]") for i in range(4)] + [Turn("Last one?", answer=long_answer)]
    [message] = condense_messages("And on weekends?", earlier)
    prompt = message["content"]
    assert "standalone question" in prompt and prompt.rstrip().endswith("<Standalone question>")
    assert "question 0?" not in prompt and "question 2?" in prompt  # the last three turns
    assert "answer 2" in prompt and "[2]" not in prompt  # answers without their citation markers
    assert prompt.count("museum opens") < 20 and "…" in prompt  # a long answer is cut
    assert prompt.index("Last one?") < prompt.index("And on weekends?")


@pytest.mark.parametrize("reply,expected", [
    ("When does the ferry to Vardø leave on weekends?", "When does the ferry to Vardø leave on weekends?"),
    ('Standalone question: "When does the ferry leave on weekends?"\nThe ferry leaves…',
     "When does the ferry leave on weekends?"),
    ("<Standalone question> Does the Vardø ferry sail on weekends?", "Does the Vardø ferry sail on weekends?"),
])
def test_a_standalone_question_is_followed(reply, expected):
    assert accept("And on weekends?", reply, EARLIER) == expected


@pytest.mark.parametrize("reply,why", [
    ("", "nothing"),
    ("On weekends the ferry sails at 11:30 from pier 4.", "an answer, not a question"),
    ("When does the ferry leave on weekends? It sails at 11:30.", "a question and its answer"),
    ("I could not find this in your documents.", "a refusal"),
    ("When does the ferry to Vardø leave?", "the user's word 'weekends' dropped"),
    ("And on weekends?", "nothing added from the conversation"),
    ("When do the trams to Oslo run on weekends?", "what it adds is not in the conversation"),
    ("When does the ferry leave on weekends, " + "and also " * 30 + "why?", "a ramble"),
])
def test_a_reply_that_is_not_a_usable_rewrite_is_not_followed(reply, why):
    assert accept("And on weekends?", reply, EARLIER) is None, why


def test_an_explanation_is_not_a_rewrite_though_the_request_had_no_question_mark():
    """Seen with the bundled 135M model on doc2dial: asked "tell me the requirements", it wrote
    two sentences about them instead of a question."""
    earlier = [Turn("Can I get help returning to my former job through VR&E?", answer="VR&E helps veterans return to work.")]
    reply = ("The requirements for returning to a former job through VR&E can vary. "
             "Some employers may have additional support, while others might not provide it at all.")
    assert accept("tell me the requirements", reply, earlier) is None


def test_a_request_without_a_question_mark_may_be_rewritten_as_one():
    earlier = [Turn("What does the 10-Q say about Apple's iPhone sales?", answer="iPhone net sales fell 2 % [1].")]
    assert accept("tell me more about the reasons", "What reasons does the 10-Q give for Apple's iPhone sales?",
                  earlier) == "What reasons does the 10-Q give for Apple's iPhone sales?"
