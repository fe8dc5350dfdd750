"""Answers come back from their serialised form (Answer.to_dict(), as conversations store and
exports write it) as the same typed Answer: quoted figures and side-by-sides, refusals with their
closest passages, summaries, follow-ups, failed turns, and dicts saved before newer keys existed."""

from __future__ import annotations

import json

from indexing.models import UnitKind
from retrieval.answers import across_documents, compose_side_by_side, direct_answer
from retrieval.models import Answer, AnswerSentence, Citation, render_sentences, where
from retrieval.question import read_question
from tests.retrieval.test_answers import STATEMENT, _filing, passage


def _quoted(question: str, passages, documents=(), read=None, named=False, **extra) -> Answer:
    """The answer quote mode gives (app/chat.py `_direct`): the figure or the side-by-side first."""
    direct = direct_answer(read_question(question), passages, documents, read, named)
    assert direct is not None, question
    sentences = [AnswerSentence(text, numbers, round(score, 4), True, role) for text, numbers, role, score in direct.sentences]
    citations = [Citation(n, p, score, span) for n, (p, span, score) in enumerate(direct.cited, 1)]
    return Answer(question=question, text=render_sentences(sentences), sentences=sentences, citations=citations,
                  engine="quote", timings={"total_s": 0.123456}, figure=direct.figure, comparison=direct.comparison, **extra)


def _round_trips(answer: Answer) -> Answer:
    saved = answer.to_dict()
    again = Answer.from_dict(saved)
    assert again.to_dict() == saved
    stored = json.loads(json.dumps(saved, ensure_ascii=False))  # as SQLite keeps it
    assert json.dumps(Answer.from_dict(stored).to_dict(), ensure_ascii=False) == json.dumps(saved, ensure_ascii=False)
    return again


def test_a_quoted_figure_round_trips_with_its_cited_row_and_quote():
    text = "Our sales grew in every region.\n\n" + STATEMENT
    p = passage(text, context="Statements")
    answer = _quoted("What were total net sales?", [passage("Mac sales fell."), p],
                     scope=["/docs/report.pdf"], retrieved=[("/docs/report.pdf", 0)])
    assert answer.figure is not None
    again = _round_trips(answer)
    c, original = again.citations[0], answer.citations[0]
    assert c.quote_text == original.quote_text == "Total net sales | 81,797 | 82,959 | 293,787 | 304,182"
    assert (c.passage.chunk.path, c.passage.chunk.page, c.passage.chunk.unit_kind) == ("/docs/report.pdf", 4, UnitKind.PAGE)
    assert c.passage.chunk.text == text and c.passage.chunk.context == "Statements" and c.passage.chunk.id == p.chunk.id
    assert where(c.passage) == where(p) and again.figure == answer.figure and again.scope == ["/docs/report.pdf"]
    assert [s.role for s in again.sentences] == [s.role for s in answer.sentences] and again.retrieved == answer.retrieved


def test_a_side_by_side_round_trips_with_its_rows_and_comparison():
    answer = _quoted("How did total net sales change compared to last year's quarter?", [passage(STATEMENT)],
                     read_with="What were total net sales?")
    assert answer.comparison is not None and any(s.role == "row" for s in answer.sentences)
    again = _round_trips(answer)
    assert again.comparison == answer.comparison and again.read_with == "What were total net sales?"
    filings = {path: _filing(q, prior, now, before, path) for path, q, prior, now, before in [
        ("/docs/2022 Q3 ACME.pdf", "June 25, 2022", "June 26, 2021", "82,959", "81,434"),
        ("/docs/2023 Q3 ACME.pdf", "July 1, 2023", "June 25, 2022", "81,797", "82,900")]}
    sbs = across_documents(read_question("How did total net sales change over time?"), list(filings), lambda path: [filings[path]])
    assert sbs is not None
    direct = compose_side_by_side(sbs)
    sentences = [AnswerSentence(t, n, round(s, 4), True, r) for t, n, r, s in direct.sentences]
    across = Answer(question="How did total net sales change over time?", text=render_sentences(sentences),
                    sentences=sentences, citations=[Citation(n, p, s, span) for n, (p, span, s) in enumerate(direct.cited, 1)],
                    comparison=direct.comparison, rewritten="How did ACME's total net sales change over time?")
    again = _round_trips(across)
    assert [c.passage.chunk.path for c in again.citations] == [c.passage.chunk.path for c in across.citations]


