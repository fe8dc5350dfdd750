"""The answer's first line: the figure asked for, read from a table row under its headings, and a
change across periods or filings side by side (retrieval/question, tables, answers).

Passages here are made in the test (one layer: no store, no embedder); the app-level tests with
real PDFs are in tests/app/test_real_documents.py."""

from __future__ import annotations

from indexing.models import Chunk, UnitKind
from retrieval.answers import across_documents, direct_answer
from retrieval.models import Passage
from retrieval.question import read_question
from retrieval.tables import rows_of

STATEMENT = """CONDENSED CONSOLIDATED STATEMENTS OF OPERATIONS (Unaudited)
(In millions, except per share amounts)

Three Months Ended | Nine Months Ended
July 1,2023 | June 25,2022 | July 1,2023 | June 25,2022
Net sales:
Products | $60,584 | $63,355 | $230,901 | $245,241
Services | 21,213 | 19,604 | 62,886 | 58,941
Total net sales | 81,797 | 82,959 | 293,787 | 304,182
Research and development | 7,442 | 6,797 | 22,608 | 19,490
Net income | $19,881 | $19,442 | $74,039 | $79,082
Earnings per share:
Diluted | $1.26 | $1.20 | $4.67 | $4.82"""

YEARS = """Revenue by region (in thousands)
2024 | 2023 | 2022
Harbour tickets | $4,410 | $3,980 | $3,120
Freight | 2,760 | 2,410 | 1,990
Effective tax rate | 21.5 % | 19.0 % | 18.2 %"""


def passage(text: str, path: str = "/docs/report.pdf", page: int = 4, context: str = "", index: int = 0) -> Passage:
    chunk = Chunk(id=f"{path}:{page}:{index}:{hash(text)}", text=text, path=path, content_hash="h", unit=page,
                  unit_kind=UnitKind.PAGE, start=0, end=len(text), index=index, context=context)
    return Passage(chunk, score=1.0, dense=0.7)


def first_line(question: str, passages: list[Passage]) -> str:
    direct = direct_answer(read_question(question), passages)
    assert direct is not None, question
    return direct.sentences[0][0]


def test_reading_a_question_finds_its_kind_metric_and_period():
    r = read_question("What were Apple's total net sales in the third quarter of fiscal 2023?")
    assert (r.kind, r.metric, r.period.quarters, r.period.years) == ("amount", ["total", "net", "sale"], {3}, {2023})
    assert "revenue" in r.wide  # net sales ↔ revenue
    assert read_question("How did total net sales change from Q2 to Q3?").kind == "change"
    assert read_question("Why did iPhone net sales decrease?").kind == "reason"
    assert read_question("When was the company founded?").kind == "date"
    assert read_question("What was the effective tax rate?").kind == "percent"
    assert read_question("What was diluted EPS for the nine months ended July 1, 2023?").period.months == 9


def test_a_total_asked_for_is_the_first_line_with_its_label_period_and_unit():
    """Asked for total net sales, quote mode answered with a sentence about Mac and Wearables."""
    line = first_line("What were Apple's total net sales in the third quarter of fiscal 2023?", [passage(STATEMENT)])
    assert line == "Total net sales, three months ended July 1, 2023: $81,797 million"


def test_the_column_of_the_year_asked_is_answered():
    assert first_line("What was freight revenue in 2022?", [passage(YEARS)]) == "Freight, 2022: $1,990 thousand"
    assert first_line("What was freight revenue in 2023?", [passage(YEARS)]) == "Freight, 2023: $2,410 thousand"
    assert first_line("What was the effective tax rate in 2024?", [passage(YEARS)]) == "Effective tax rate, 2024: 21.5 %"


def test_a_span_or_date_named_picks_that_column():
    p = [passage(STATEMENT)]
    assert first_line("What was diluted earnings per share for the nine months ended July 1, 2023?", p) == (
        "Diluted (Earnings per share), nine months ended July 1, 2023: $4.67 per share")
    assert first_line("How much was research and development in the quarter ended June 25, 2022?", p) == (
        "Research and development, three months ended June 25, 2022: $6,797 million")
    # no period named: the filing's current quarter, the figure a filing leads with
    assert first_line("What was R&D expense?", p) == "Research and development, three months ended July 1, 2023: $7,442 million"


