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


def test_focus_terms_are_the_names_years_and_numbers_a_question_asks_about():
    from retrieval.focus import focus_terms

    def terms(q):
        return [(t.text, t.kind) for t in focus_terms(q)]

    assert terms("When does the ferry to Bainbridge Island leave in 2024?") == [("Bainbridge Island", "name"), ("2024", "year")]
    assert terms("What was Apple's net income in Q3 2023?") == [("Apple", "name"), ("2023", "year")]
    assert terms("How many people lived in the Kingdom of Hawaii in 1850?") == [("Kingdom of Hawaii", "name"), ("1850", "number")]
    assert terms("Who won Super Bowl 50?") == [("Super Bowl", "name"), ("50", "number")]
    assert terms("what is the ferry timetable?") == []
    # written without its accent, a name still meets the document's spelling
    (beyonce,) = focus_terms("When did Beyonce start becoming popular?")
    assert beyonce.words == focus_terms("When did Beyoncé start becoming popular?")[0].words == ("beyonce",)


def test_a_name_is_found_in_the_passage_or_in_what_its_document_says_it_is():
    from retrieval.focus import focus_terms, found, holder

    apple, year = focus_terms("What was Apple's revenue in 2023?")
    passage = holder("Total net sales | 81,797 | 82,959")
    cover = "FORM 10-Q\nFor the quarterly period ended July 1, 2023\nApple Inc."
    assert not found(apple, passage) and found(apple, passage, "/lib/q3.pdf", cover)
    assert found(year, passage, "/lib/q3.pdf", cover) and not found(year, passage, "/lib/q3.pdf", "Apple Inc.")
    assert found(year, passage, "/lib/2023 Q3 AAPL.pdf", "")


def test_names_meet_their_variants_and_numbers_their_separators():
    from retrieval.focus import focus_terms, found, holder

    def hit(question: str, text: str) -> list[bool]:
        return [found(t, holder(text)) for t in focus_terms(question)]

    assert hit("How long is the incubation time for COVID19?", "the incubation period of COVID-19 is") == [True]
    assert hit("How did Celeron handle meeting with Old Briton?", "Céloron met Old Briton") == [True, True]
    assert hit("How much can the SP alter income tax?", "the Scottish Parliament can vary income tax") == [True]
    assert hit("Why did OPEC raise the price to $5.11?", "OPEC raised the posted price to $5.11 a barrel") == [True, True]
    assert hit("What were Apple's sales of 81,797?", "Total net sales | 81797") == [False, True]
    # a different name is not a variant, nor is an acronym of words that are not a name
    assert hit("When does the ferry to Bainbridge Island leave?", "The ferry to Vashon Island leaves at 8") == [False]
    assert hit("What did the NBA decide?", "the new board asked") == [False]
    # "10-Q" names a form, not a number or a name
    assert focus_terms("What did Apple say in these 10-Qs and its Q3 2023 10-Q?")[0].text == "Apple"
    assert [t.kind for t in focus_terms("What did Apple say in these 10-Qs and its Q3 2023 10-Q?")] == ["name", "year"]
