"""The source viewer: the cited document at the cited page, with the passage shown.

PDFs open in QtPdf's QPdfView at the page, the passage's words found and highlighted with
QPdfSearchModel, and the passage text beside it. Other formats show the page/chapter/document
text as Citewise indexed it, scrolled to the highlighted passage.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QDesktopServices, QPalette
from PySide6.QtPdf import QPdfDocument
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSplitter,
    QStackedWidget,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.export import Citation, where
from ui.passages import passage_html
from ui.pdf_view import HighlightPdfView


class SourceViewer(QWidget):
    close_requested = Signal()
    text_requested = Signal(str, int)  # path, unit: the window loads the unit's text off the GUI thread

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        header = QHBoxLayout()
        self.title = QLabel()
        self.title.setWordWrap(True)
        header.addWidget(self.title, 1)
        self.open_button = QPushButton("Open original")
        self.open_button.clicked.connect(self._open_original)
        header.addWidget(self.open_button)
        close = QPushButton("Close")
        close.clicked.connect(self.close_requested.emit)
        header.addWidget(close)
        layout.addLayout(header)
        self.notice = QLabel()
        self.notice.setWordWrap(True)
        self.notice.hide()
        layout.addWidget(self.notice)

        self.stack = QStackedWidget()
        # PDF: the page itself, and the passage beside it
        self.pdf_page = QSplitter()
        self.document = QPdfDocument(self)
        self.pdf_view = HighlightPdfView()
        self.pdf_view.setDocument(self.document)
        self.pdf_page.addWidget(self.pdf_view)
        self.passage = QTextBrowser()
        self.passage.setMinimumWidth(180)
        self.pdf_page.addWidget(self.passage)
        self.pdf_page.setSizes([600, 260])
        self.stack.addWidget(self.pdf_page)
        # other formats: the unit's text
        self.text = QTextBrowser()
        self.stack.addWidget(self.text)
        layout.addWidget(self.stack, 1)
        self.citation: Citation | None = None
        self.found_on_page: int | None = None
        self._loaded: str | None = None

    # -- showing a citation ----------------------------------------------------------------

    def show_citation(self, cit: Citation) -> None:
        self.citation = cit
        self.found_on_page = None
        path = cit.passage.chunk.path
        self.title.setText(f"<b>{html.escape(where(cit))}</b><br><small>{html.escape(path)}</small>")
        self.notice.hide()
        if not Path(path).exists():
            self._show_notice(f"{Path(path).name} is no longer at {path}; showing the passage as it was indexed.")
            self._show_text_only(cit)
            return
        if self._is_pdf(path):
            self._show_pdf(cit)
        else:
            self.text.setHtml("<p><i>Loading…</i></p>")
            self.stack.setCurrentWidget(self.text)
            self.text_requested.emit(path, int(cit.passage.chunk.unit or 1))

    @staticmethod
    def _is_pdf(path: str) -> bool:
        try:
            with open(path, "rb") as fh:
                return b"%PDF-" in fh.read(1024)
        except OSError:
            return False

    def _quote(self, cit: Citation) -> tuple[str, int, int]:
        """The passage's text and the span of its quote in it (the whole passage without one)."""
        text = cit.passage.chunk.text
        start, end = cit.quote or (0, cit.passage.chunk.end - cit.passage.chunk.start)
        if not (0 <= start < end <= len(text)):
            start, end = 0, len(text)
        return text, start, end

    def _mark(self) -> str:
        dark = self.palette().color(QPalette.ColorRole.Base).lightness() < 128
        return "#5c4b00" if dark else "#fff0a8"

    def _show_pdf(self, cit: Citation) -> None:
        chunk = cit.passage.chunk
        path = chunk.path
        if self._loaded != path or self.document.status() != QPdfDocument.Status.Ready:
            self.document.close()
            self.document.load(path)
            self._loaded = path
        if self.document.status() != QPdfDocument.Status.Ready:
            self._show_notice(f"Qt could not open {Path(path).name} ({self.document.error().name}); showing the passage text.")
            self._show_text_only(cit)
            return
        page = max(0, int(chunk.unit or 1) - 1)
        self.stack.setCurrentWidget(self.pdf_page)
        text, start, end = self._quote(cit)
        self.passage.setHtml(
            f"<p><small>Cited passage, page {page + 1}:</small></p>"
            + passage_html(text, (start, end), chunk.context, self._mark())
        )
        if self.pdf_view.show_passage(page, text[start:end]):
            self.found_on_page = page + 1
        else:
            self._show_notice("The passage's words could not be found on the PDF page (its text layer differs); it is shown beside.")

    def _show_text_only(self, cit: Citation) -> None:
        text, start, end = self._quote(cit)
        self.show_unit_text(text, start, end)

    def show_unit_text(self, text: str, start: int, end: int, stale: bool = False) -> None:
        """The unit's text with [start, end) highlighted and scrolled into view."""
        if stale:
            self._show_notice("The file changed since it was indexed: the passage may have moved. Re-index it to refresh.")
        self.text.setHtml(passage_html(text, (start, end), "", self._mark(), anchor="cited"))
        self.stack.setCurrentWidget(self.text)
        self.text.scrollToAnchor("cited")

    def text_loaded(self, path: str, unit: int, text: str | None, stale: bool, error: str | None) -> None:
        cit = self.citation
        chunk = cit.passage.chunk if cit else None
        if chunk is None or chunk.path != path or int(chunk.unit or 1) != unit:
            return  # the user moved on
        if text is None:
            self._show_notice(f"Could not read {Path(path).name} again ({error}); showing the passage as indexed.")
            self._show_text_only(cit)
            return
        # the quote's span in the unit's text: the passage's start and the quote's offsets in it
        if cit.quote and cit.quote_text:
            start, end = chunk.start + cit.quote[0], chunk.start + cit.quote[1]
        else:
            start, end = chunk.start, chunk.end
        if stale or text[chunk.start : chunk.end] != chunk.text:
            # the file changed: find the passage again by its text
            found = text.find(chunk.text or "\0")
            if found >= 0:
                shift = found - chunk.start
                start, end = start + shift, end + shift
            else:
                self._show_notice("The file changed since it was indexed and the passage is not in it any more.")
                self._show_text_only(cit)
                return
        self.show_unit_text(text, start, end, stale)

    def _show_notice(self, message: str) -> None:
        self.notice.setText(f"<i>{html.escape(message)}</i>")
        self.notice.show()

    def _open_original(self) -> None:
        if self.citation:
            QDesktopServices.openUrl(QUrl.fromLocalFile(self.citation.passage.chunk.path))
