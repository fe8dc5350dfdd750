"""The conversation: questions, answers streaming in with citation markers, and source cards.

Everything from documents is escaped before it reaches the rich-text view, so a passage that
holds `<script>` or `<img src=…>` shows as text (QTextBrowser runs no scripts anyway, and
remote resources are refused: see `loadResource`).
"""

from __future__ import annotations

import html

from PySide6.QtCore import QTimer, QUrl, Signal
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QHBoxLayout, QLabel, QLineEdit, QPushButton, QTextBrowser, QToolButton, QVBoxLayout, QWidget

from app.export import Answer, Citation, answer_blocks, html_rows, match_words, turn_notes, where
from ui.passages import is_row as _is_row, passage_html


class Transcript(QTextBrowser):
    """A rich-text view that never fetches anything: only our own anchors are followed."""

    def loadResource(self, kind, url):  # noqa: N802 (Qt API)
        return None


class ChatView(QWidget):
    ask_requested = Signal(str)
    stop_requested = Signal()
    scope_cleared = Signal()  # the ✕ of the scope chip: ask the whole library again
    citation_activated = Signal(object)  # a Citation (its passage's chunk: file, unit, span; its quote)

    def __init__(self, parent=None):
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        self.view = Transcript()
        self.view.setOpenLinks(False)
        self.view.setOpenExternalLinks(False)
        self.view.anchorClicked.connect(self._anchor)
        layout.addWidget(self.view, 1)
        self.status = QLabel()
        self.status.setVisible(False)
        layout.addWidget(self.status)
        # the scope chip: "Asking within: a.pdf, b.docx ✕", above the question box while a scope is set
        self.scope_chip = QWidget()
        chip = QHBoxLayout(self.scope_chip)
        chip.setContentsMargins(0, 0, 0, 0)
        self.scope_label = QLabel()
        chip.addWidget(self.scope_label, 1)
        self.scope_clear = QToolButton()
        self.scope_clear.setText("✕")
        self.scope_clear.setToolTip("Ask the whole library again")
        self.scope_clear.clicked.connect(self.scope_cleared.emit)
        chip.addWidget(self.scope_clear)
        self.scope_chip.hide()
        layout.addWidget(self.scope_chip)
        row = QHBoxLayout()
        self.input = QLineEdit()
        self.input.setPlaceholderText("Ask a question about your documents…")
        self.input.returnPressed.connect(self._ask)
        row.addWidget(self.input, 1)
        self.ask_button = QPushButton("Ask")
        self.ask_button.setDefault(True)
        self.ask_button.clicked.connect(self._ask)
        row.addWidget(self.ask_button)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setToolTip("Stop the answer (Esc)")
        self.stop_button.clicked.connect(self.stop_requested.emit)
        self.stop_button.hide()
        row.addWidget(self.stop_button)
        layout.addLayout(row)

        self.turns: list[Answer] = []  # finished answers (a failed one: its `error` set)
        self._live: dict | None = None  # {"question", "segments", "status"}
        self._dirty = False
        self._timer = QTimer(self)
        self._timer.setInterval(50)  # at most 20 repaints a second while streaming
        self._timer.timeout.connect(self._flush)
        self._render()

    def set_scope(self, names: list[str] | None) -> None:
        """Show the files/folders questions are asked within (None: the whole library, no chip)."""
        if names:
            shown = ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")
            self.scope_label.setText(f"<b>Asking within:</b> {html.escape(shown)}")
            self.scope_label.setToolTip("\n".join(names))
        self.scope_chip.setVisible(bool(names))

    # -- asking ----------------------------------------------------------------------------

    def _ask(self) -> None:
        question = self.input.text().strip()
        if question and self._live is None:
            self.ask_requested.emit(question)

    def set_busy(self, busy: bool) -> None:
        self.ask_button.setVisible(not busy)
        self.stop_button.setVisible(busy)
        self.input.setReadOnly(busy)

    def start_answer(self, question: str) -> None:
        self.input.clear()
        self._live = {"question": question, "segments": [], "status": "Searching your documents…"}
        self.set_busy(True)
        self._timer.start()
        self._render()

    def set_live_status(self, text: str) -> None:
        if self._live is not None:
            self._live["status"] = text
            self._dirty = True

    def add_token(self, text: str) -> None:
        if self._live is not None:
            self._live["segments"].append(("text", text))
            self._live["status"] = ""
            self._dirty = True

    def add_sentence_marks(self, numbers: list[int], supported: bool, claim: bool) -> None:
        if self._live is not None:
            self._live["segments"].append(("marks", numbers if supported else ([] if not claim else None)))
            self._dirty = True

    def finish_answer(self, answer: Answer | None, error: str | None = None) -> None:
        self._timer.stop()
        if answer is not None:
            self.turns.append(answer)
        elif error and self._live is not None:
            self.turns.append(Answer(question=self._live["question"], error=error))
        self._live = None
        self.set_busy(False)
        self._render()

    def set_turns(self, turns: list[Answer]) -> None:
        self.turns = list(turns)
        self._live = None
        self._render()

    def current_answer(self) -> Answer | None:
        return self.turns[-1] if self.turns else None

    # -- rendering -------------------------------------------------------------------------

    def _flush(self) -> None:
        if self._dirty:
            self._dirty = False
            self._render()

    def _colors(self) -> dict[str, str]:
        pal = self.palette()
        dark = pal.color(QPalette.ColorRole.Base).lightness() < 128
        return {
            "muted": pal.color(QPalette.ColorRole.PlaceholderText).name(),
            "accent": pal.color(QPalette.ColorRole.Link).name(),
            "mark": "#5c4b00" if dark else "#fff0a8",
            "card": pal.color(QPalette.ColorRole.AlternateBase).name(),
            "warn": "#e0a040" if dark else "#a15c00",
        }

    def _render(self) -> None:
        c = self._colors()
        parts = []
        if not self.turns and self._live is None:
            parts.append(
                f"<p style='color:{c['muted']}'>Ask a question and Citewise answers from your documents only, "
                "with a numbered source for every sentence. Click a source to open the document at that page.</p>"
            )
        for k, turn in enumerate(self.turns):
            parts.append(self._render_turn(turn, k, c))
        if self._live is not None:
            parts.append(self._render_live(c))
        bar = self.view.verticalScrollBar()
        at_bottom = bar.value() >= bar.maximum() - 4
        self.view.setHtml("".join(parts))
        if at_bottom or self._live is not None:
            bar.setValue(bar.maximum())

    def _question(self, text: str) -> str:
        return f"<h3 style='margin-top:14px'>{html.escape(text)}</h3>"

    def _render_live(self, c) -> str:
        live = self._live
        out = [self._question(live["question"])]
        if live["status"]:
            out.append(f"<p style='color:{c['muted']}'><i>{html.escape(live['status'])}</i></p>")
        body = []
        for kind, value in live["segments"]:
            if kind == "text":
                body.append(html.escape(value).replace("\n", "<br>"))
            elif value:
                body.append(f"<sup><b style='color:{c['accent']}'>{''.join(f'[{n}]' for n in value)}</b></sup>")
            elif value is None:
                body.append(f"<sup style='color:{c['warn']}'>[?]</sup>")
        out.append(f"<p>{''.join(body)}</p>")
        return "".join(out)

    def _render_turn(self, turn: Answer, k: int, c) -> str:
        out = [self._question(turn.question)]
        for note in turn_notes(turn):  # the files it was asked within; what a follow-up was read with
            out.append(f"<p style='color:{c['muted']}'><i>{html.escape(note)}</i></p>")
        if turn.error:
            out.append(f"<p style='color:{c['warn']}'><b>The answer failed:</b> {html.escape(turn.error)}</p>")
            return "".join(out)
        if turn.refused:
            out.extend(self._render_refusal(turn, k, c))
            return "".join(out)
        sentences = turn.sentences
        body = []
        for kind, group in answer_blocks(sentences):
            body.extend(self._render_block(kind, group, k, c))
        out.append(f"<p>{' '.join(body) if body else html.escape(turn.text)}</p>")
        out.extend(self._render_turn_footer(turn, sentences, k, c))
        return "".join(out)

    def _render_refusal(self, turn: Answer, k: int, c) -> list[str]:
        """A refused turn: the refusal, its reason, and the closest passages as cards."""
        out = [f"<p style='color:{c['warn']}'><b>{html.escape(turn.text)}</b></p>"]
        if turn.refusal_reason:
            out.append(f"<p>{html.escape(turn.refusal_reason)}</p>")
        if turn.closest:
            out.append(f"<p style='color:{c['muted']}'>The closest passages (none of them answers the question):</p>")
            for i, cit in enumerate(turn.closest_citations):
                out.append(self._card(cit, f"closest:{k}:{i}", f"{cit.n}.", c))
        return out

    def _render_block(self, kind: str, group: list, k: int, c) -> list[str]:
        """One block of the answer's body (rows side by side, or one sentence), as body parts."""
        if kind == "rows":  # a change side by side: one row per source, each value cited
            return [html_rows(group, lambda n: f"<sup><b><a href='cite:{k}:{n}'>[{n}]</a></b></sup>")]
        s = group[0]
        role = s.role
        if role == "heading":  # a summary's section
            return [f"<br><b>{html.escape(s.text)}</b>"]
        if role == "answer":  # the figure asked for, on a line of its own
            links = "".join(f"<a href='cite:{k}:{n}'>[{n}]</a>" for n in s.citations)
            return [f"<b>{html.escape(s.text)}</b><sup><b>{links}</b></sup><br>"]
        if role == "note":
            return [f"<br><i>{html.escape(s.text)}</i>"]
        body = []
        if role == "bullet":
            body.append("<br>•&nbsp;")
        if _is_row(s.text):  # a quoted table row under its column headings: a small grid
            text = passage_html(s.text, None, "", c["mark"])
        else:
            text = html.escape(s.text).replace("\n", "<br>")
        if s.citations:
            links = "".join(f"<a href='cite:{k}:{n}'>[{n}]</a>" for n in s.citations)
            body.append(f"{text}<sup><b>{links}</b></sup>")
        elif len(s.text.split()) >= 3:
            body.append(f"{text}<sup style='color:{c['warn']}' title='not supported by your documents'>[?]</sup>")
        else:
            body.append(text)
        return body

    def _render_turn_footer(self, turn: Answer, sentences: list, k: int, c) -> list[str]:
        """Under an answer: the [?] note, the source cards, and the engine and time it took."""
        out = []
        unsupported = sum(1 for s in sentences if s.unsupported)
        if unsupported:
            out.append(f"<p style='color:{c['warn']}'><small>[?] marks {unsupported} sentence{'s' * (unsupported != 1)} "
                       "that no passage supports: check before you rely on it.</small></p>")
        for cit in turn.citations:
            out.append(self._card(cit, f"cite:{k}:{cit.n}", f"[{cit.n}]", c))
        t = turn.timings
        if t:
            out.append(f"<p style='color:{c['muted']}'><small>{html.escape(str(turn.engine or ''))} · "
                       f"{t.get('total_s', 0):.1f} s</small></p>")
        return out

    def _card(self, cit: Citation, href: str, label: str, c) -> str:
        chunk = cit.passage.chunk
        text = chunk.text
        start, end = cit.quote or (0, 0)
        quote = (start, end) if cit.quote and 0 <= start < end <= len(text) else None
        match = match_words(cit.passage.dense)
        return (
            f"<table width='100%' cellpadding='6' style='background-color:{c['card']};margin:4px 0'><tr><td>"
            f"<a href='{href}'><b>{html.escape(label)} {html.escape(where(cit, sep=' · '))}</b></a>"
            + (f" <span style='color:{c['muted']}'>· {html.escape(match)}</span>" if match else "")
            + f"<br>{passage_html(text, quote, chunk.context, c['mark'])}</td></tr></table>"
        )

    # -- links -----------------------------------------------------------------------------

    def _anchor(self, url: QUrl) -> None:
        target = url.toString()
        try:
            kind, k, n = target.split(":")
            turn = self.turns[int(k)]
        except (ValueError, IndexError):
            return
        if kind == "cite":
            cit = next((c for c in turn.citations if c.n == int(n)), None)
        elif kind == "closest":
            cit = turn.closest_citations[int(n)]
        else:
            return
        if cit:
            self.citation_activated.emit(cit)

    def activate(self, turn_index: int, n: int) -> None:
        """What a click on citation [n] of turn `turn_index` does (for keyboard and tests)."""
        self._anchor(QUrl(f"cite:{turn_index}:{n}"))
