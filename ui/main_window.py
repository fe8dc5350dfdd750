"""The main window: library on the left, conversation in the middle, the cited source on the right."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QSettings, Qt, QThreadPool, QTimer, Signal
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QInputDialog, QLabel, QMainWindow, QMessageBox, QSplitter, QTabWidget

from app.export import Citation
from app.session import Session, SessionError
from ui.chat_view import ChatView
from ui.conversations_panel import ConversationsPanel
from ui.library_actions import LibraryActions
from ui.library_panel import LibraryPanel
from ui.source_viewer import SourceViewer
from ui.workers import GeneratorWorker

log = logging.getLogger(__name__)


class MainWindow(QMainWindow):
    services_changed = Signal()
    index_finished = Signal(object)  # the final Progress of a job
    answer_finished = Signal(object)  # the Answer, or None after an error
    watch_changed = Signal(str)  # a watched folder changed and the library followed (a line to show)

    def __init__(self, session: Session, *, ui_state: Path | None = None, warm_up: bool = True):
        super().__init__()
        self.session = session
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(4)
        self.workers: set[GeneratorWorker] = set()
        self.ask_worker: GeneratorWorker | None = None
        self._ui_state = ui_state

        self.library_panel = LibraryPanel()
        self.conversations_panel = ConversationsPanel()
        self.tabs = QTabWidget()
        self.tabs.addTab(self.library_panel, "Library")
        self.tabs.addTab(self.conversations_panel, "Conversations")
        self.chat = ChatView()
        self.viewer = SourceViewer()
        self.viewer.hide()
        self.splitter = QSplitter()
        self.splitter.addWidget(self.tabs)
        self.splitter.addWidget(self.chat)
        self.splitter.addWidget(self.viewer)
        self.splitter.setStretchFactor(1, 2)
        self.splitter.setStretchFactor(2, 2)
        self.setCentralWidget(self.splitter)
        self.setAcceptDrops(True)
        self.library_actions = LibraryActions(self, session, self.library_panel, self.chat, run=self._run,
                                              show_error=self.show_error, index_finished=self.index_finished,
                                              watch_changed=self.watch_changed)
        self.engine_label = QLabel()
        self.engine_label.setTextFormat(Qt.TextFormat.PlainText)  # error messages quote paths and names
        self.statusBar().addPermanentWidget(self.engine_label)

        self._connect()
        self._build_menus()
        self._restore_state()
        self.library_actions.refresh_libraries()
        self.refresh_conversations()
        QTimer.singleShot(0, self.library_actions.finish_vectors)  # what a stopped run left
        if warm_up:
            QTimer.singleShot(0, self.warm_up)
        # an engine idle for llm.idle_stop_minutes stops, giving its memory back
        self.idle_timer = QTimer(self)
        self.idle_timer.setInterval(30_000)
        self.idle_timer.timeout.connect(self.check_idle_engine)
        self.idle_timer.start()

    # -- wiring ----------------------------------------------------------------------------

    def _connect(self) -> None:
        self.library_panel.summarize_requested.connect(self.summarize)
        self.chat.ask_requested.connect(self.ask)
        self.chat.stop_requested.connect(self.stop_answer)
        self.chat.scope_cleared.connect(lambda: self.library_actions.ask_within([]))
        self.chat.citation_activated.connect(self.open_citation)
        self.viewer.close_requested.connect(self.viewer.hide)
        self.viewer.text_requested.connect(self._load_unit_text)
        cp = self.conversations_panel
        cp.open_requested.connect(self.open_conversation)
        cp.new_requested.connect(self.new_conversation)
        cp.rename_requested.connect(self.rename_conversation_dialog)
        cp.delete_requested.connect(self.delete_conversation)

    def _action(self, menu, text, slot, shortcut=None, tip=None) -> QAction:
        action = QAction(text, self)
        if shortcut:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        action.triggered.connect(slot)
        menu.addAction(action)
        return action

    def _build_menus(self) -> None:
        bar = self.menuBar()
        file = bar.addMenu("&File")
        actions = self.library_actions
        self._action(file, "Add &files…", actions.add_files_dialog, "Ctrl+O", "Index documents")
        self._action(file, "Add f&older…", actions.add_folder_dialog, "Ctrl+Shift+O", "Index a folder and everything in it")
        self._action(file, "Try sample documents", actions.index_samples)
        file.addAction(actions.watch_action)
        file.addSeparator()
        self._action(file, "&Export answer…", self.export_dialog, "Ctrl+E", "Markdown, HTML, PDF or JSON, with citations")
        self._action(file, "&Copy answer with citations", self.copy_with_citations, "Ctrl+Shift+C")
        file.addSeparator()
        self._action(file, "&Quit", self.close, QKeySequence.StandardKey.Quit)
        edit = bar.addMenu("&Edit")
        self._action(edit, "&Find document", self.focus_filter, "Ctrl+F")
        self._action(edit, "&Ask a question", lambda: self.chat.input.setFocus(), "Ctrl+L")
        self._action(edit, "&New conversation", self.new_conversation, "Ctrl+N")
        self._action(edit, "Settings…", self.settings_dialog, "Ctrl+,")
        self.cancel_action = self._action(edit, "Cancel", self.cancel_current, "Esc", "Stop the answer or the indexing job")
        help_menu = bar.addMenu("&Help")
        self._action(help_menu, "&About Citewise", self.about)

    # -- state -----------------------------------------------------------------------------

    def _qsettings(self) -> QSettings | None:
        if self._ui_state is None:
            return None
        return QSettings(str(self._ui_state), QSettings.Format.IniFormat)

    def _restore_state(self) -> None:
        qs = self._qsettings()
        self.resize(1280, 800)
        self.splitter.setSizes([380, 900, 0])
        if qs is None:
            return
        if qs.value("geometry") is not None:
            self.restoreGeometry(qs.value("geometry"))
        sizes = qs.value("splitter")
        if sizes:
            self.splitter.setSizes([int(s) for s in sizes])

    def _save_state(self) -> None:
        qs = self._qsettings()
        if qs is not None:
            qs.setValue("geometry", self.saveGeometry())
            qs.setValue("splitter", self.splitter.sizes())
            qs.sync()

    # -- workers ---------------------------------------------------------------------------

    def _run(self, factory, *, name, on_progress=None, on_result=None, on_error=None, on_finished=None) -> GeneratorWorker:
        worker = GeneratorWorker(factory, name=name)
        if on_progress:
            worker.signals.progress.connect(on_progress)
        if on_result:
            worker.signals.result.connect(on_result)
        worker.signals.error.connect(on_error or (lambda msg, tb: self.show_error(f"{name} failed", msg)))

        def finished():
            self.workers.discard(worker)
            if on_finished:
                on_finished()

        worker.signals.finished.connect(finished)
        self.workers.add(worker)
        self.pool.start(worker)
        return worker

    def warm_up(self) -> None:
        """Load the embedding model (and start the engine) off the GUI thread."""
        self.engine_label.setText("Loading models…")
        self.session.engine_note = None
        self._run(self.session.warm_up, name="loading models", on_progress=self.engine_label.setText,
                  on_error=lambda msg, tb: self.engine_label.setText(f"Engine problem: {msg}"))

    def refresh_engine_label(self) -> None:
        self.engine_label.setText(f"Ready · {self.session.engine_status()}")

    def check_idle_engine(self) -> None:
        """Stops the answer engine (off the GUI thread: a server takes seconds to stop) when it has
        not written for llm.idle_stop_minutes and no answer is being written."""
        if self.ask_worker is not None or not self.session.engine_idle():
            return
        session = self.session

        def stop(cancelled):
            if session.stop_engine():
                yield "stopped"

        def stopped(_):
            self.refresh_engine_label()
            minutes = session.settings.llm.idle_stop_minutes
            self.statusBar().showMessage(f"The answer engine stopped after {minutes:g} minutes unused, "
                                         "giving its memory back; it starts again with the next answer", 15000)

        self._run(stop, name="stopping the idle engine", on_progress=stopped)

    def show_error(self, title: str, message: str) -> None:
        self.statusBar().showMessage(f"{title}: {message}", 15000)
        log.warning("%s: %s", title, message)

    # -- the session (Qt-free: app/session.py) -----------------------------------------------

    @property
    def library(self):
        return self.session.library

    @property
    def watcher(self):
        return self.session.watcher

    @property
    def conversation_id(self) -> int | None:
        return self.session.conversation_id

    @property
    def _engine_note(self) -> str | None:
        return self.session.engine_note

    # -- asking ----------------------------------------------------------------------------

    def ask(self, question: str) -> None:
        if self.ask_worker is not None:
            return
        from app.chat import Done, Retrieved, SentenceCited, Status, Token

        self.chat.start_answer(question)
        chat = self.session.chat()
        state = {"answer": None}

        def on_event(e):
            if isinstance(e, Token):
                self.chat.add_token(e.text)
            elif isinstance(e, SentenceCited):
                self.chat.add_sentence_marks(e.citations, e.supported, e.claim)
            elif isinstance(e, Status):
                self.chat.set_live_status({"searching": "Searching your documents…", "loading model": "Loading the model…",
                                           "generating": "Writing the answer…",
                                           "rewriting the question": "Reading your question with the conversation…"}.get(e.text, e.text))
            elif isinstance(e, Retrieved) and e.refused:
                self.chat.set_live_status("Nothing in your documents is close to this question.")
            elif isinstance(e, Retrieved) and e.rewritten:
                self.chat.set_live_status(f"Searched as: {e.rewritten}")
            elif isinstance(e, Done):
                state["answer"] = e.answer

        def on_error(msg, tb):
            state["error"] = msg

        def on_finished():
            self.refresh_engine_label()  # the answer may have started the engine
            self._answer_done(state["answer"], state.get("error"))

        try:  # the open conversation (the question may be a follow-up), the files "Ask about these" chose
            history, scope = self.session.history(), self.session.ask_scope()
        except SessionError as exc:  # they were removed from the library since
            self.chat.finish_answer(None, error=str(exc))
            return
        self.ask_worker = self._run(lambda cancelled: chat.ask(question, cancel=cancelled, history=history, scope=scope),
                                    name="answer", on_progress=on_event, on_error=on_error, on_finished=on_finished)

    def summarize(self, path: str, mode: str = "") -> None:
        """Right-click → Summarize: the whole document in cited bullets, shown and saved like an
        answer (exported with the conversation); Stop (Esc) ends it after the current section.
        `mode` "quote": the sections' central sentences even where a model writes answers."""
        if self.ask_worker is not None:
            return
        self.chat.start_answer(f"Summary of {Path(path).name}")
        state: dict = {}

        def on_event(event):
            if isinstance(event, str):
                self.chat.set_live_status(event)
            else:
                state["answer"] = event

        self.ask_worker = self._run(lambda cancelled: self.session.summarize(path, cancel=cancelled, mode=mode or None),
                                    name="summary",
                                    on_progress=on_event, on_error=lambda msg, tb: state.update(error=msg),
                                    on_finished=lambda: self._answer_done(state.get("answer"), state.get("error")))

    def _answer_done(self, answer, error: str | None) -> None:
        """An answer or a summary ended: shown (or its error), saved in the conversation, announced."""
        self.ask_worker = None
        self.chat.finish_answer(answer, error=error)
        if answer is not None:
            self.session.save_turn(answer)
            self.refresh_conversations()
        self.answer_finished.emit(answer)

    def stop_answer(self) -> None:
        if self.ask_worker is not None:
            self.ask_worker.cancel()

    def cancel_current(self) -> None:
        if self.ask_worker is not None:
            self.stop_answer()
        elif self.library_actions.index_worker is not None:
            self.library_actions.cancel_indexing()

    # -- sources ---------------------------------------------------------------------------

    def open_citation(self, cit: Citation) -> None:
        self.viewer.show()
        if self.splitter.sizes()[2] < 200:
            total = sum(self.splitter.sizes())
            self.splitter.setSizes([int(total * 0.27), int(total * 0.33), int(total * 0.40)])
        self.viewer.show_citation(cit)

    def _load_unit_text(self, path: str, unit: int) -> None:
        library = self.library

        def work(cancelled):
            try:
                text, stale = library.unit_text(path, unit)
                return (path, unit, text, stale, None)
            except Exception as exc:
                return (path, unit, None, False, str(exc))

        self._run(work, name="reading the source", on_result=lambda r: self.viewer.text_loaded(*r))

    # -- conversations ---------------------------------------------------------------------

    def refresh_conversations(self) -> None:
        self.conversations_panel.set_conversations(self.session.conversations.list(), self.conversation_id)

    def new_conversation(self) -> None:
        self.session.new_conversation()
        self.chat.set_turns([])
        self.library_actions.show_scope()
        self.chat.input.setFocus()

    def open_conversation(self, cid: int) -> None:
        self.chat.set_turns(self.session.open_conversation(cid))
        self.library_actions.show_scope()

    def rename_conversation_dialog(self, cid: int) -> None:
        conv = self.session.conversations.get(cid)
        title, ok = QInputDialog.getText(self, "Rename conversation", "Title:", text=conv.title if conv else "")
        if ok and title.strip():
            self.session.conversations.rename(cid, title)
            self.refresh_conversations()

    def delete_conversation(self, cid: int) -> None:
        if self.session.delete_conversation(cid):
            self.new_conversation()
        self.refresh_conversations()

    # -- export ----------------------------------------------------------------------------

    def export_dialog(self) -> None:
        from ui.export_dialog import ExportDialog

        if not self.chat.turns:
            self.show_error("Export", "there is no answer to export yet")
            return
        dialog = ExportDialog(Path.home(), has_conversation=len(self.chat.turns) > 1, parent=self)
        if dialog.exec():
            self.export_to(dialog.target, dialog.scope)

    def export_to(self, path: Path, scope: str = "answer") -> Path | None:
        from app.export import ExportError, export

        turns = self.chat.turns if scope == "conversation" else self.chat.turns[-1:]
        title = self.session.conversation_title() if scope == "conversation" else None
        try:
            written = export(turns, path, title=title,
                             library=self.session.settings.library)
        except (ExportError, OSError) as exc:
            QMessageBox.warning(self, "Export", f"Could not export to {path}: {exc}")
            return None
        self.statusBar().showMessage(f"Exported to {written}", 8000)
        return written

    def copy_with_citations(self) -> None:
        from app.export import clipboard_text

        answer = self.chat.current_answer()
        if answer:
            QGuiApplication.clipboard().setText(clipboard_text(answer))
            self.statusBar().showMessage("Answer and its sources copied", 5000)

    # -- settings --------------------------------------------------------------------------

    def settings_dialog(self) -> None:
        from app.secrets import get_api_key
        from ui.settings_dialog import SettingsDialog

        s = self.session.settings
        dialog = SettingsDialog(s, get_api_key(s.llm.remote_url) if s.llm.remote_url else None, self,
                                engine_note=self._engine_note or "being determined while the models load…",
                                libraries_using=self.session.libraries_using)
        if dialog.exec():
            self.apply_settings(dialog.changes(), dialog.api_key_changed())

    def apply_settings(self, changes: dict, api_key: str | None = None) -> None:
        """Write what changed, then rebuild the services with the new settings."""
        try:
            self.session.save_settings(changes, api_key)
        except SessionError as exc:
            QMessageBox.warning(self, "Settings", str(exc))
            return
        if not changes:
            return
        if self.library_actions.index_worker is not None or self.ask_worker is not None:
            self.cancel_current()
            self.pool.waitForDone()
        self.session.rebuild_services(changes)
        self.library_actions.refresh_libraries()
        self.services_changed.emit()
        self.warm_up()

    # -- misc ------------------------------------------------------------------------------

    def focus_filter(self) -> None:
        self.tabs.setCurrentWidget(self.library_panel)
        self.library_panel.filter.setFocus()
        self.library_panel.filter.selectAll()

    def about(self) -> None:
        QMessageBox.about(self, "About Citewise", "<b>Citewise</b><p>Answers from your own documents, with citations you can check. "
                          "Everything runs on this computer.</p>")

    # -- drag and drop ---------------------------------------------------------------------

    def dragEnterEvent(self, event):  # noqa: N802
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()

    def dragMoveEvent(self, event):  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802
        paths = [u.toLocalFile() for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.library_actions.enqueue_index(paths)

    def closeEvent(self, event):  # noqa: N802
        """A clean quit: cancel jobs, wait for the workers, stop any engine child process."""
        self.session.index_queue.clear()
        self.library_actions.stop_watch()
        for worker in list(self.workers):
            worker.cancel()
        self.pool.waitForDone(60000)
        self._save_state()
        self.session.close()
        event.accept()

