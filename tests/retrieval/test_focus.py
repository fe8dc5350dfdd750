"""What a question names, and which documents of the library it names (retrieval/focus.py)."""

from __future__ import annotations

from retrieval.focus import preferences, question_focus, topic

COVERS = {
    f"/lib/{year} Q{q} {ticker}.pdf": f"FORM 10-Q\nFor the quarterly period ended {month} 30, {year}\n{name}\n"
    "(Exact name of registrant as specified in its charter)"
    for year, q, month in ((2022, 3, "September"), (2023, 1, "March"), (2023, 3, "September"))
    for ticker, name in (("AAPL", "Apple Inc."), ("NVDA", "NVIDIA Corporation"), ("INTC", "Intel Corporation"))
}


def best(prefs: dict[str, float]) -> set[str]:
    return {path.rsplit("/", 1)[1] for path, v in prefs.items() if v == 1.0}


def test_a_question_names_companies_periods_and_the_latest():
    f = question_focus("What was NVIDIA's gross margin in Q3 2023, compared with fiscal 2022?")
    assert "nvidia" in f.names and f.years == {2023, 2022} and f.quarters == {3} and not f.latest
    assert question_focus("In the third quarter, what did Apple report?").quarters == {3}
    assert question_focus("What did Intel say in its most recent 10-Q?").latest
    assert question_focus("What was the revenue?").names == []  # a capitalised first word names nothing


def test_the_filing_of_the_named_company_and_period_is_preferred():
    prefs, inside = preferences("What was Apple's revenue in Q3 2023?", COVERS)
    assert best(prefs) == {"2023 Q3 AAPL.pdf"}
    assert all(v < 1.0 for p, v in prefs.items() if "AAPL" not in p or "2023 Q3" not in p)
    assert "Apple" not in inside and "2023" not in inside and "revenue" in inside


def test_the_latest_filing_of_the_named_company_is_preferred():
    prefs, _ = preferences("What was NVIDIA's gross margin in the latest 10-Q?", COVERS)
    assert best(prefs) == {"2023 Q3 NVDA.pdf"}
    prefs, _ = preferences("How did Intel's revenue change over these quarters?", COVERS)
    assert best(prefs) == {"2022 Q3 INTC.pdf", "2023 Q1 INTC.pdf", "2023 Q3 INTC.pdf"}


def test_names_that_tell_no_document_apart_give_no_preference():
    # a company no document is about, and a word every cover holds
    assert preferences("What was Microsoft's revenue?", COVERS) == ({}, "What was Microsoft's revenue?")
    assert preferences("What does the Exchange Act require?", COVERS)[0] == {}
    assert preferences("What was the revenue?", COVERS)[0] == {}
    assert preferences("What was Apple's revenue?", {"/lib/only.pdf": "Apple Inc."})[0] == {}


def test_the_topic_keeps_what_to_look_for_inside_the_documents():
    assert topic("What was NVIDIA's gross margin in the most recent 10-Q report?", ["nvidia"]) == "What was gross margin in the ?"
    assert topic("Apple Q3 2023?", ["apple"]) == "Apple Q3 2023?"  # nothing left: the question itself


def test_a_period_no_document_covers_makes_no_document_the_named_one():
    """A near miss: Apple's filings are in the library, but not the one of the year asked about."""
    prefs, _ = preferences("What was Apple's revenue in Q3 2019?", COVERS)
    assert prefs and max(prefs.values()) < 1.0
    assert {p.rsplit("/", 1)[1] for p in prefs} == {"2022 Q3 AAPL.pdf", "2023 Q1 AAPL.pdf", "2023 Q3 AAPL.pdf"}
