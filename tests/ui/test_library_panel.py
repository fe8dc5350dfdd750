"""The library panel: a lazy model/view that stays light with thousands of files."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from indexing.manifest import FileRecord
from ui.files_model import FilesModel
from ui.library_panel import LibraryPanel


def _record(name: str, pages: int = 1, chunks: int = 1, status: str = "indexed") -> FileRecord:
    return FileRecord(path=f"/docs/{name}", content_hash="h", size=1, mtime_ns=0, status=status, kind="pdf",
                      pages=pages, chunks=chunks)


def _shown(panel) -> list[str]:
    proxy = panel.proxy
    return [proxy.data(proxy.index(r, 0)) for r in range(proxy.rowCount())]


def _click_header(qtbot, panel, col: int) -> None:
    header = panel.table.horizontalHeader()
    x = header.sectionViewportPosition(col) + header.sectionSize(col) // 2
    QTest.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2))


@pytest.fixture
def panel(qtbot):
    p = LibraryPanel()
    qtbot.addWidget(p)
    p.resize(500, 400)
    p.show()
    return p


def test_header_clicks_sort_and_the_filter_narrows(qtbot, panel):
    panel.set_records([_record("beta.pdf", 3, 40), _record("Alpha.pdf", 12, 7), _record("gamma.pdf", 1, 900)])
    assert _shown(panel) == ["Alpha.pdf", "beta.pdf", "gamma.pdf"]  # by name, case-insensitive
    _click_header(qtbot, panel, 3)  # chunks
    assert _shown(panel) == ["Alpha.pdf", "beta.pdf", "gamma.pdf"]
    _click_header(qtbot, panel, 3)
    assert _shown(panel) == ["gamma.pdf", "beta.pdf", "Alpha.pdf"]
    panel.table.selectRow(0)
    _click_header(qtbot, panel, 0)  # the selection follows its file through a sort
    assert panel.selected_paths() == ["/docs/gamma.pdf"]
    panel.filter.setText("ALP")
    assert _shown(panel) == ["Alpha.pdf"]
    panel.filter.clear()
    descending = panel.table.horizontalHeader().sortIndicatorOrder() == Qt.SortOrder.DescendingOrder
    panel.set_records([_record("zeta.pdf"), _record("eta.pdf")])  # a refresh keeps the order shown
    assert _shown(panel) == sorted(["zeta.pdf", "eta.pdf"], reverse=descending)


def test_many_files_cost_only_the_visible_rows(qtbot, panel, monkeypatch):
    """Regression: the panel asked the model for every row when a library opened (a proxy sort
    crossing into Python twice per comparison, ResizeToContents columns): seconds at 2,500 files."""
    calls = []
    data = FilesModel.data
    monkeypatch.setattr(FilesModel, "data", lambda self, index, role=Qt.ItemDataRole.DisplayRole: (calls.append(1), data(self, index, role))[1])
    records = [_record(f"report-{i:05d}.pdf", i % 300, i % 97) for i in range(20_000)]
    panel.set_records(records)
    qtbot.wait(50)  # layout and paint
    assert len(calls) < 5_000  # visible rows only, whatever the library's size
    proxy = panel.proxy
    assert proxy.rowCount() == 20_000 and proxy.data(proxy.index(0, 0)) == "report-00000.pdf"
    assert panel.table.columnWidth(3) >= panel.table.fontMetrics().horizontalAdvance("96")  # sized to fit


def test_rows_change_one_at_a_time_in_a_large_library(qtbot, panel, monkeypatch):
    """During a job each indexed, failed or removed file changes its own row of a 10,000-file
    list: it lands at its sorted place (here by chunks, descending), the filter still applies,
    the scroll position stays, and no more than the visible rows are asked for again."""
    panel.set_records([_record(f"report-{i:05d}.pdf", 1, i) for i in range(10_000)])
    _click_header(qtbot, panel, 3)
    _click_header(qtbot, panel, 3)  # chunks, descending
    assert _shown(panel)[:2] == ["report-09999.pdf", "report-09998.pdf"]
    panel.table.verticalScrollBar().setValue(200)
    calls = []
    data = FilesModel.data
    monkeypatch.setattr(FilesModel, "data", lambda self, index, role=Qt.ItemDataRole.DisplayRole: (calls.append(1), data(self, index, role))[1])

    panel.update_record("/docs/new.pdf", _record("new.pdf", 3, 5000))
    qtbot.wait(20)
    shown = _shown(panel)
    assert len(shown) == 10_001
    assert shown.index("new.pdf") in (shown.index("report-05000.pdf") - 1, shown.index("report-05000.pdf") + 1)
    assert panel.table.verticalScrollBar().value() == 200

    panel.update_record("/docs/report-09999.pdf", _record("report-09999.pdf", 1, 9999, status="failed"))
    qtbot.wait(20)
    proxy = panel.proxy
    assert proxy.data(proxy.index(0, 1)) == "failed"
    panel.update_record("/docs/report-09998.pdf", None)  # removed from the library
    assert "report-09998.pdf" not in _shown(panel) and len(_shown(panel)) == 10_000
    calls.clear()
    panel.filter.setText("new")
    panel.update_record("/docs/newer.pdf", _record("newer.pdf", 1, 1))
    panel.update_record("/docs/other.pdf", _record("other.pdf", 1, 2))
    qtbot.wait(20)
    assert _shown(panel) == ["new.pdf", "newer.pdf"]
    assert len(calls) < 5_000, "a one-row change repainted far more than the visible rows"
