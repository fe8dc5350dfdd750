"""The desktop app as a user drives it: drop, index, ask, click a citation, export, settings."""

from __future__ import annotations

import json
import os

import pytest
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from tests import docs

LONG = 240_000

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


def _drop(win, paths):
    """What a file manager does: drag enter, move, then drop, with file URLs."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    at = win.rect().center()
    buttons, mods = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(at, Qt.DropAction.CopyAction, mime, buttons, mods)
    QApplication.sendEvent(win, enter)
    assert enter.isAccepted()
    move = QDragMoveEvent(at, Qt.DropAction.CopyAction, mime, buttons, mods)
    QApplication.sendEvent(win, move)
    drop = QDropEvent(QPointF(at), Qt.DropAction.CopyAction, mime, buttons, mods)
    QApplication.sendEvent(win, drop)
    assert drop.isAccepted()


def _names(win):
    model = win.library_panel.model
    return {os.path.basename(model.record(r).path): model.data(model.index(r, 1)) for r in range(model.rowCount())}


@pytest.fixture
def folder(tmp_path):
    d = tmp_path / "dropped"
    (d / "sub").mkdir(parents=True)
    docs.make_pdf(d / "facts.pdf", docs.fact_pages())
    (d / "sub" / "garden.md").write_text(
        "# Garden\n\n## Watering\n\nTomatoes in the greenhouse are watered every second evening with rain water.\n",
        encoding="utf-8",
    )
    docs.make_encrypted_pdf(d / "locked.pdf")
    return d


def test_dropping_files_and_folders_indexes_them(qtbot, window, folder, tmp_path):
    single = tmp_path / "single.txt"
    single.write_text("The spare key to the boathouse is under the third flower pot.", encoding="utf-8")
    assert window.library_panel.stack.currentWidget() is window.library_panel.empty  # first run: says what to do
    with qtbot.waitSignal(window.index_finished, timeout=LONG) as job:
        _drop(window, [folder, single])
    final = job.args[0]
    assert final.phase == "done"
    names = _names(window)
    assert names == {"facts.pdf": "indexed", "garden.md": "indexed", "single.txt": "indexed", "locked.pdf": "failed"}
    assert window.library_panel.stack.currentWidget() is window.library_panel.table
    problems = [window.library_panel.problems.item(i).text() for i in range(window.library_panel.problems.count())]
    assert problems == ["locked.pdf — encrypted PDF: a password is needed to open it"]


def test_drops_during_a_job_are_queued_not_lost(qtbot, window, folder, tmp_path):
    later = tmp_path / "later.md"
    later.write_text("# Later\n\nThe boat is painted every April.\n", encoding="utf-8")
    finished = []
    window.index_finished.connect(finished.append)
    _drop(window, [folder])
    _drop(window, [later])
    assert len(window.session.index_queue) == 1 and window.library_panel.queue_label.text() == "1 more drop queued"
    qtbot.waitUntil(lambda: len(finished) == 2, timeout=LONG)
    assert {"facts.pdf", "garden.md", "later.md"} <= set(_names(window))


def test_cancel_keeps_what_was_committed(qtbot, window, tmp_path):
    many = tmp_path / "many"
    many.mkdir()
    for i in range(12):
        (many / f"note-{i:02d}.md").write_text(f"# Note {i}\n\n" + f"Entry {i} records the tide at {i} o'clock. " * 40, encoding="utf-8")
    window.session.services.settings.indexing.batch_chunks = 4  # several commits (a batch commits as one)
    seen = []

    def on_progress(p):
        if p.report is not None and p.report.status.value == "indexed":
            seen.append(p.report.path)
            window.cancel_current()  # Esc

    with qtbot.waitSignal(window.index_finished, timeout=LONG) as job:
        window.library_actions.enqueue_index([str(many)])
        window.library_actions.index_worker.signals.progress.connect(on_progress)
    assert job.args[0].phase == "cancelled"
    committed = {f.path for f in window.library.files()}
    assert committed and committed == {r.path for r in job.args[0].reports if r.status.value == "indexed"}
    assert len(committed) < 12
    assert window.library.indexer.check()["orphans"] == 0


@pytest.fixture
def indexed(qtbot, window, folder):
    with qtbot.waitSignal(window.index_finished, timeout=LONG):
        window.library_actions.enqueue_index([str(folder)])
    return window


def _ask(qtbot, win, question):
    tokens = []
    original = win.chat.add_token
    win.chat.add_token = lambda text: (tokens.append(text), original(text))
    with qtbot.waitSignal(win.answer_finished, timeout=LONG) as done:
        win.chat.input.setText(question)
        win.chat.ask_button.click()
    return done.args[0], tokens


def test_answer_streams_with_a_source_card_naming_file_and_page(qtbot, indexed):
    indexed.session.services.settings.retrieval.answer_mode = "generate"  # the LLM streams token by token
    answer, tokens = _ask(qtbot, indexed, "How much does the museum night tour cost?")
    assert len(tokens) > 3
    assert answer and not answer.refused and answer.citations
    html = indexed.chat.view.toHtml()
    assert "facts.pdf · page 2" in html
    assert "[1]" in indexed.chat.view.toPlainText()
    assert indexed.chat.ask_button.isVisible() and not indexed.chat.stop_button.isVisible()


def test_clicking_a_citation_opens_the_pdf_at_that_page(qtbot, indexed):
    answer, _ = _ask(qtbot, indexed, "How long does the sourdough loaf need to ferment?")
    assert answer.citations[0].passage.chunk.page == 3
    indexed.chat.activate(0, 1)
    viewer = indexed.viewer
    assert viewer.isVisible() and viewer.stack.currentWidget() is viewer.pdf_page
    assert viewer.pdf_view.pageNavigator().currentPage() == 2
    assert viewer.found_on_page == 3  # the passage's words were found and highlighted on that page
    shown = viewer.pdf_view.highlight_rect()
    assert shown is not None and viewer.pdf_view.viewport().rect().intersects(shown.toRect())  # scrolled into view
    assert "sourdough" in viewer.passage.toPlainText()


def test_clicking_a_text_citation_shows_the_passage_in_its_document(qtbot, indexed):
    answer, _ = _ask(qtbot, indexed, "How often are the greenhouse tomatoes watered?")
    cit = next(c for c in answer.citations if c.passage.file_name == "garden.md")
    indexed.chat.activate(0, cit.n)
    viewer = indexed.viewer
    qtbot.waitUntil(lambda: "every second evening" in viewer.text.toPlainText(), timeout=20_000)
    assert viewer.stack.currentWidget() is viewer.text
    assert "# Garden" in viewer.text.toPlainText()  # the whole document, not only the chunk


def test_refusal_is_shown_with_the_closest_passages(qtbot, indexed):
    answer, tokens = _ask(qtbot, indexed, "Who painted the Mona Lisa?")
    assert answer.refused and not tokens
    text = indexed.chat.view.toPlainText()
    assert "I could not find this in your documents." in text and "closest passages" in text
    # and why, in words: the library holds nothing about the painting or its painter
    assert answer.refusal_reason and answer.refusal_reason in text


def test_every_export_format_keeps_the_citations(qtbot, indexed, tmp_path):
    from pypdf import PdfReader

    answer, _ = _ask(qtbot, indexed, "How much does the museum night tour cost?")
    quote = answer.citations[0].quote_text  # the quote, or the passage without one
    for ext in ("md", "html", "pdf", "json"):
        path = indexed.export_to(tmp_path / f"answer.{ext}", "answer")
        assert path and path.exists()
    md = (tmp_path / "answer.md").read_text(encoding="utf-8")
    assert "facts.pdf, page 2" in md and "[1]" in md
    html = (tmp_path / "answer.html").read_text(encoding="utf-8")
    assert "facts.pdf, page 2" in html and 'href="#t1-s1"' in html
    data = json.loads((tmp_path / "answer.json").read_text(encoding="utf-8"))
    assert data["turns"][0]["citations"][0]["page"] == 2
    pdf_text = " ".join(p.extract_text() for p in PdfReader(tmp_path / "answer.pdf").pages)
    assert "facts.pdf, page 2" in pdf_text
    assert " ".join(quote.split()[:5]) in " ".join(pdf_text.split())
    indexed.copy_with_citations()
    assert "[1] facts.pdf, page 2" in QApplication.clipboard().text()


def test_conversations_persist_and_reopen(qtbot, indexed, settings, embedder, engine, tmp_path):
    from app.services import build_services
    from app.session import Session
    from ui.main_window import MainWindow

    _ask(qtbot, indexed, "How much does the museum night tour cost?")
    _ask(qtbot, indexed, "When does the ferry to Bainbridge Island leave?")
    convs = indexed.session.services.conversations.list()
    assert len(convs) == 1 and convs[0].turns == 2
    indexed.session.services.conversations.rename(convs[0].id, "Trip planning")
    indexed.close()

    services = build_services(settings, embedder=embedder, engine=engine)
    again = MainWindow(Session(services), ui_state=tmp_path / "window.ini", warm_up=False)
    qtbot.addWidget(again)
    item = again.conversations_panel.list.item(0)
    assert item.text().startswith("Trip planning")
    again.open_conversation(item.data(Qt.ItemDataRole.UserRole))
    assert len(again.chat.turns) == 2 and "facts.pdf" in again.chat.view.toHtml()
    again.delete_conversation(convs[0].id)
    assert again.conversations_panel.list.count() == 0
    again.close()


def test_settings_engine_line_is_found_off_the_gui_thread(qtbot, window, monkeypatch):
    """Opening Settings asked which engine answers on the GUI thread, which probes a vLLM
    environment with a subprocess (~1 s frozen window); the background warm-up finds it now."""
    import threading

    from ui.settings_dialog import SettingsDialog

    threads = []
    real = window.session.services.engines.choice
    monkeypatch.setattr(window.session.services.engines, "choice", lambda: threads.append(threading.current_thread()) or real())
    window.warm_up()
    qtbot.waitUntil(lambda: window._engine_note is not None, timeout=60000)
    assert threads and all(t is not threading.main_thread() for t in threads)
    shown = []
    monkeypatch.setattr(SettingsDialog, "exec", lambda self: shown.append(self.engine_note.text()) or 0)
    window.settings_dialog()
    assert shown and shown[0].startswith("<small>llamacpp: set in the settings")
    assert all(t is not threading.main_thread() for t in threads)
    window.pool.waitForDone()


def test_settings_dialog_round_trips_and_writes_only_changes(qtbot, window, tmp_path, monkeypatch):
    from app.settings import default_config_file, load_settings
    from ui.settings_dialog import SettingsDialog

    dialog = SettingsDialog(window.session.services.settings, None, engine_note=window.session.services.engines.choice())
    qtbot.addWidget(dialog)
    assert dialog.changes() == {}
    # the dialog says which engine answers and why (the tests choose llama.cpp)
    assert dialog.engine_note.text().startswith("<small>llamacpp: set in the settings")
    dialog.top_k.setValue(8)
    dialog.strictness.setCurrentIndex(dialog.strictness.findData("strict"))
    changes = dialog.changes()
    assert changes == {"retrieval.top_k": 8, "retrieval.strictness": "strict"}
    window.apply_settings(changes)
    written = default_config_file().read_text(encoding="utf-8")
    assert "top_k = 8" in written and 'strictness = "strict"' in written
    assert "engine" not in written and "data_dir" not in written  # nothing the user did not change
    reloaded = load_settings()
    assert reloaded.retrieval.top_k == 8 and reloaded.retrieval.strictness == "strict"
    assert window.session.services.settings.retrieval.top_k == 8  # the running app uses them at once
    again = SettingsDialog(window.session.services.settings, None)
    qtbot.addWidget(again)
    assert again.top_k.value() == 8 and again.strictness.currentData() == "strict"


def test_libraries_can_be_created_renamed_and_deleted(qtbot, window, folder):
    window.library_actions.create_library("Research")
    assert window.session.services.settings.library == "Research"
    assert window.library_panel.libraries.currentText() == "Research"
    with qtbot.waitSignal(window.index_finished, timeout=LONG):
        window.library_actions.enqueue_index([str(folder / "facts.pdf")])
    window.library_actions.rename_library("Research", "Papers 2024")
    assert window.session.services.settings.library == "Papers 2024"
    assert "facts.pdf" in _names(window)  # documents stay indexed under the new name
    window.library_actions.switch_library("default")
    assert _names(window) == {}
    window.library_actions.delete_library("Papers 2024")
    assert "Papers 2024" not in window.session.services.libraries.names()
    assert (folder / "facts.pdf").exists()


def test_a_new_library_offers_int8_where_it_is_faster(qtbot, window, folder, monkeypatch):
    """New library…: "Fast indexing (int8)" comes checked where int8 is this computer's faster
    path (indexing/fastest.py); the library records its kind of vectors from the start and indexes
    with it; unchecked, the library holds float vectors; with a float precision set the box is off."""
    from ui.library_panel import NewLibraryDialog

    offered = {}

    def fill(name, fast):
        def run(dialog):
            offered[name] = (dialog.int8.isChecked(), dialog.int8.isEnabled())
            dialog.name.setText(name)
            dialog.int8.setChecked(fast)
            return 1

        return run

    monkeypatch.setattr(NewLibraryDialog, "exec", fill("Fast", True))
    window.library_actions.new_library_dialog()
    assert offered["Fast"] == (window.session.services.embedders.int8_by_default(), True)
    assert window.session.services.settings.library == "Fast"
    assert window.session.services.libraries.recorded_variant("Fast") == "int8-onnx"
    with qtbot.waitSignal(window.index_finished, timeout=LONG):
        window.library_actions.enqueue_index([str(folder / "facts.pdf")])
    assert "facts.pdf" in _names(window)
    assert window.library.embedder.precision == "int8" and window.library.store.count() > 0

    monkeypatch.setattr(NewLibraryDialog, "exec", fill("Exact", False))
    window.library_actions.new_library_dialog()
    assert window.session.services.libraries.recorded_variant("Exact") == "float"
    with qtbot.waitSignal(window.index_finished, timeout=LONG):
        window.library_actions.enqueue_index([str(folder / "facts.pdf")])
    assert window.library.embedder.variant == "float" and window.library.store.count() > 0

    window.session.services.settings.embedding.precision = "fp32"  # asked for float vectors: no int8 library
    monkeypatch.setattr(NewLibraryDialog, "exec", fill("Other", False))
    window.library_actions.new_library_dialog()
    assert offered["Other"] == (False, False)
    with pytest.raises(ValueError, match="needs the embedding precision auto or int8"):
        window.session.services.libraries.create("Also fast", int8=True)


def test_window_geometry_is_remembered(qtbot, settings, embedder, engine, tmp_path):
    from app.services import build_services
    from app.session import Session
    from ui.main_window import MainWindow

    state = tmp_path / "state.ini"
    first = MainWindow(Session(build_services(settings, embedder=embedder, engine=engine)), ui_state=state, warm_up=False)
    qtbot.addWidget(first)
    first.show()
    first.resize(700, 500)  # the offscreen screen is 800x600: restoreGeometry keeps windows on it
    first.splitter.setSizes([250, 450, 0])
    first.close()
    second = MainWindow(Session(build_services(settings, embedder=embedder, engine=engine)), ui_state=state, warm_up=False)
    qtbot.addWidget(second)
    second.show()
    assert (second.width(), second.height()) == (700, 500)
    assert second.splitter.sizes()[0] == 250
    second.close()


def test_passage_is_located_in_pdf_text_despite_whitespace_and_ligatures():
    from ui.pdf_view import locate

    page = "Harbour Ferry Guide\r\nThe e\ufb03cient ferry leaves\r\nHarbour  Quay at 06:10 and\r\nreturns at 22:45."
    start, end = locate(page, "The efficient ferry leaves Harbour Quay at 06:10 and returns")
    assert page[start:end].startswith("The e\ufb03cient") and page[start:end].endswith("returns")
    assert locate(page, "Nothing like this is on the page") is None


def test_the_citewise_command_opens_the_window(data_dir):
    from tests.conftest import run_cli

    proc = run_cli("gui", "--smoke", data_dir=data_dir, env={"QT_QPA_PLATFORM": "offscreen"}, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "window shown" in proc.stdout and "0 documents in library 'default'" in proc.stdout


def test_watched_folder_follows_new_and_deleted_files(qtbot, window, tmp_path):
    """File ▸ Watch a folder: the folder is indexed, then a file saved into it appears in the
    library panel and a deleted one disappears, with no user action; unticking stops it."""
    folder = tmp_path / "watched"
    folder.mkdir()
    (folder / "first.md").write_text("# Tides\n\nHigh tide at the pier is at 6:40 in the morning.\n", encoding="utf-8")
    with qtbot.waitSignal(window.index_finished, timeout=LONG):
        window.library_actions.start_watch(str(folder), debounce_s=0.3)
    assert window.library_actions.watch_action.isChecked() and "Watching watched" in window.library_actions.watch_action.text()
    assert set(_names(window)) == {"first.md"}

    (folder / "second.txt").write_text("The lighthouse keeper rings the bell at dusk.", encoding="utf-8")
    qtbot.waitUntil(lambda: set(_names(window)) == {"first.md", "second.txt"}, timeout=LONG)
    (folder / "first.md").unlink()
    qtbot.waitUntil(lambda: set(_names(window)) == {"second.txt"}, timeout=LONG)
    hits = window.library.retriever.search("When does the keeper ring the bell?", 1)
    assert hits and hits[0].chunk.path.endswith("second.txt")

    window.library_actions.watch_action.trigger()  # untick: stop watching
    assert window.watcher is None and not window.library_actions.watch_action.isChecked()
    (folder / "third.txt").write_text("Nobody watches this one.", encoding="utf-8")
    qtbot.wait(1500)
    assert set(_names(window)) == {"second.txt"}


def _warmed_up(qtbot, services, tmp_path):
    """A window whose background warm-up has run to "Ready", and every status it showed."""
    from app.session import Session
    from ui.main_window import MainWindow

    seen = []
    win = MainWindow(Session(services), ui_state=tmp_path / "window.ini", warm_up=False)
    qtbot.addWidget(win)
    win.engine_label.setText = lambda text, real=win.engine_label.setText: seen.append(text) or real(text)
    win.warm_up()
    qtbot.waitUntil(lambda: win.engine_label.text().startswith("Ready"), timeout=180000)
    return win, seen


def test_warm_up_makes_the_question_encoder(qtbot, settings, engine, tmp_path):
    """The background warm-up makes the ONNX copy that embeds a float library's questions (once,
    into the models dir) and says so; the window's questions then go through it."""
    from app.services import build_services
    from indexing.embedder import Embedder

    settings.embedding.precision = "fp32"  # a float library (int8 ones embed questions with their own copy)
    embedder = Embedder("bundled", "cpu", cache_dir=tmp_path / "models")
    win, seen = _warmed_up(qtbot, build_services(settings, embedder=embedder, engine=engine), tmp_path)
    assert "Preparing the question encoder…" in seen
    assert embedder.query_backend == "onnxruntime-fp32"
    assert list((tmp_path / "models").glob("model-fp32-*/model.onnx"))
    win.close()
    win.pool.waitForDone()


