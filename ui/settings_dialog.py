"""Settings (Ctrl+,): writes only what the user changed; the API key goes to the keyring."""

from __future__ import annotations

import html

from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

ENGINES = [
    ("auto", "Automatic (vLLM where it runs, else llama.cpp)"),
    ("vllm", "vLLM (local child process)"),
    ("remote", "Remote OpenAI-compatible server"),
    ("llamacpp", "llama.cpp (CPU, in process)"),
]
STRICTNESS = [("lenient", "Lenient: answer from weaker matches"), ("balanced", "Balanced"), ("strict", "Strict: refuse unless a passage is close")]
DEVICES = [("auto", "Automatic (GPU when present)"), ("cpu", "CPU"), ("cuda", "NVIDIA GPU (CUDA)")]


def _get(settings, dotted: str):
    value = settings
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def _combo(items, current: str) -> QComboBox:
    box = QComboBox()
    for value, label in items:
        box.addItem(label, value)
    index = box.findData(current)
    box.setCurrentIndex(max(index, 0))
    return box


class SettingsDialog(QDialog):
    """Edits a copy of the settings. `changes()` are the dotted keys the user changed."""

    def __init__(self, settings, api_key: str | None, parent=None, engine_note: str | None = None, libraries_using=None):
        super().__init__(parent)
        self.setWindowTitle("Settings")
        self.settings = settings
        self._initial_key = api_key or ""
        form = QFormLayout()
        self._build_answer_rows(form, settings, engine_note)
        self._build_retrieval_rows(form, settings)
        general = QWidget()
        general.setLayout(form)
        self._build_tabs(general, settings, libraries_using)
        self._build_layout()

    def _build_answer_rows(self, form: QFormLayout, settings, engine_note: str | None) -> None:
        """The General tab's answer rows: engine, language model, remote server and API key."""
        self.engine = _combo(ENGINES, settings.llm.engine)
        form.addRow("Answer engine", self.engine)
        if engine_note:  # which engine answers now, and why (the same line as `citewise doctor`)
            self.engine_note = QLabel(f"<small>{html.escape(engine_note)}</small>")
            self.engine_note.setWordWrap(True)
            form.addRow("", self.engine_note)
        form.addRow("Language model", self._build_model_row(settings))
        self.remote_url = QLineEdit(settings.llm.remote_url or "")
        self.remote_url.setPlaceholderText("http://gpu-box:8000/v1")
        form.addRow("Remote server URL", self.remote_url)
        self.remote_model = QLineEdit(settings.llm.remote_model or "")
        form.addRow("Remote model name", self.remote_model)
        self.api_key = QLineEdit(self._initial_key)
        self.api_key.setEchoMode(QLineEdit.EchoMode.Password)
        self.api_key.setPlaceholderText("kept in the system keyring")
        form.addRow("API key", self.api_key)

    def _build_model_row(self, settings) -> QWidget:
        """The language model's field with its Browse… button."""
        model_row = QWidget()
        row = QHBoxLayout(model_row)
        row.setContentsMargins(0, 0, 0, 0)
        self.model = QLineEdit(settings.llm.model)
        self.model.setToolTip("'bundled' for SmolLM2-135M, a .gguf file (llama.cpp), or a Hugging Face folder (vLLM)")
        row.addWidget(self.model, 1)
        browse = QPushButton("Browse…")
        browse.clicked.connect(self._browse_model)
        row.addWidget(browse)
        return model_row

    def _build_retrieval_rows(self, form: QFormLayout, settings) -> None:
        """The General tab's store and retrieval rows: Chroma server, embedding device, passages, strictness."""
        self.chroma_url = QLineEdit(settings.store.chroma_url or "")
        self.chroma_url.setPlaceholderText("empty: the embedded store in the data folder")
        form.addRow("Chroma server URL", self.chroma_url)
        self.device = _combo(DEVICES, settings.embedding.device)
        form.addRow("Embedding device", self.device)
        self.top_k = QSpinBox()
        self.top_k.setRange(1, 20)
        self.top_k.setValue(settings.retrieval.top_k)
        self.top_k.setToolTip("How many passages the model reads for an answer")
        form.addRow("Passages per answer", self.top_k)
        self.strictness = _combo(STRICTNESS, settings.retrieval.strictness)
        form.addRow("“Not in your documents”", self.strictness)

    def _build_tabs(self, general: QWidget, settings, libraries_using) -> None:
        """The General and Models tabs."""
        from ui.models_page import ModelsPage

        self.extra: dict = {}  # changes the Models page chose that have no field here (embedding.model)
        self.models = ModelsPage(settings, self, libraries_using=libraries_using)
        self.models.use_requested.connect(self._use_model)
        self.tabs = QTabWidget()
        self.tabs.addTab(general, "General")
        self.tabs.addTab(self.models, "Models")

    def _build_layout(self) -> None:
        """The tabs over the note and the OK/Cancel buttons."""
        layout = QVBoxLayout(self)
        layout.addWidget(self.tabs)
        note = QLabel("<small>Only the settings you change are written to your settings file.</small>")
        layout.addWidget(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _use_model(self, changes: dict) -> None:
        """A model chosen on the Models page: its engine and model fill the fields OK applies."""
        if "llm.engine" in changes:
            self.engine.setCurrentIndex(max(self.engine.findData(changes["llm.engine"]), 0))
        if "llm.model" in changes:
            self.model.setText(changes["llm.model"])
        self.extra = {k: v for k, v in changes.items() if not k.startswith("llm.")}

    def done(self, result: int) -> None:  # OK, Cancel, Esc or the close button
        self.models.stop()
        super().done(result)

    def _browse_model(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Choose a GGUF model", "", "GGUF models (*.gguf);;All files (*)")
        if path:
            self.model.setText(path)

    def changes(self) -> dict:
        s = self.settings
        values = {
            "llm.engine": (self.engine.currentData(), s.llm.engine),
            "llm.model": (self.model.text().strip() or "bundled", s.llm.model),
            "llm.remote_url": (self.remote_url.text().strip() or None, s.llm.remote_url),
            "llm.remote_model": (self.remote_model.text().strip() or None, s.llm.remote_model),
            "store.chroma_url": (self.chroma_url.text().strip() or None, s.store.chroma_url),
            "embedding.device": (self.device.currentData(), s.embedding.device),
            "retrieval.top_k": (self.top_k.value(), s.retrieval.top_k),
            "retrieval.strictness": (self.strictness.currentData(), s.retrieval.strictness),
        }
        values.update({key: (new, _get(s, key)) for key, new in self.extra.items()})
        return {key: new for key, (new, old) in values.items() if new != old}

    def api_key_changed(self) -> str | None:
        """The new key when the user changed it ("" to remove it), else None."""
        key = self.api_key.text()
        return key if key != self._initial_key else None