def test_a_refusal_round_trips_with_its_closest_passages():
    close, loose = passage("The ferry leaves at 9:30."), passage("Tides.", path="/docs/notes.md", page=2)
    loose.dense = 0.2
    words = passage("Ferry.", path="/docs/b.md", page=1)
    words.dense = None  # found by its words alone
    answer = Answer(question="Who is Tesla?", text="I could not find this in your documents.", refused=True,
                    refusal_reason="Your documents do not mention “Tesla”.", closest=[close, loose, words],
                    timings={"total_s": 0.05}, incomplete="2 files are not read yet")
    again = _round_trips(answer)
    assert again.refused and again.refusal_reason == answer.refusal_reason and again.incomplete == answer.incomplete
    assert [where(p) for p in again.closest] == [where(p) for p in answer.closest]
    assert [p.dense is None for p in again.closest] == [False, False, True]


def test_a_summary_round_trips_with_its_headings_and_bullets():
    chunk = passage("First point here. Second point there.", path="/docs/notes.md", page=1).chunk
    from retrieval.models import Passage

    sentences = [AnswerSentence("Results", [], 0.0, True, role="heading"),
                 AnswerSentence("First point here.", [1], 1.0, True, role="bullet"),
                 AnswerSentence("Second point there.", [2], 1.0, True, role="bullet")]
    answer = Answer(question="Summary of notes.md", text=render_sentences(sentences), sentences=sentences,
                    citations=[Citation(1, Passage(chunk, 1.0), 1.0, (0, 17)), Citation(2, Passage(chunk, 1.0), 1.0, (18, 37))],
                    engine="summary", kind="summary")
    again = _round_trips(answer)
    assert again.kind == "summary" and [c.quote_text for c in again.citations] == ["First point here.", "Second point there."]


def test_a_failed_turn_keeps_its_error_and_others_have_no_error_key():
    failed = Answer(question="Does it work?", error="the engine stopped")
    assert failed.to_dict()["error"] == "the engine stopped"
    assert _round_trips(failed).error == "the engine stopped"
    assert "error" not in Answer(question="Fine?").to_dict()


def test_a_dict_saved_before_newer_keys_existed_opens_with_defaults():
    old = {  # an early conversation's turn: no follow-up, scope, figure, kind, match, context, role or chunk id
        "question": "Is the script safe?", "answer": "The page runs a script. [1]",
        "sentences": [{"text": "The page runs a script.", "citations": [1], "support": 0.9, "supported": True}],
        "citations": [{"n": 1, "file": "/docs/evil.html", "file_name": "evil.html", "page": None, "unit": 1,
                       "unit_kind": "document", "unit_label": None, "heading": ["Intro"], "start": 10, "end": 80,
                       "text": "Hello <script>alert('x')</script> <img src=x onerror=alert(1)> world", "score": 0.71,
                       "quote": "Hello <script>alert('x')</script>", "quote_start": 10, "quote_end": 43}],
        "refused": False, "closest": [], "timings": {"total_s": 1.0},
    }
    answer = Answer.from_dict(old)
    assert (answer.kind, answer.read_with, answer.scope, answer.figure, answer.error) == ("answer", None, None, None, None)
    assert answer.sentences[0].role == "claim" and answer.citations[0].quote_text == "Hello <script>alert('x')</script>"
    assert where(answer.citations[0].passage) == "evil.html, § Intro"
    again = answer.to_dict()
    lists = ("citations", "sentences")  # their items gain the newer keys (role, match, context…)
    assert {k: again[k] for k in old if k not in lists} == {k: old[k] for k in old if k not in lists}
    assert {k: again["sentences"][0][k] for k in old["sentences"][0]} == old["sentences"][0]
    assert {k: again["citations"][0][k] for k in old["citations"][0]} == old["citations"][0]
    assert Answer.from_dict(again).to_dict() == again