def test_warm_up_prepares_the_int8_embedder_and_measures_it(qtbot, settings, engine, tmp_path):
    """On a CPU with int8 dot products, the first launch's warm-up makes the int8 copy in the
    background and says so, times it against the float path on this CPU and keeps the pick
    (indexing/fastest.py); the default library then indexes with what was measured faster, and
    the next launch has nothing to prepare."""
    import json

    from app.services import build_services
    from indexing import fastest

    if fastest.int8_dot_product() is None:
        pytest.skip("this CPU has no int8 dot products: new libraries are float here")
    settings.embedding.cache_dir = tmp_path / "fresh-models"
    services = build_services(settings, engine=engine)
    assert services.embedders.int8_to_prepare()
    win, seen = _warmed_up(qtbot, services, tmp_path)
    assert "Preparing the fast embedder for this CPU (once)…" in seen
    assert list((tmp_path / "fresh-models").glob("model-int8-*/model.onnx"))
    measured = json.loads((tmp_path / "fresh-models" / fastest.PROBE_FILE).read_text())
    assert measured["int8"]["chunks_per_s"] > 0 and measured["float"]["chunks_per_s"] > 0
    faster = "int8" if measured["int8"]["seconds"] < measured["float"]["seconds"] else "float"
    assert measured["pick"] == faster and fastest.measured_pick(tmp_path / "fresh-models") == faster
    assert win.library.embedder.variant == ("int8-onnx" if faster == "int8" else "float")
    assert not services.embedders.int8_to_prepare()
    win.close()
    win.pool.waitForDone()


