"""A figure from a report's table, as the desktop app shows it: rows aligned in a grid under their
column headings, the quoted row marked, and the cited PDF page with the row highlighted."""

from __future__ import annotations

import pytest
from PySide6.QtGui import QTextTable

from retrieval.models import match_words
from tests import docs
from tests.ui.test_main_window import LONG, _ask

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _tables(document) -> list[list[list[str]]]:
    """Every table of a QTextDocument as rows of cell texts."""
    found = []
    frames = [document.rootFrame()]
    while frames:
        frame = frames.pop()
        if isinstance(frame, QTextTable):
            found.append([[frame.cellAt(r, c).firstCursorPosition().block().text().strip() for c in range(frame.columns())]
                          for r in range(frame.rows())])
        frames.extend(frame.childFrames())
    return found


def test_a_table_row_is_shown_aligned_under_its_headings_and_highlighted_on_its_page(qtbot, window, tmp_path):
    """Source cards showed a table as a column of single numbers, with "score 0.03"."""
    report = docs.make_report_pdf(tmp_path / "ferries-q2.pdf")
    with qtbot.waitSignal(window.index_finished, timeout=LONG):
        window.library_actions.enqueue_index([str(report)])
    window.session.services.settings.retrieval.answer_mode = "quote"
    answer, _ = _ask(qtbot, window, "What was the freight revenue in the three months ended June 30, 2024?")
    cited = answer.citations[0]
    assert cited.passage.chunk.page == 3 and cited.quote is not None and cited.quote_text == "Freight revenue | 1,204 | 998"

    grids = [t for t in _tables(window.chat.view.document()) if any("Freight revenue" in row for row in t)]
    assert grids, "the table rows are not shown as a grid"
    for grid in grids:
        freight = next(row for row in grid if row[0] == "Freight revenue")
        headings = next(row for row in grid if "June 30, 2024" in row)
        # the figure stands in the column of its heading: 1,204 under June 30, 2024, 998 under 2023
        assert headings.index("June 30, 2024") == freight.index("1,204")
        assert headings.index("June 30, 2023") == freight.index("998")
    html = window.chat.view.toHtml()
    # each source card says how close it is in words (its cosine read as close/partial/loose), not a score
    assert "score 0." not in html
    assert all(match_words(c.passage.dense) in html for c in answer.citations)
    assert match_words(answer.citations[0].passage.dense).endswith(" match")

    window.chat.activate(len(window.chat.turns) - 1, 1)
    viewer = window.viewer
    assert viewer.pdf_view.pageNavigator().currentPage() == 2  # page 3, counted from 0
    assert viewer.found_on_page == 3  # the quoted row was found on the page and highlighted


def test_a_word_table_is_shown_as_a_grid_in_the_source_viewer(qtbot, window, tmp_path):
    import docx

    document = docx.Document()
    document.add_heading("Ferry departures by harbour", level=1)
    document.add_paragraph("The harbour office counts every departure of the season.")
    table = document.add_table(rows=0, cols=3)
    for row in [["Harbour", "Departures 2024", "Departures 2023"], ["Northport", "1,412", "1,377"],
                ["Eastbay", "988", "1,020"], ["Southcove", "2,306", "2,118"]]:
        for cell, value in zip(table.add_row().cells, row):
            cell.text = value
    path = tmp_path / "departures.docx"
    document.save(str(path))
    with qtbot.waitSignal(window.index_finished, timeout=LONG):
        window.library_actions.enqueue_index([str(path)])
    window.session.services.settings.retrieval.answer_mode = "quote"
    answer, _ = _ask(qtbot, window, "How many ferry departures did Eastbay harbour have in 2024?")
    assert answer.citations[0].quote is not None and answer.citations[0].quote_text == "Eastbay | 988 | 1,020"
    window.chat.activate(len(window.chat.turns) - 1, 1)
    viewer = window.viewer
    assert viewer.stack.currentWidget() is viewer.text
    qtbot.waitUntil(lambda: any(any(r[:1] == ["Eastbay"] for r in t) for t in _tables(viewer.text.document())), timeout=30_000)
    grid = next(t for t in _tables(viewer.text.document()) if any(r[:1] == ["Eastbay"] for r in t))
    assert grid[0] == ["Harbour", "Departures 2024", "Departures 2023"] and ["Eastbay", "988", "1,020"] in grid


def test_a_change_across_filings_is_shown_first_line_then_a_cited_grid(qtbot, window, tmp_path):
    """The answer's first line states the change; the side-by-side is a table, one row per filing,
    each value with its citation link, and a click on it opens that filing at the row's page."""
    from tests.app.test_real_documents import _ferries_quarters

    folder = _ferries_quarters(tmp_path / "reports")
    with qtbot.waitSignal(window.index_finished, timeout=LONG):
        window.library_actions.enqueue_index([str(folder)])
    window.session.services.settings.retrieval.answer_mode = "quote"
    answer, _ = _ask(qtbot, window, "How did Lighthouse Ferries' freight revenue change from Q1 to Q2 2024?")
    assert answer.comparison and answer.sentences[0].role == "answer"
    text = window.chat.view.toPlainText()
    line = answer.sentences[0].text
    assert line.startswith("Freight revenue: $1,050 thousand") and line in text
    assert text.index(line) < text.index("Sources") if "Sources" in text else True
    grid = next(t for t in _tables(window.chat.view.document()) if t and t[0][:3] == ["Source", "Period", "Value"])
    assert grid[1][:3] == ["ferries 2024 Q1.pdf", "three months ended March 31, 2024", "$1,050 thousand"]
    assert grid[2][:3] == ["ferries 2024 Q2.pdf", "three months ended June 30, 2024", "$1,204 thousand"]
    assert grid[1][3] == "[2]" and grid[2][3] == "[1]"  # the newest filing is cited first
    window.chat.activate(len(window.chat.turns) - 1, 1)
    assert window.viewer.pdf_view.pageNavigator().currentPage() == 2 and window.viewer.found_on_page == 3
