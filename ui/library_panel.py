"""The library panel: libraries, their documents (a lazy table model), the indexing job's progress."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QSortFilterProxyModel, Qt, Signal
from PySide6.QtGui import QAction, QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QListWidget,
    QMenu,
    QProgressBar,
    QPushButton,
    QStackedWidget,
    QStyle,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

COLUMNS = ("Name", "Status", "Pages", "Chunks", "Type", "Note")
KIND_NAMES = {"pdf": "PDF", "docx": "Word", "html": "Web page", "markdown": "Markdown", "text": "Text", "epub": "EPUB"}


class FilesModel(QAbstractTableModel):
    """One row per file of the library's manifest; no widget per row, so 10,000 files stay light."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self._rows: list = []
        self._names: list[str] = []  # column 0, computed once
        self._indexing: str | None = None
        self._order: tuple[int, Qt.SortOrder] = (0, Qt.SortOrder.AscendingOrder)

    def set_records(self, records: list) -> None:
        self.beginResetModel()
        self._rows = list(records)
        self._names = [os.path.basename(r.path) for r in self._rows]
        self._sort_rows(*self._order)
        self.endResetModel()

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        """One Python sort by a key per row: a proxy's sort asks data() twice per comparison,
        n·log n calls across the Python boundary, seconds for a library of thousands of files."""
        self.layoutAboutToBeChanged.emit()
        old = self.persistentIndexList()
        moved = self._sort_rows(column, order)
        self.changePersistentIndexList(old, [self.index(moved[i.row()], i.column()) for i in old])
        self.layoutChanged.emit()

    def _sort_rows(self, column: int, order) -> dict[int, int]:
        self._order = (column, order)
        keys = {
            0: lambda i: self._names[i].casefold(),
            1: lambda i: self.status(self._rows[i]),
            2: lambda i: self._rows[i].pages,
            3: lambda i: self._rows[i].chunks,
            4: lambda i: self._rows[i].kind or "",
            5: lambda i: self._rows[i].error or "",
        }
        perm = sorted(range(len(self._rows)), key=keys.get(column, keys[0]), reverse=order == Qt.SortOrder.DescendingOrder)
        self._rows = [self._rows[i] for i in perm]
        self._names = [self._names[i] for i in perm]
        return {old: new for new, old in enumerate(perm)}

    def set_indexing(self, path: str | None) -> None:
        self._indexing = path
        if self._rows:
            self.dataChanged.emit(self.index(0, 0), self.index(len(self._rows) - 1, 0))

    def record(self, row: int):
        return self._rows[row]

    def rowCount(self, parent=QModelIndex()):
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent=QModelIndex()):
        return len(COLUMNS)

    def headerData(self, section, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def status(self, rec) -> str:
        if rec.path == self._indexing:
            return "indexing"
        if rec.status == "failed":
            return "failed"
        return "indexed" if not rec.error else "indexed (old version)"

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid():
            return None
        rec = self._rows[index.row()]
        col = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            if col == 0:
                return self._names[index.row()]
            if col == 1:
                return self.status(rec)
            if col == 2:
                return rec.pages if rec.kind in ("pdf", "epub", "docx") and rec.pages else ""
            if col == 3:
                return rec.chunks or ""
            if col == 4:
                return KIND_NAMES.get(rec.kind or "", rec.kind or "")
            if col == 5:
                return rec.error or ("; ".join(rec.warnings) if rec.warnings else "")
        elif role == Qt.ItemDataRole.ToolTipRole:
            tip = rec.path
            if rec.error:
                tip += f"\n{'Failed' if rec.status == 'failed' else 'Newer version failed'}: {rec.error}"
            return tip
        elif role == Qt.ItemDataRole.ForegroundRole and col == 1:
            status = self.status(rec)
            if status == "failed":
                return QColor("#c62828")
            if status == "indexing":
                return QColor("#1565c0")
        elif role == Qt.ItemDataRole.UserRole:
            return rec.path
        elif role == Qt.ItemDataRole.TextAlignmentRole and col in (2, 3):
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None


class _FilterProxy(QSortFilterProxyModel):
    """Filters by name; sorting is left to the source model (FilesModel.sort)."""

    def sort(self, column: int, order=Qt.SortOrder.AscendingOrder) -> None:
        self.sourceModel().sort(column, order)


class LibraryPanel(QWidget):
    add_files_requested = Signal()
    add_folder_requested = Signal()
    samples_requested = Signal()
    cancel_requested = Signal()
    library_selected = Signal(str)
    new_library_requested = Signal()
    rename_library_requested = Signal()
    delete_library_requested = Signal()
    remove_requested = Signal(list)
    reindex_requested = Signal(list)
    open_requested = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)

        top = QHBoxLayout()
        self.libraries = QComboBox()
        self.libraries.setToolTip("Library: a separate collection of documents")
        self.libraries.currentTextChanged.connect(self._library_changed)
        top.addWidget(self.libraries, 1)
        menu_button = QToolButton()
        menu_button.setText("⋯")
        menu_button.setToolTip("New, rename or delete a library")
        menu_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        menu = QMenu(menu_button)
        menu.addAction("New library…", self.new_library_requested.emit)
        menu.addAction("Rename library…", self.rename_library_requested.emit)
        menu.addAction("Delete library…", self.delete_library_requested.emit)
        menu_button.setMenu(menu)
        top.addWidget(menu_button)
        layout.addLayout(top)

        self.filter = QLineEdit()
        self.filter.setPlaceholderText("Filter documents (Ctrl+F)")
        self.filter.setClearButtonEnabled(True)
        layout.addWidget(self.filter)

        self.stack = QStackedWidget()
        self.empty = QWidget()
        empty_layout = QVBoxLayout(self.empty)
        empty_layout.addStretch(1)
        hint = QLabel("<h3>Your library is empty</h3><p>Drop files or folders here,<br>or press <b>Ctrl+O</b> to add documents.</p>"
                      "<p>PDF, Word, web pages, Markdown, text and EPUB.</p>")
        hint.setAlignment(Qt.AlignmentFlag.AlignCenter)
        hint.setWordWrap(True)
        empty_layout.addWidget(hint)
        self.samples_button = QPushButton("Try it with sample documents")
        self.samples_button.clicked.connect(self.samples_requested.emit)
        empty_layout.addWidget(self.samples_button, 0, Qt.AlignmentFlag.AlignCenter)
        empty_layout.addStretch(2)
        self.stack.addWidget(self.empty)

        self.model = FilesModel(self)
        self.proxy = _FilterProxy(self)
        self.proxy.setSourceModel(self.model)
        self.proxy.setFilterKeyColumn(0)
        self.proxy.setFilterCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        self.filter.textChanged.connect(self.proxy.setFilterFixedString)
        self.table = QTableView()
        self.table.setModel(self.proxy)
        self.table.setSortingEnabled(True)
        self.table.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.table.verticalHeader().setVisible(False)
        self.table.setAlternatingRowColors(True)
        self.table.setWordWrap(False)
        self.table.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        header = self.table.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        # status, pages, chunks: sized from what the records hold (set_records), not by asking
        # the model for every row as ResizeToContents does on each layout and each update
        for col in (1, 2, 3):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
        # type and note stay one hover away (tooltips, the problems list) in a narrow panel
        self.table.setColumnHidden(4, True)
        self.table.setColumnHidden(5, True)
        self.table.doubleClicked.connect(lambda idx: self.open_requested.emit(self.proxy.data(idx, Qt.ItemDataRole.UserRole)))
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.stack.addWidget(self.table)
        layout.addWidget(self.stack, 1)

        buttons = QHBoxLayout()
        self.add_button = QPushButton("Add files…")
        self.add_button.clicked.connect(self.add_files_requested.emit)
        self.add_folder_button = QPushButton("Add folder…")
        self.add_folder_button.clicked.connect(self.add_folder_requested.emit)
        buttons.addWidget(self.add_button)
        buttons.addWidget(self.add_folder_button)
        layout.addLayout(buttons)

        # the indexing job
        self.job = QWidget()
        job_layout = QVBoxLayout(self.job)
        job_layout.setContentsMargins(0, 4, 0, 0)
        row = QHBoxLayout()
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        row.addWidget(self.progress, 1)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setToolTip("Stop indexing (Esc). Files already indexed stay indexed.")
        self.cancel_button.clicked.connect(self.cancel_requested.emit)
        row.addWidget(self.cancel_button)
        job_layout.addLayout(row)
        self.job_label = QLabel()
        self.job_label.setTextFormat(Qt.TextFormat.PlainText)  # it shows file names, which may hold markup
        self.job_label.setWordWrap(True)
        job_layout.addWidget(self.job_label)
        self.queue_label = QLabel()
        job_layout.addWidget(self.queue_label)
        self.job.hide()
        layout.addWidget(self.job)

        self.problems_label = QLabel()
        self.problems = QListWidget()
        self.problems.setMaximumHeight(110)
        self.problems.setWordWrap(True)
        self.problems_label.hide()
        self.problems.hide()
        layout.addWidget(self.problems_label)
        layout.addWidget(self.problems)
        self._updating = False

    # -- libraries -------------------------------------------------------------------------

    def set_libraries(self, names: list[str], current: str) -> None:
        self._updating = True
        self.libraries.clear()
        self.libraries.addItems(names)
        self.libraries.setCurrentText(current)
        self._updating = False

    def _library_changed(self, name: str) -> None:
        if not self._updating and name:
            self.library_selected.emit(name)

    # -- documents -------------------------------------------------------------------------

    def set_records(self, records: list) -> None:
        self.model.set_records(records)
        self._fit_columns(records)
        self.stack.setCurrentWidget(self.table if records else self.empty)

    def _fit_columns(self, records: list) -> None:
        header, metrics = self.table.horizontalHeader(), self.table.fontMetrics()
        widest = {
            1: {"indexing", "indexed", *{self.model.status(r) for r in records}},
            2: {str(max((r.pages for r in records), default=0))},
            3: {str(max((r.chunks for r in records), default=0))},
        }
        for col, texts in widest.items():
            content = max(metrics.horizontalAdvance(t) for t in texts) + 2 * self.table.style().pixelMetric(
                QStyle.PixelMetric.PM_FocusFrameHMargin) + 8
            header.resizeSection(col, max(content, header.sectionSizeFromContents(col).width()))

    def selected_paths(self) -> list[str]:
        rows = {self.proxy.mapToSource(i).row() for i in self.table.selectionModel().selectedRows()}
        return [self.model.record(r).path for r in sorted(rows)]

    def _context_menu(self, pos) -> None:
        paths = self.selected_paths()
        if not paths:
            return
        menu = QMenu(self)
        open_action = QAction("Open original", menu)
        open_action.triggered.connect(lambda: self.open_requested.emit(paths[0]))
        menu.addAction(open_action)
        menu.addAction("Re-index", lambda: self.reindex_requested.emit(paths))
        menu.addSeparator()
        menu.addAction(f"Remove from library ({len(paths)})", lambda: self.remove_requested.emit(paths))
        menu.exec(self.table.viewport().mapToGlobal(pos))

    # -- the job ---------------------------------------------------------------------------

    def job_started(self, queued: int) -> None:
        self.job.show()
        self.progress.setRange(0, 0)
        self.job_label.setText("Scanning…")
        self.set_queue(queued)
        self.problems.clear()
        self.problems.hide()
        self.problems_label.hide()

    def set_queue(self, queued: int) -> None:
        self.queue_label.setText(f"{queued} more drop{'s' * (queued != 1)} queued" if queued else "")
        self.queue_label.setVisible(bool(queued))

    def job_progress(self, p) -> None:
        if p.phase == "scanning":
            return
        self.progress.setRange(0, max(p.files_total, 1))
        self.progress.setValue(p.files_done)
        self.progress.setFormat(f"{p.files_done}/{p.files_total} files")
        current = Path(p.current).name if p.current else ""
        rate = f"{p.chunks_per_s:.0f} chunks/s" if p.chunks_done else ""
        parts = [x for x in (current, rate, p.eta_text if p.files_done < p.files_total else "") if x]
        self.job_label.setText(" · ".join(parts))
        self.model.set_indexing(p.current)

    def job_finished(self, final, cancelled: bool) -> None:
        self.model.set_indexing(None)
        self.job.hide()
        failed = [r for r in (final.reports if final else []) if r.status.value == "failed"]
        if failed:
            self.problems_label.setText(f"<b>{len(failed)} file{'s' * (len(failed) != 1)} could not be indexed:</b>")
            for r in failed:
                self.problems.addItem(f"{os.path.basename(r.path)} — {r.reason}")
                self.problems.item(self.problems.count() - 1).setToolTip(r.path)
            self.problems_label.show()
            self.problems.show()


class NewLibraryDialog(QDialog):
    """Name of a new library, and whether it indexes with int8 vectors (fastest on a CPU)."""

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setWindowTitle("New library")
        form = QFormLayout(self)
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. Papers 2024")
        form.addRow("Name", self.name)
        self.int8 = QCheckBox("Fast indexing on this computer's CPU (int8)")
        self.int8.setToolTip(
            "Embeds with an int8 copy of the model: 1.4x (CPUs with bf16) to 2x faster than the default, with the same "
            "search quality in our benchmark. A library keeps the kind of vectors it was made with."
        )
        form.addRow("", self.int8)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