def test_a_large_drop_updates_one_row_per_file_and_keeps_the_selection(qtbot, window, tmp_path, monkeypatch):
    """The window read the whole manifest on the GUI thread after each indexed file: quadratic in
    a large drop, and the list jumped. Now each indexed file adds its own row as it is done (at its
    sorted place), the whole list is read only when the job ends, and the file the user selected
    stays selected throughout."""
    first = tmp_path / "alpha.txt"
    first.write_text("The lighthouse keeper logs the weather at dawn.", encoding="utf-8")
    with qtbot.waitSignal(window.index_finished, timeout=LONG):
        _drop(window, [first])
    panel = window.library_panel
    panel.select_paths([str(first)])
    assert panel.selected_paths() == [str(first)]

    d = tmp_path / "many"
    d.mkdir()
    for i in range(40):
        (d / f"note{i:02d}.txt").write_text(f"Note {i}: the ferry to island {i} leaves at {i % 12 + 1} o'clock.\n",
                                            encoding="utf-8")
    reads, rows, selections = [], [], []
    files = window.library.files
    monkeypatch.setattr(window.library, "files", lambda: reads.append(1) or files())
    update = panel.update_record

    def watched(path, rec):
        update(path, rec)
        rows.append(panel.model.rowCount())
        selections.append(panel.selected_paths())

    monkeypatch.setattr(panel, "update_record", watched)
    with qtbot.waitSignal(window.index_finished, timeout=LONG) as job:
        _drop(window, [d])
    assert job.args[0].counts().get("indexed") == 40
    assert rows == list(range(2, 42)), "each indexed file adds its row while the job runs"
    assert all(s == [str(first)] for s in selections), "the selection moved while rows were added"
    assert len(reads) <= 1, f"the whole list was read {len(reads)} times during a 40-file job"
    names = [os.path.basename(panel.model.record(r).path) for r in range(panel.model.rowCount())]
    assert names == sorted(names, key=str.casefold), "rows are inserted at their sorted place"
    assert panel.selected_paths() == [str(first)], "reading the list at the end kept the selection"


