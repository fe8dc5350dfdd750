"""A QPdfView that highlights a cited passage on its page.

QPdfSearchModel searches in the background while QPdfView renders pages on another thread;
together they crashed here (a segfault within a minute of repeated searches), and QPdfView
draws search hits at the wrong scale in FitToWidth mode. So the passage is found in the
page's own text (QPdfDocument.getAllText, whitespace- and ligature-insensitive), its
character boxes come from QPdfDocument.getSelectionAtIndex, and this view paints them over
the page itself, using the same page layout QPdfView computes (Custom zoom fitted to width).
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QPainter
from PySide6.QtPdf import QPdfDocument
from PySide6.QtPdfWidgets import QPdfView

from app.textspan import locate


class HighlightPdfView(QPdfView):
    """MultiPage, fitted to the width, with a highlighted passage on one page."""

    COLOR = QColor(255, 214, 0, 110)

    def __init__(self, parent=None):
        super().__init__(parent)
        self.setPageMode(QPdfView.PageMode.MultiPage)
        self.setZoomMode(QPdfView.ZoomMode.Custom)
        self._highlight: tuple[int, list] | None = None  # page, polygons in points

    # layout, as QPdfViewPrivate::calculateDocumentLayout computes it for Custom zoom
    def _resolution(self) -> float:
        return QGuiApplication.primaryScreen().logicalDotsPerInch() / 72.0

    def fit_width(self) -> None:
        doc = self.document()
        if doc is None or doc.status() != QPdfDocument.Status.Ready or doc.pageCount() == 0:
            return
        widest = max(doc.pagePointSize(p).width() for p in range(doc.pageCount()))
        margins = self.documentMargins()
        available = self.viewport().width() - margins.left() - margins.right()
        if widest > 0 and available > 50:
            self.setZoomFactor(available / (widest * self._resolution()))

    def page_rects(self) -> dict[int, QRectF]:
        doc = self.document()
        if doc is None or doc.status() != QPdfDocument.Status.Ready:
            return {}
        scale = self._resolution() * self.zoomFactor()
        sizes = {p: QSizeF(doc.pagePointSize(p) * scale).toSize() for p in range(doc.pageCount())}
        margins = self.documentMargins()
        total = max((s.width() for s in sizes.values()), default=0) + margins.left() + margins.right()
        y = margins.top()
        rects = {}
        for page, size in sizes.items():
            x = (max(total, self.viewport().width()) - size.width()) // 2
            rects[page] = QRectF(x, y, size.width(), size.height())
            y += size.height() + self.pageSpacing()
        return rects

    def resizeEvent(self, event):  # noqa: N802
        super().resizeEvent(event)
        self.fit_width()

    # the passage
    def show_passage(self, page: int, quote: str) -> bool:
        """Scroll to `page` and highlight `quote` on it. False when the text was not found."""
        doc = self.document()
        self.fit_width()
        self._highlight = None
        self.pageNavigator().jump(page, QPointF(0, 0), self.zoomFactor())
        rects = self.page_rects()
        if page not in rects:
            return False
        found = locate(doc.getAllText(page).text(), quote)
        top = rects[page].top()
        if found:
            start, end = found
            selection = doc.getSelectionAtIndex(page, start, end - start)
            polygons = list(selection.bounds())
            if polygons:
                self._highlight = (page, polygons)
                box = selection.boundingRectangle()
                top += box.top() * self._resolution() * self.zoomFactor() - 40
        self.verticalScrollBar().setValue(max(0, int(top)))
        self.viewport().update()
        return self._highlight is not None

    def highlight_rect(self) -> QRectF | None:
        """Where the highlighted passage is drawn, in viewport coordinates."""
        if not self._highlight:
            return None
        page, polygons = self._highlight
        rect = self.page_rects().get(page)
        if rect is None:
            return None
        scale = self._resolution() * self.zoomFactor()
        box = QRectF()
        for polygon in polygons:
            box = box.united(polygon.boundingRect())
        return QRectF(
            rect.left() + box.left() * scale - self.horizontalScrollBar().value(),
            rect.top() + box.top() * scale - self.verticalScrollBar().value(),
            box.width() * scale,
            box.height() * scale,
        )

    def paintEvent(self, event):  # noqa: N802
        super().paintEvent(event)
        if not self._highlight:
            return
        page, polygons = self._highlight
        rect = self.page_rects().get(page)
        if rect is None:
            return
        scale = self._resolution() * self.zoomFactor()
        painter = QPainter(self.viewport())
        painter.translate(rect.left() - self.horizontalScrollBar().value(), rect.top() - self.verticalScrollBar().value())
        painter.scale(scale, scale)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.COLOR)
        for polygon in polygons:
            painter.drawPolygon(polygon)
        painter.end()