def test_a_later_chunk_of_a_table_reads_its_headings_from_its_context():
    heads = "Three Months Ended | Nine Months Ended\nJuly 1,2023 | June 25,2022 | July 1,2023 | June 25,2022"
    p = passage("Net income | $19,881 | $19,442 | $74,039 | $79,082", context=f"(In millions)\n{heads}")
    assert first_line("What was net income for the nine months ended June 25, 2022?", [p]) == (
        "Net income, nine months ended June 25, 2022: $79,082 million")


def test_the_quote_under_the_first_line_is_the_row_under_its_headings_cited_to_its_span():
    text = "Our sales grew in every region.\n\n" + STATEMENT
    p = passage(text)
    direct = direct_answer(read_question("What were total net sales?"), [passage("Mac sales fell."), p])
    (line, numbers, role, _), (quote, quote_numbers, _, _) = direct.sentences[:2]
    assert role == "answer" and numbers == quote_numbers == [1]
    cited, span, _ = direct.cited[0]
    assert cited is p and text[span[0]:span[1]] == "Total net sales | 81,797 | 82,959 | 293,787 | 304,182"
    assert quote.endswith("July 1,2023 | June 25,2022 | July 1,2023 | June 25,2022\nTotal net sales | 81,797 | 82,959 | 293,787 | 304,182")
    assert direct.figure["value"] == "$81,797 million" and direct.figure["period_end"] == "2023-07-01"
    assert direct.figure["cell"] == "81,797" and direct.figure["page"] == 4


def test_no_row_that_names_the_metric_leaves_the_sentences_to_answer():
    """A table of other things must not be quoted as the answer: a figure of another row is wrong."""
    assert direct_answer(read_question("What was the number of employees?"), [passage(STATEMENT)]) is None
    assert direct_answer(read_question("Why did sales fall?"), [passage(STATEMENT)]) is None


def test_a_change_in_one_filing_is_its_row_side_by_side_with_the_difference_computed():
    direct = direct_answer(read_question("How did total net sales change compared to last year's quarter?"), [passage(STATEMENT)])
    assert direct is not None
    line = direct.sentences[0][0]
    assert line == ("Total net sales: $82,959 million (three months ended June 25, 2022) → $81,797 million "
                    "(three months ended July 1, 2023); change −$1,162 million (−1.4 %), computed from [1]")
    rows = [s for s in direct.sentences if s[2] == "row"]
    assert [r[0] for r in rows] == ["three months ended June 25, 2022 | $82,959 million",
                                    "three months ended July 1, 2023 | $81,797 million"]
    assert direct.comparison["change"] == "−$1,162 million (−1.4 %)"


def _filing(quarter_end: str, prior_end: str, now: str, before: str, path: str) -> Passage:
    text = (f"(In millions)\nThree Months Ended\n{quarter_end} | {prior_end}\n"
            f"Total net sales | ${now} | ${before}\nNet income | $1 | $2")
    return passage(text, path=path, page=3)


def test_a_change_across_filings_is_one_row_per_filing_each_cited_to_its_own_file():
    """Asked how a figure moved over the quarters, each filing's own figure, cited to it."""
    filings = {
        "/docs/2023 Q2 ACME.pdf": _filing("April 1, 2023", "March 26, 2022", "94,836", "97,278", "/docs/2023 Q2 ACME.pdf"),
        "/docs/2023 Q3 ACME.pdf": _filing("July 1, 2023", "June 25, 2022", "81,797", "82,959", "/docs/2023 Q3 ACME.pdf"),
        "/docs/2023 Q1 ACME.pdf": _filing("December 31, 2022", "December 25, 2021", "117,154", "123,945", "/docs/2023 Q1 ACME.pdf"),
    }
    sbs = across_documents(read_question("How have ACME's total net sales changed over time?"), list(filings),
                           lambda path: [filings[path]])
    assert [s.source for s in sbs.rows] == ["2023 Q1 ACME.pdf", "2023 Q2 ACME.pdf", "2023 Q3 ACME.pdf"]
    assert [s.cell.value for s in sbs.rows] == ["$117,154", "$94,836", "$81,797"]
    assert sbs.change == "−$35,357 million (−30.2 %)"
    assert sbs.differ == []