def test_a_follow_up_in_the_window_finds_the_passage_the_question_alone_misses(qtbot, window, tmp_path):
    """Ask about the ferry, then "And on weekends?": the buses' page holds the word, the ferry's
    page the answer. The second answer cites the ferry, says what it was read with, and a new
    conversation forgets it."""
    folder = docs.make_town(tmp_path / "town")
    with qtbot.waitSignal(window.index_finished, timeout=LONG):
        window.library_actions.enqueue_index([str(folder)])
    first, _ = _ask(qtbot, window, "When does the ferry to Vardø leave?")
    assert first.citations[0].passage.file_name == "ferry.md" and first.read_with is None
    second, _ = _ask(qtbot, window, "And on weekends?")
    assert not second.refused
    assert "Saturdays" in second.text and second.citations[0].passage.file_name == "ferry.md"
    assert second.read_with == "When does the ferry to Vardø leave?"
    assert "follow-up of" in window.chat.view.toPlainText()
    window.new_conversation()
    alone, _ = _ask(qtbot, window, "And on weekends?")
    assert alone.read_with is None and alone.citations[0].passage.file_name == "bus.md"


def test_ask_about_these_cites_only_the_chosen_files_until_the_chip_is_closed(qtbot, window, tmp_path):
    """Select two documents → Ask about these: a chip above the question box names them, the
    answer cites only them (the buses' page answers best otherwise), the conversation remembers
    it, and the chip's ✕ asks the whole library again."""
    folder = docs.make_town(tmp_path / "town")
    with qtbot.waitSignal(window.index_finished, timeout=LONG):
        window.library_actions.enqueue_index([str(folder)])
    panel = window.library_panel
    chosen = [str(folder / "ferry.md"), str(folder / "library.md")]
    panel.select_paths(chosen)
    assert sorted(panel.selected_paths()) == chosen
    panel.ask_within_requested.emit(panel.selected_paths())  # the context menu's "Ask about these 2"
    assert window.chat.scope_chip.isVisible() and "ferry.md" in window.chat.scope_label.text()
    answer, _ = _ask(qtbot, window, "What runs on weekends, and when?")
    assert {c.passage.file_name for c in answer.citations} | {p.file_name for p in answer.closest} <= {"ferry.md", "library.md"}
    assert "Asked within: ferry.md, library.md" in window.chat.view.toPlainText()
    reopened = window.session.open_conversation(window.session.conversation_id)
    assert reopened[-1].scope and window.session.scope
    window.chat.scope_clear.click()
    assert not window.chat.scope_chip.isVisible() and window.session.scope is None
    whole, _ = _ask(qtbot, window, "What runs on weekends, and when?")
    assert whole.citations[0].passage.file_name == "bus.md"


