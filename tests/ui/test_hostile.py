"""Hostile documents in the desktop app: the chat view and the source viewer show their markup
as text; nothing in them runs or loads."""

from __future__ import annotations

import pytest
from PySide6.QtCore import Qt

from tests import hostile

LONG = 240_000
OWN_LINKS = ("#", "cite:", "closest:")  # the chat view's own citation anchors

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _ask(qtbot, win, question):
    with qtbot.waitSignal(win.answer_finished, timeout=LONG) as done:
        win.chat.input.setText(question)
        win.chat.ask_button.click()
    return done.args[0]


@pytest.mark.slow
def test_chat_view_and_viewer_render_hostile_text_inert(qtbot, window, tmp_path):
    folder = hostile.make_hostile_folder(tmp_path / "hostile")
    odd = folder / "<img src=x onerror=alert(1)>.md"  # a file name is document content too
    odd.write_text("# Odd name\n\nThe canoe is kept in the second shed.\n", encoding="utf-8")
    shown = []
    label = window.library_panel.job_label
    with qtbot.waitSignal(window.index_finished, timeout=LONG):
        window.library_actions.enqueue_index([str(folder)])
        window.library_actions.index_worker.signals.progress.connect(lambda p: shown.append((label.text(), label.textFormat())))
    assert any(odd.name in text and fmt == Qt.TextFormat.PlainText for text, fmt in shown)
    window.session.services.settings.retrieval.answer_mode = "generate"  # the model's own words, streamed
    first = _ask(qtbot, window, hostile.QUESTIONS["notice.html"])
    window.session.services.settings.retrieval.answer_mode = "quote"
    second = _ask(qtbot, window, hostile.QUESTIONS["kennel.md"])
    assert first.citations[0].passage.file_name == "notice.html" and second.citations[0].passage.file_name == "kennel.md"

    live, shown = hostile.live_markup(window.chat.view.toHtml(), OWN_LINKS)
    assert live == []
    plain = window.chat.view.toPlainText()
    assert hostile.HTML_SCRIPT_TEXT in plain and hostile.MD_IMG in plain and hostile.MD_TRACKER in plain

    window.chat.activate(1, second.citations[0].n)  # the Markdown file, in the source viewer
    viewer = window.viewer
    qtbot.waitUntil(lambda: "Kennel rules" in viewer.text.toPlainText(), timeout=20_000)
    live, _ = hostile.live_markup(viewer.text.toHtml(), OWN_LINKS)
    assert live == []
    assert "<script>alert('md-script')</script>" in viewer.text.toPlainText()