def test_filings_that_state_different_values_for_one_period_are_said_to_differ():
    """A restated figure: the later filing's prior-year column disagrees with the earlier filing."""
    filings = {
        "/docs/2022 Q3 ACME.pdf": _filing("June 25, 2022", "June 26, 2021", "82,959", "81,434", "/docs/2022 Q3 ACME.pdf"),
        "/docs/2023 Q3 ACME.pdf": _filing("July 1, 2023", "June 25, 2022", "81,797", "82,900", "/docs/2023 Q3 ACME.pdf"),
    }
    sbs = across_documents(read_question("How did total net sales change over time?"), list(filings),
                           lambda path: [filings[path]])
    assert sbs.differ == ["June 25, 2022 (3 months): $82,959 million in 2022 Q3 ACME.pdf, $82,900 million in 2023 Q3 ACME.pdf"]


def test_rows_wrapped_over_lines_and_headings_without_separators_are_read():
    text = ("Operating Expenses\nThree Months Ended Nine Months Ended\n(In Millions) Sep 30, 2023 Oct 1, 2022 Sep 30, 2023 Oct 1, 2022\n"
            "Research and\ndevelopment\nexpenses | $2,294 | $1,945 | $6,210 | $5,387")
    rows = rows_of(0, text)
    assert [r.label for r in rows] == ["Research and development expenses"]
    col = rows[0].columns[2]
    assert (col.months, col.end.isoformat()) == (9, "2023-09-30")


def test_two_figures_compared_in_one_period_stand_side_by_side_with_their_ratio():
    direct = direct_answer(read_question("How did research and development compare to total net sales in the quarter ended July 1, 2023?"),
                           [passage(STATEMENT)])
    assert direct.sentences[0][0] == (
        "Research and development, three months ended July 1, 2023: $7,442 million; Total net sales, three months "
        "ended July 1, 2023: $81,797 million; Research and development 9.1 % of total net sales, computed from [1]")
    assert [s[0] for s in direct.sentences if s[2] == "row"] == [
        "Research and development | three months ended July 1, 2023 | $7,442 million",
        "Total net sales | three months ended July 1, 2023 | $81,797 million"]


def test_a_heading_of_one_date_and_its_years_gives_each_column_its_period():
    """Microsoft's segment table: "Three Months Ended September 30, 2023 2022" over "Revenue" rows."""
    text = ("(In millions)\n\nThree Months Ended September 30, 2023 2022\n\nRevenue\n\n"
            "Productivity and Business Processes | $18,592 | $16,465\nMore Personal Computing | 13,666 | 13,332\n"
            "Operating Income\nMore Personal Computing | 5,174 | 4,217")
    assert first_line("How much revenue did the Personal Computing segment bring in the quarter ended September 30, 2022?",
                      [passage(text)]) == "More Personal Computing, three months ended September 30, 2022: $13,332 million"


def test_filings_whose_rows_mix_balance_and_quarter_columns_of_one_date_are_compared():
    """A side-by-side crashed sorting a balance-sheet column (no span) beside a quarter's of the same date."""
    def filing(path, end, prior, now, before):
        text = (f"(In millions)\n{end} | Three Months Ended {end} | {prior}\n"
                f"Total net sales | ${now} | ${now} | ${before}")
        return passage(text, path=path, page=3)
    filings = {"/docs/2023 Q2 ACME.pdf": filing("/docs/2023 Q2 ACME.pdf", "April 1, 2023", "March 26, 2022", "94,836", "97,278"),
               "/docs/2023 Q3 ACME.pdf": filing("/docs/2023 Q3 ACME.pdf", "July 1, 2023", "April 1, 2023", "81,797", "94,000")}
    sbs = across_documents(read_question("How did total net sales change over time?"), list(filings),
                           lambda path: [filings[path]])
    assert [s.cell.value for s in sbs.rows] == ["$94,836", "$81,797"]
    assert sbs.differ and sbs.differ[0].startswith("April 1, 2023")