def test_summarize_from_the_library_panel_shows_cited_bullets_and_saves_them(qtbot, window, tmp_path):
    """Right-click a PDF → Summarize: bullets under page headings, each with its citation card,
    saved in the conversation like an answer."""
    pdf = docs.make_pdf(tmp_path / "facts.pdf", docs.fact_pages())
    with qtbot.waitSignal(window.index_finished, timeout=LONG):
        window.library_actions.enqueue_index([str(pdf)])
    with qtbot.waitSignal(window.answer_finished, timeout=LONG) as done:
        window.library_panel.summarize_requested.emit(str(pdf), "")  # the context menu's "Summarize"
    assert not window.library_panel.answers_written()  # quoted answers: no "in quotes" entry is offered
    summary = done.args[0]
    assert summary.kind == "summary" and summary.question == "Summary of facts.pdf"
    assert [s.text for s in summary.sentences if s.role == "heading"] == ["Page 1", "Page 2", "Page 3"]
    shown = window.chat.view.toPlainText()
    assert "Page 2" in shown and "• " in shown and "[1]" in shown
    assert window.session.conversations.turns(window.session.conversation_id)[-1].kind == "summary"


def test_an_idle_engine_stops_and_the_status_bar_says_so(qtbot, settings, embedder, folder, tmp_path):
    """The engine starts with the first written answer (the status bar then says it runs); once
    unused for llm.idle_stop_minutes the window stops it off the GUI thread and says which engine
    will start with the next answer."""
    from app.services import build_services
    from app.session import Session
    from ui.main_window import MainWindow

    settings.retrieval.answer_mode = "generate"
    services = build_services(settings, embedder=embedder)  # the window's own engine: it may stop it
    win = MainWindow(Session(services), ui_state=tmp_path / "window.ini", warm_up=False)
    qtbot.addWidget(win)
    with qtbot.waitSignal(win.index_finished, timeout=LONG):
        win.library_actions.enqueue_index([str(folder)])
    assert win.idle_timer.isActive()
    answer, _ = _ask(qtbot, win, "How much does the museum night tour cost?")
    assert answer.engine == "llama.cpp"
    assert win.engine_label.text() == f"Ready · llama.cpp · {answer.model} · running"
    win.check_idle_engine()
    assert (services.engines.running is not None)  # used a moment ago
    settings.llm.idle_stop_minutes = 0.0001
    qtbot.wait(50)
    win.check_idle_engine()
    qtbot.waitUntil(lambda: not (services.engines.running is not None) and "starts with the next answer" in win.engine_label.text(), timeout=30000)
    assert "stopped after" in win.statusBar().currentMessage()
    win.close()
    win.pool.waitForDone()
    services.close()


