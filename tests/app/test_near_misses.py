"""Near misses: a question phrased like one the library answers, about something it does not hold
(another company, another year), is refused with what the documents lack, not answered from the
look-alike with a confident citation."""

from __future__ import annotations

import pytest

from app.chat import Done
from tests import docs


@pytest.fixture
def reports(services, library, tmp_path):
    *_, done = library.add([str(docs.make_two_reports(tmp_path / "reports"))])
    assert done.phase == "done"
    services.settings.retrieval.answer_mode = "quote"
    return services


def _ask(services, question):
    events = list(services.chat().ask(question))
    assert isinstance(events[-1], Done)
    return events[-1].answer


def test_a_company_the_library_does_not_hold_is_refused_by_name(reports):
    answer = _ask(reports, "What was Tesla's freight revenue for the quarter ended June 30, 2024?")
    assert answer.refused, answer.text
    assert answer.refusal_reason == "Your documents do not mention “Tesla”."
    assert answer.closest, "the closest passages are shown so the user can judge"
    # the same question about a company the library holds is answered, from its filing
    held = _ask(reports, "What was Northwind Shipping's freight revenue for the quarter ended June 30, 2024?")
    assert not held.refused, held.refusal_reason
    assert held.citations[0].passage.file_name == "report-b.pdf" and "2,760" in held.text


def test_a_year_the_library_does_not_cover_is_refused_with_the_years_it_does(reports):
    answer = _ask(reports, "What was Lighthouse Ferries' freight revenue for the quarter ended June 30, 2019?")
    assert answer.refused, answer.text
    assert answer.refusal_reason == "The closest passages are about 2024, not 2019."
    exported = answer.to_dict()
    from app.export import to_html, to_markdown

    assert "about 2024, not 2019" in to_markdown([exported]) and "about 2024, not 2019" in to_html([exported])
