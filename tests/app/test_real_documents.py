"""Asking about business reports: the figure's row quoted under its headings, at its page, in the
filing of the company the question names."""

from __future__ import annotations

from app.chat import Done
from tests import docs


def _quote(services, library, question):
    services.settings.retrieval.answer_mode = "quote"
    events = list(services.chat().ask(question))
    assert isinstance(events[-1], Done)
    return events[-1].answer


def test_a_question_about_one_figure_quotes_its_row_under_its_headings(services, library, tmp_path):
    """A figure question was answered with the page's twelve-line header, at a page without it."""
    folder = tmp_path / "reports"
    folder.mkdir()
    docs.make_report_pdf(folder / "ferries-q2.pdf")
    list(library.add([str(folder)]))
    answer = _quote(services, library, "What was the freight revenue in the three months ended June 30, 2024?")
    assert not answer.refused, answer.refusal_reason
    first = answer.citations[0].to_dict()
    assert first["file_name"] == "ferries-q2.pdf" and first["page"] == 3
    assert first["quote"] == "Freight revenue | 1,204 | 998"  # the row, verbatim: highlightable on the page
    # the answer shows the row under its column headings, so 1,204 reads as June 30, 2024's figure
    assert "June 30, 2024 | June 30, 2023\nFreight revenue | 1,204 | 998" in answer.text
    assert all(len(s.text.split("\n")) <= 4 for s in answer.sentences)


def test_the_filing_of_the_company_the_question_names_is_cited(services, library, tmp_path):
    """Asked about one company's figure, Citewise quoted another company's filing in the library."""
    list(library.add([str(docs.make_two_reports(tmp_path / "reports"))]))
    for company, name, figure in (("Northwind Shipping", "report-b.pdf", "2,760"), ("Lighthouse Ferries", "report-a.pdf", "1,204")):
        answer = _quote(services, library, f"What was {company}'s freight revenue for the quarter ended June 30, 2024?")
        assert not answer.refused, answer.refusal_reason
        assert answer.citations[0].passage.file_name == name, (company, [c.passage.where() for c in answer.citations])
        assert figure in answer.text


def _ferries_quarters(folder):
    """Lighthouse Ferries' Q1 and Q2 2024 reports: freight revenue 1,050 then 1,204 (thousands)."""
    folder.mkdir(parents=True, exist_ok=True)
    q1_rows = [("Ticket revenue", "$ 4,390", "$ 3,801"), ("Freight revenue", "1,050", "900"), *docs.REPORT_ROWS[2:]]
    docs.make_report_pdf(folder / "ferries 2024 Q1.pdf", table_rows=q1_rows, ended=("March 31, 2024", "March 31, 2023"),
                         header="LIGHTHOUSE FERRIES INC. | Q1 2024 FORM 10-Q")
    docs.make_report_pdf(folder / "ferries 2024 Q2.pdf")
    return folder


def test_a_figure_question_opens_with_the_figure_its_label_period_and_unit(services, library, tmp_path):
    """Asked for a figure in a table, the answer opened with a nearby sentence or a heading line;
    the number was one or five clicks away."""
    folder = tmp_path / "reports"
    folder.mkdir()
    docs.make_report_pdf(folder / "ferries-q2.pdf")
    list(library.add([str(folder)]))
    answer = _quote(services, library, "What was Lighthouse Ferries' freight revenue last quarter?")
    assert answer.sentences[0].text == "Freight revenue, three months ended June 30, 2024: $1,204 thousand"
    assert answer.sentences[0].role == "answer" and answer.sentences[0].citations == [1]
    first = answer.citations[0].to_dict()
    assert (first["file_name"], first["page"], first["quote"]) == ("ferries-q2.pdf", 3, "Freight revenue | 1,204 | 998")
    # what `ask --json` prints: the value, its unit and period, and the cell it was read from
    figure = answer.to_dict()["figure"]
    assert (figure["value"], figure["unit"], figure["period_end"], figure["cell"], figure["citation"]) == (
        "$1,204 thousand", "thousand", "2024-06-30", "1,204", 1)
    previous = _quote(services, library, "What was the freight revenue in the three months ended June 30, 2023?")
    assert previous.sentences[0].text == "Freight revenue, three months ended June 30, 2023: $998 thousand"


def test_a_change_across_two_filings_is_a_cited_side_by_side_with_the_difference_computed(services, library, tmp_path):
    list(library.add([str(_ferries_quarters(tmp_path / "reports"))]))
    answer = _quote(services, library, "How did Lighthouse Ferries' freight revenue change from Q1 to Q2 2024?")
    assert not answer.refused, answer.refusal_reason
    head = answer.sentences[0]
    assert head.text == ("Freight revenue: $1,050 thousand (three months ended March 31, 2024) → $1,204 thousand "
                         "(three months ended June 30, 2024); change +$154 thousand (+14.7 %), computed from [1] and [2]")
    assert head.citations == [1, 2]
    rows = [s for s in answer.sentences if s.role == "row"]
    assert [r.text for r in rows] == ["ferries 2024 Q1.pdf | three months ended March 31, 2024 | $1,050 thousand",
                                      "ferries 2024 Q2.pdf | three months ended June 30, 2024 | $1,204 thousand"]
    # the newest filing, the one a reader asks about first, is [1]; the rows read oldest first
    cited = {c.n: (c.passage.file_name, c.passage.chunk.page, c.quote_text) for c in answer.citations}
    assert cited[1] == ("ferries 2024 Q2.pdf", 3, "Freight revenue | 1,204 | 998")
    assert cited[2] == ("ferries 2024 Q1.pdf", 3, "Freight revenue | 1,050 | 900")
    comparison = answer.to_dict()["comparison"]
    assert comparison["computed_from"] == [1, 2] and comparison["change"] == "+$154 thousand (+14.7 %)"

    from app.export import to_html, to_markdown

    md = to_markdown([answer.to_dict()])
    assert "| Source | Period | Value | Cited |" in md
    assert "| ferries 2024 Q1.pdf | three months ended March 31, 2024 | $1,050 thousand | [2] |" in md
    assert "<table class='side'" in to_html([answer.to_dict()])


def test_a_follow_up_asking_how_the_figure_changed_answers_side_by_side(services, library, tmp_path):
    """Tried as a new user would: "what was freight revenue last quarter", then "how did it change
    from the quarter before" — the first answer's first line is the figure, cited to its row; the
    follow-up measures the same thing and answers with the filings side by side."""
    from retrieval.followup import turn_of

    list(library.add([str(_ferries_quarters(tmp_path / "reports"))]))
    services.settings.retrieval.answer_mode = "quote"
    chat = services.chat()
    first = [e for e in chat.ask("What was Lighthouse Ferries' freight revenue last quarter?") if isinstance(e, Done)][0].answer
    assert first.sentences[0].text == "Freight revenue, three months ended June 30, 2024: $1,204 thousand"
    history = [turn_of(first.question, [c.passage for c in first.citations])]
    history[0].answer = first.text
    then = [e for e in chat.ask("How did it change from the quarter before?", history=history) if isinstance(e, Done)][0].answer
    assert not then.refused, then.refusal_reason
    assert then.sentences[0].text.startswith("Freight revenue: $1,050 thousand (three months ended March 31, 2024) → "
                                             "$1,204 thousand (three months ended June 30, 2024); change +$154 thousand")
    assert {c.passage.file_name for c in then.citations} == {"ferries 2024 Q1.pdf", "ferries 2024 Q2.pdf"}