def _hub_for(entry):
    from app.engines.llamacpp import bundled_gguf
    from tests.hubserver import HubServer

    return HubServer({entry.repo: {entry.files[0]: bundled_gguf()}})  # the bundled GGUF's bytes, served as the entry


def test_settings_models_download_then_the_next_answer_is_written_by_it(qtbot, indexed, monkeypatch):
    """Settings → Models → a model → Download: progress, then OK, and the next answer is written
    (not quoted) by the downloaded model through llama.cpp, with citations."""
    from app.models import catalog
    from ui.settings_dialog import SettingsDialog

    entry = catalog.get("qwen2.5-0.5b")
    monkeypatch.setenv("CITEWISE_LLM__ENGINE", "llamacpp")  # as the window's settings (rebuilt from file and environment)
    with _hub_for(entry) as srv:
        monkeypatch.setenv("CITEWISE_MODELS__ENDPOINT", srv.url)
        indexed.session.services.settings.models.endpoint = srv.url
        dialog = SettingsDialog(indexed.session.services.settings, None)
        qtbot.addWidget(dialog)
        page = dialog.models
        assert "recommended" in page.table.item(page.row_of(catalog.recommended("llamacpp", page.hw).id), 5).text()
        page.table.selectRow(page.row_of(entry.id))
        assert page.download_button.isEnabled() and not page.use_button.isEnabled()
        values = []
        page.progress.valueChanged.connect(values.append)
        page.download_button.click()
        assert page.cancel_button.isEnabled() and not page.download_button.isEnabled()
        qtbot.waitUntil(lambda: page.worker is None, timeout=60000)
    assert values and page.status.text() == f"Downloaded {entry.id}. Answers will come from {entry.id} once you click OK."
    assert "chosen: click OK" in page.table.item(page.row_of(entry.id), 5).text()
    changes = dialog.changes()  # the tests' engine is llama.cpp already: only the model changes
    assert changes == {"llm.model": catalog.model_path(entry, indexed.session.services.data_dir)}
    assert dialog.engine.currentData() == "llamacpp"
    dialog.accept()
    indexed.apply_settings(changes)
    answer, tokens = _ask(qtbot, indexed, "How much does the museum night tour cost?")
    assert answer.engine == "llama.cpp" and answer.model == entry.files[0] and len(tokens) > 3
    indexed.pool.waitForDone()


