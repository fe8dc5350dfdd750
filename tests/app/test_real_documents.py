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
