"""Writes app/samples/harbour-ferry-guide.pdf, the sample PDF shipped with Citewise (run once)."""

from __future__ import annotations

import os
import sys
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from PySide6.QtCore import QRectF, Qt  # noqa: E402
from PySide6.QtGui import QFont, QGuiApplication, QPageSize, QPainter, QPdfWriter  # noqa: E402

PAGES = [
    ("Harbour Ferry Guide", "Timetable", [
        "The Harbour Ferry runs between Harbour Quay in town and Skerry Island every day of the year.",
        "On weekdays the first ferry leaves Harbour Quay at 06:10 and the last ferry returns from Skerry Island at 22:45. "
        "During the day there is a departure every forty minutes.",
        "At weekends and on public holidays the first departure is at 08:00 and the ferry runs every hour until 23:00.",
        "The crossing takes twenty-five minutes in normal weather. In a storm warning the ferry stays in port "
        "and the harbour office posts updates at the quay and on the radio.",
    ]),
    ("Harbour Ferry Guide", "Tickets", [
        "A single ticket costs 5 euros for adults and 2.50 euros for children under twelve. "
        "A return ticket costs 9.50 euros for adults and 4.75 euros for children.",
        "Bicycles travel free before 09:00; after that a bicycle ticket costs 2 euros. Dogs travel free.",
        "Tickets are sold on board and at the machine by the waiting room. Monthly passes cost 60 euros "
        "and are sold only at the harbour office, open 08:00 to 16:00 on weekdays.",
    ]),
    ("Harbour Ferry Guide", "Accessibility and safety", [
        "Both vessels, the Marit and the Solveig, have step-free boarding ramps and a lift to the upper deck.",
        "Life jackets are stored under the benches of the upper deck. The crew shows passengers where they are "
        "at the start of every crossing.",
        "Wheelchair users are asked to board first and to tell the crew where they want to leave the ferry.",
    ]),
]


def main(out: Path) -> None:
    app = QGuiApplication.instance() or QGuiApplication(sys.argv)
    writer = QPdfWriter(str(out))
    writer.setPageSize(QPageSize(QPageSize.PageSizeId.A5))
    writer.setResolution(72)
    writer.setTitle("Harbour Ferry Guide")
    writer.setCreator("Citewise samples")
    painter = QPainter(writer)
    width = writer.width() - 80
    for i, (title, heading, paragraphs) in enumerate(PAGES):
        if i:
            writer.newPage()
        y = 40.0
        painter.setFont(QFont("DejaVu Sans", 8))
        painter.drawText(QRectF(40, 20, width, 14), int(Qt.AlignmentFlag.AlignRight), f"{title} · page {i + 1}")
        painter.setFont(QFont("DejaVu Sans", 15, QFont.Weight.Bold))
        painter.drawText(QRectF(40, y, width, 24), 0, heading)
        y += 34
        painter.setFont(QFont("DejaVu Sans", 10))
        for text in paragraphs:
            rect = painter.boundingRect(QRectF(40, y, width, 1000), int(Qt.TextFlag.TextWordWrap), text)
            painter.drawText(rect, int(Qt.TextFlag.TextWordWrap), text)
            y += rect.height() + 10
    painter.end()
    del app


if __name__ == "__main__":
    main(Path(__file__).resolve().parents[1] / "app" / "samples" / "harbour-ferry-guide.pdf")