def test_settings_models_cancel_keeps_the_partial_download_to_resume(qtbot, settings, monkeypatch):
    from app.models import catalog
    from app.models import downloads
    from ui.settings_dialog import SettingsDialog

    entry = catalog.get("qwen2.5-0.5b")
    with _hub_for(entry) as srv:
        srv.faults.rate = 8e6
        settings.models.endpoint = srv.url
        dialog = SettingsDialog(settings, None)
        qtbot.addWidget(dialog)
        page = dialog.models
        page.table.selectRow(page.row_of(entry.id))
        page.download_button.click()
        qtbot.waitUntil(lambda: page.progress.value() > 60, timeout=30000)  # 6 %: ~6 MB
        assert "MB of" in page.status.text()
        page.cancel_button.click()
        qtbot.waitUntil(lambda: page.worker is None, timeout=30000)
    assert "cancelled" in page.status.text() and page.download_button.text() == "Resume download"
    assert downloads.partial_bytes(entry, settings.data_dir) > 5e6 and dialog.changes() == {}
    dialog.reject()


def test_a_follow_up_rewritten_by_a_writing_model_says_what_it_searched(qtbot, settings, embedder, tmp_path):
    """With a model that writes (scripted here: none that can rewrite runs on CI), "And on
    weekends?" is rewritten from the conversation; the window says what was searched, the answer
    cites the ferry, and the saved turn keeps the rewrite. Summaries are written by it too, or
    quoted when asked for in quotes."""
    from app.services import build_services
    from tests.engines import FakeEngine
    from app.session import Session
    from ui.main_window import MainWindow

    settings.retrieval.answer_mode = "generate"
    services = build_services(settings, embedder=embedder, engine=FakeEngine("When does the ferry to Vardø leave on weekends?"))
    win = MainWindow(Session(services), ui_state=tmp_path / "window.ini", warm_up=False)
    qtbot.addWidget(win)
    win.show()
    try:
        with qtbot.waitSignal(win.index_finished, timeout=LONG):
            win.library_actions.enqueue_index([str(docs.make_town(tmp_path / "town"))])
        first, _ = _ask(qtbot, win, "When does the ferry to Vardø leave?")
        assert first.rewritten is None
        second, _ = _ask(qtbot, win, "And on weekends?")
        assert second.rewritten == "When does the ferry to Vardø leave on weekends?"
        assert second.citations[0].passage.file_name == "ferry.md" and "11:30" in second.text
        assert "Searched as: When does the ferry to Vardø leave on weekends?" in win.chat.view.toPlainText()
        saved = win.session.conversations.turns(win.session.conversation_id)[-1]
        assert saved.rewritten == second.rewritten
        # a writing model also writes summaries; "Summarize in quotes (fast)" quotes without it
        assert win.library_panel.answers_written()
        ferry = str(tmp_path / "town" / "ferry.md")
        for mode, engine in (("", "fake"), ("quote", "summary")):
            with qtbot.waitSignal(win.answer_finished, timeout=LONG) as done:
                win.library_panel.summarize_requested.emit(ferry, mode)
            assert done.args[0].kind == "summary" and done.args[0].engine == engine
            assert done.args[0].citations[0].passage.file_name == "ferry.md"
    finally:
        win.close()
