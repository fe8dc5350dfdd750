"""The library panel: libraries, their documents (a lazy table model), the indexing job's progress."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt, Signal
from PySide6.QtGui import QAction
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

from ui.files_model import FilesModel, FilterProxy


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
    ask_within_requested = Signal(list)
    summarize_requested = Signal(str, str)  # path, "" (as answers are: written or quoted) or "quote"
    reindex_requested = Signal(list)
    open_requested = Signal(str)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.answers_written = lambda: False  # the window tells: a model writes, so a quoted summary is offered too
        self._updating = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self._build_libraries(layout)
        self._build_documents(layout)
        self._build_job(layout)

    def _build_libraries(self, layout: QVBoxLayout) -> None:
        """The library chooser and its menu (new, rename, delete), and the filter."""
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

    def _build_documents(self, layout: QVBoxLayout) -> None:
        """The documents: a hint with sample documents while empty, else the table; the add buttons."""
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
        self.proxy = FilterProxy(self)
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

    def _build_job(self, layout: QVBoxLayout) -> None:
        """The indexing job (progress, cancel, what waits) and the files it could not index."""
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
        """The whole list read again (a library switched, a job ended): the selected files stay
        selected and the list keeps its scroll position."""
        selected, scrolled = self.selected_paths(), self.table.verticalScrollBar().value()
        self.model.set_records(records)
        self.select_paths(selected)
        self.table.verticalScrollBar().setValue(scrolled)
        self._fit_columns(records)
        self.stack.setCurrentWidget(self.table if records else self.empty)

    def update_record(self, path: str, rec) -> None:
        """One file indexed, failed or removed during a job: its row alone changes."""
        self.model.update(path, rec)
        if rec is not None:
            self._fit_columns([rec], grow_only=True)
        self.stack.setCurrentWidget(self.table if self.model.rowCount() else self.empty)

    def _fit_columns(self, records: list, grow_only: bool = False) -> None:
        header, metrics = self.table.horizontalHeader(), self.table.fontMetrics()
        widest = {
            1: {"indexing", "indexed", *{self.model.status(r) for r in records}},
            2: {str(max((r.pages for r in records), default=0))},
            3: {str(max((r.chunks for r in records), default=0))},
        }
        for col, texts in widest.items():
            content = max(metrics.horizontalAdvance(t) for t in texts) + 2 * self.table.style().pixelMetric(
                QStyle.PixelMetric.PM_FocusFrameHMargin) + 8
            width = max(content, header.sectionSizeFromContents(col).width())
            if not grow_only or width > header.sectionSize(col):
                header.resizeSection(col, width)

    def select_paths(self, paths: list[str]) -> None:
        selection = QItemSelection()
        for path in paths:
            row = self.model.row(path)
            if row is not None:
                at = self.proxy.mapFromSource(self.model.index(row, 0))
                if at.isValid():
                    selection.select(at, at)
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        self.table.selectionModel().select(selection, flags)

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
        menu.addAction(f"Ask about {'this' if len(paths) == 1 else f'these {len(paths)}'}",
                       lambda: self.ask_within_requested.emit(paths))
        if len(paths) == 1:
            menu.addAction("Summarize", lambda: self.summarize_requested.emit(paths[0], ""))
            if self.answers_written():  # written by the model: minutes on a CPU; quotes take seconds
                menu.addAction("Summarize in quotes (fast)", lambda: self.summarize_requested.emit(paths[0], "quote"))
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
        if p.phase == "embedding":  # every file searchable by its words; the vectors fill in
            self.progress.setRange(0, max(p.chunks_embedded + p.chunks_waiting, 1))
            self.progress.setValue(p.chunks_embedded)
            self.progress.setFormat(f"all {p.files_total} files searchable · vectors: {p.chunks_waiting:,} passages to go")
        else:
            self.progress.setRange(0, max(p.files_total, 1))
            self.progress.setValue(p.files_done)
            self.progress.setFormat(p.stages_text)
        current = Path(p.current).name if p.current else ""
        rate = f"{p.chunks_per_s:.0f} chunks/s" if p.chunks_embedded else ""
        busy = p.files_done < p.files_total or p.chunks_waiting
        parts = [x for x in (current, rate, p.eta_text if busy else "") if x]
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

    def __init__(self, parent=None, *, fast: bool = False, choosable: bool = True):
        """`fast`: int8 is this computer's faster path (checked); `choosable`: the precision
        setting is auto (else the setting decides and the box is disabled)."""
        super().__init__(parent)
        self.setWindowTitle("New library")
        form = QFormLayout(self)
        self.name = QLineEdit()
        self.name.setPlaceholderText("e.g. Papers 2024")
        form.addRow("Name", self.name)
        self.int8 = QCheckBox("Fast indexing on this computer's CPU (int8)")
        self.int8.setChecked(fast)
        self.int8.setEnabled(choosable)
        self.int8.setToolTip(
            "Embeds with an int8 copy of the model: faster than float vectors on every CPU measured, "
            "search quality within a point. Checked where it is the faster path on this computer. "
            "A library keeps the kind of vectors it was made with."
        )
        form.addRow("", self.int8)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        form.addRow(buttons)
