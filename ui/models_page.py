"""Settings → Models: the catalog (app/catalog.toml) as this computer sees it, with Download
(progress: bytes, speed, time left; Cancel keeps what was fetched, Download resumes it), Use and
Remove. "Use" (and a finished download) fills in the answer engine and model, applied with OK."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, QThreadPool, Signal
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.models import catalog
from app.models import downloads
from ui.workers import GeneratorWorker

COLUMNS = ["Model", "Engine", "Download", "Needs", "Licence", "Status"]


class ModelsPage(QWidget):
    """`use_requested(changes)`: the settings that answer with (or embed with) the chosen model."""

    use_requested = Signal(dict)

    def __init__(self, settings, parent=None, libraries_using=None):
        super().__init__(parent)
        self.settings = settings
        self.libraries_using = libraries_using  # entry → libraries whose vectors it made (Services)
        self.data_dir = settings.data_dir
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(1)
        self.download: downloads.Download | None = None
        self.worker: GeneratorWorker | None = None
        self.error: str | None = None
        self.chosen: dict | None = None  # the changes of the last "Use"
        self.hw = catalog.hardware(settings)
        self.entries = list(catalog.entries())
        self.recommended = {e.id for e in (catalog.recommended(k, self.hw) for k in ("llamacpp", "vllm")) if e}

        layout = QVBoxLayout(self)
        self._build_table(layout, settings)
        self._build_status(layout)
        self._build_buttons(layout)
        self.refresh()
        first = next((i for i, e in enumerate(self.entries) if e.id in self.recommended), 0)
        self.table.selectRow(first)

    def _build_table(self, layout: QVBoxLayout, settings) -> None:
        """The hardware line, the catalog's table and the selected model's details."""
        self.hardware = QLabel(f"<small>This computer: {html.escape(self.hw.describe())}. "
                               f"Downloads come from {html.escape(downloads.endpoint_of(settings))}, nowhere else.</small>")
        self.hardware.setWordWrap(True)
        layout.addWidget(self.hardware)
        self.table = QTableWidget(len(self.entries), len(COLUMNS))
        self.table.setHorizontalHeaderLabels(COLUMNS)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().hide()
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.itemSelectionChanged.connect(self._update_buttons)
        self.table.doubleClicked.connect(lambda _: self.use_selected())
        layout.addWidget(self.table, 1)
        self.details = QLabel()
        self.details.setWordWrap(True)
        self.details.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.details)

    def _build_status(self, layout: QVBoxLayout) -> None:
        """The download's progress bar and the status line."""
        self.progress = QProgressBar()
        self.progress.setTextVisible(True)
        self.progress.hide()
        self.status = QLabel()
        self.status.setWordWrap(True)
        self.status.setTextFormat(Qt.TextFormat.PlainText)  # errors quote paths and server names
        layout.addWidget(self.progress)
        layout.addWidget(self.status)

    def _build_buttons(self, layout: QVBoxLayout) -> None:
        """The Download, Cancel download, Use and Remove buttons."""
        buttons = QHBoxLayout()
        self.download_button = QPushButton("Download")
        self.download_button.clicked.connect(self.download_selected)
        self.cancel_button = QPushButton("Cancel download")
        self.cancel_button.clicked.connect(self.cancel_download)
        self.use_button = QPushButton("Use")
        self.use_button.setToolTip("Answer with this model (or embed new libraries with it), once you click OK")
        self.use_button.clicked.connect(self.use_selected)
        self.remove_button = QPushButton("Remove")
        self.remove_button.clicked.connect(self.remove_selected)
        for b in (self.download_button, self.cancel_button, self.use_button, self.remove_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout.addLayout(buttons)

    # -- the table ---------------------------------------------------------------------------

    def row_of(self, model_id: str) -> int:
        return next(i for i, e in enumerate(self.entries) if e.id == model_id)

    def selected(self) -> catalog.Entry | None:
        rows = self.table.selectionModel().selectedRows()
        return self.entries[rows[0].row()] if rows else None

    def state_of(self, e: catalog.Entry) -> str:
        if self.chosen is not None and catalog.use_changes(e, self.data_dir).items() <= self.chosen.items():
            return "chosen: click OK"
        if catalog.in_use(e, self.settings) and self.chosen is None:
            return "in use"
        if catalog.installed(e, self.data_dir):
            return "installed"
        partial = downloads.partial_bytes(e, self.data_dir)
        if partial:
            return f"{downloads.human_bytes(partial)} fetched"
        return ""

    def refresh(self) -> None:
        for i, e in enumerate(self.entries):
            fit = catalog.fit(e, self.hw)
            here = [s for s in (self.state_of(e), "recommended" if e.id in self.recommended else "",
                                "" if fit.fits else "does not fit") if s]
            engine = {"llamacpp": "llama.cpp", "vllm": "vLLM", "embedding": "embeddings"}[e.engine]
            for col, text in enumerate((e.id, engine, e.size_text, e.needs_text, e.licence, " · ".join(here))):
                item = QTableWidgetItem(text)
                item.setToolTip(f"{e.good_for}\n{'Fits' if fit.fits else 'Does not fit'}: {fit.why}")
                if not fit.fits:
                    item.setForeground(Qt.GlobalColor.gray)
                self.table.setItem(i, col, item)
        self._update_buttons()

    def _update_buttons(self) -> None:
        e = self.selected()
        busy = self.worker is not None
        installed = e is not None and catalog.installed(e, self.data_dir)
        self.download_button.setEnabled(e is not None and not busy and not installed)
        partial = e is not None and not installed and downloads.partial_bytes(e, self.data_dir) > 0
        self.download_button.setText("Resume download" if partial else "Download")
        self.cancel_button.setEnabled(busy)
        self.use_button.setEnabled(installed and not busy)
        self.remove_button.setEnabled(installed and not busy and e is not None and not e.bundled)
        if e is not None:
            fit = catalog.fit(e, self.hw)
            self.details.setText(
                f"<b>{html.escape(e.id)}</b> — {html.escape(e.repo)} ({html.escape(e.quant)}, {e.params_b:g} B parameters, "
                f"{e.context:,} tokens of context; {html.escape(', '.join(e.languages))})<br>{html.escape(e.good_for)}<br>"
                f"<small>{'Fits this computer' if fit.fits else 'Does not fit this computer'}: {html.escape(fit.why)}</small>"
            )

    # -- actions -----------------------------------------------------------------------------

    def download_selected(self) -> None:
        e = self.selected()
        if e is None or self.worker is not None:
            return
        self.error = None
        download = downloads.Download(e, self.data_dir, endpoint=downloads.endpoint_of(self.settings), timeout_s=self.settings.models.timeout_s)
        self.download = download
        self.progress.setRange(0, 0)
        self.progress.show()
        self.status.setText(f"Downloading {e.id} from {download.host}…")
        def run(cancelled):
            try:
                yield from download.events()
            except downloads.DownloadCancelled:  # the user's choice, not a failure
                return

        worker = GeneratorWorker(run, name=f"download {e.id}")
        worker.signals.progress.connect(self._on_progress)
        worker.signals.error.connect(self._on_error)
        worker.signals.finished.connect(lambda: self._on_finished(e))
        self.worker = worker
        self._update_buttons()
        self.pool.start(worker)

    def _on_progress(self, p: downloads.DownloadProgress) -> None:
        if p.total:  # per mille: a progress bar holds ints, a model is bigger than 2 GB
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * p.done / p.total))
        self.status.setText(p.describe())

    def _on_error(self, message: str, _tb: str) -> None:
        self.error = message

    def _on_finished(self, e: catalog.Entry) -> None:
        self.worker = None
        download, self.download = self.download, None
        self.progress.hide()
        if download is not None and download.cancelled:
            self.status.setText(f"Download of {e.id} cancelled; Resume download continues from where it stopped.")
        elif self.error:
            self.status.setText(self.error)
        else:
            self.status.setText(f"Downloaded {e.id}.")
            self.choose(e)
        self.refresh()

    def cancel_download(self) -> None:
        if self.download is not None:
            self.download.cancel()

    def choose(self, e: catalog.Entry) -> None:
        self.chosen = catalog.use_changes(e, self.data_dir)
        self.use_requested.emit(dict(self.chosen))
        what = "New libraries will embed with" if e.kind == "embedding" else "Answers will come from"
        self.status.setText(f"{self.status.text()} {what} {e.id} once you click OK.".strip())
        self.refresh()

    def use_selected(self) -> None:
        e = self.selected()
        if e is not None and catalog.installed(e, self.data_dir) and self.worker is None:
            self.status.setText("")
            self.choose(e)

    def remove_selected(self) -> None:
        e = self.selected()
        if e is None or e.bundled or self.worker is not None:
            return
        if catalog.in_use(e, self.settings):
            self.status.setText(f"{e.id} is in use: choose another model (Use) and click OK first.")
            return
        using = self.libraries_using(e) if self.libraries_using is not None else []
        if using:
            self.status.setText(f"{e.id} made the vectors of " + ", ".join(f"library '{n}'" for n in using)
                                + ": they search with it. Delete them first (Library menu), or keep the model.")
            return
        folder = catalog.folder(e, self.data_dir)
        answer = QMessageBox.question(self, "Remove model", f"Delete {e.id} ({folder})? Downloading it again takes "
                                      f"~{e.size_mb} MB.")
        if answer != QMessageBox.StandardButton.Yes:
            return
        downloads.remove(e, self.data_dir)
        self.status.setText(f"Removed {e.id}.")
        self.refresh()

    def stop(self) -> None:
        """The dialog closes: stop a running download (what was fetched stays for Resume)."""
        self.cancel_download()
        self.pool.waitForDone(15000)
