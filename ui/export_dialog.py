"""Export (Ctrl+E): the current answer or the whole conversation, as Markdown, HTML, PDF or JSON."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import (
    QButtonGroup,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QRadioButton,
    QVBoxLayout,
)

FILTERS = "Markdown (*.md);;Web page (*.html);;PDF (*.pdf);;JSON (*.json)"


class ExportDialog(QDialog):
    def __init__(self, default_dir: Path, has_conversation: bool, parent=None):
        super().__init__(parent)
        self.setWindowTitle("Export with citations")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Every citation keeps its file, page and passage."))
        self.answer_only = QRadioButton("This answer")
        self.whole = QRadioButton("The whole conversation")
        self.answer_only.setChecked(True)
        self.whole.setEnabled(has_conversation)
        group = QButtonGroup(self)
        group.addButton(self.answer_only)
        group.addButton(self.whole)
        layout.addWidget(self.answer_only)
        layout.addWidget(self.whole)
        row = QHBoxLayout()
        self.path = QLineEdit(str(default_dir / "citewise-answer.md"))
        row.addWidget(self.path, 1)
        browse = QPushButton("Choose…")
        browse.clicked.connect(self._choose)
        row.addWidget(browse)
        layout.addLayout(row)
        layout.addWidget(QLabel("<small>The format follows the extension: .md, .html, .pdf or .json</small>"))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _choose(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Export", self.path.text(), FILTERS)
        if path:
            self.path.setText(path)

    @property
    def scope(self) -> str:
        return "conversation" if self.whole.isChecked() else "answer"

    @property
    def target(self) -> Path:
        return Path(self.path.text()).expanduser()
