"""The window's library actions: switching, creating, renaming and deleting libraries, adding
documents (dialogs, drops), the queue of indexing jobs, watching a folder, removing documents, and
the scope questions are asked within.

An object the main window (ui/main_window.py) makes and holds as `window.library_actions`: what it
works on is handed to it (the session, the window for dialogs and its status bar, the library panel,
the chat view, the window's worker runner and two of its signals). What is decided lives in
app/session.py; this is the Qt side.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Callable

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QFileDialog, QInputDialog, QMainWindow, QMessageBox

from app.session import SessionError

if TYPE_CHECKING:
    from PySide6.QtCore import SignalInstance

    from app.session import Session
    from ui.chat_view import ChatView
    from ui.library_panel import LibraryPanel
    from ui.workers import GeneratorWorker


class LibraryActions:
    def __init__(self, window: QMainWindow, session: Session, panel: LibraryPanel, chat: ChatView, *,
                 run: Callable[..., GeneratorWorker], show_error: Callable[[str, str], None],
                 index_finished: SignalInstance, watch_changed: SignalInstance):
        """`run` runs a generator on the window's worker pool, reporting back on the GUI thread;
        `index_finished` is emitted with each job's final Progress; `watch_changed` carries a watched
        folder's changes from the watcher's thread (a queued signal)."""
        self.window = window
        self.session = session
        self.library_panel = panel
        self.chat = chat
        self._run = run
        self.show_error = show_error
        self.index_finished = index_finished
        self.watch_changed = watch_changed
        self.index_worker: GeneratorWorker | None = None
        self.last_job = None  # the final Progress of the last indexing job
        self._last_progress = None
        self.watch_action = QAction("&Watch a folder for changes…", window)
        self.watch_action.setShortcut(QKeySequence("Ctrl+Shift+W"))
        self.watch_action.setStatusTip("Keep the library in step with a folder: new and edited files are indexed, "
                                       "deleted ones dropped")
        self.watch_action.setCheckable(True)
        self.watch_action.triggered.connect(self.toggle_watch_dialog)
        watch_changed.connect(self._on_watch_changed)  # queued: emitted on the watcher's thread
        self._connect_library_panel(panel)

    def _status(self, message: str, ms: int) -> None:
        self.window.statusBar().showMessage(message, ms)

    def _connect_library_panel(self, lp: LibraryPanel) -> None:
        from PySide6.QtCore import QUrl
        from PySide6.QtGui import QDesktopServices

        lp.add_files_requested.connect(self.add_files_dialog)
        lp.add_folder_requested.connect(self.add_folder_dialog)
        lp.samples_requested.connect(self.index_samples)
        lp.cancel_requested.connect(self.cancel_indexing)
        lp.library_selected.connect(self.switch_library)
        lp.new_library_requested.connect(self.new_library_dialog)
        lp.rename_library_requested.connect(self.rename_library_dialog)
        lp.delete_library_requested.connect(self.delete_library_dialog)
        lp.remove_requested.connect(self.remove_documents)
        lp.ask_within_requested.connect(self.ask_within)
        lp.answers_written = self.session.answers_written
        lp.reindex_requested.connect(lambda paths: self.enqueue_index(paths, force=True))
        lp.open_requested.connect(lambda path: QDesktopServices.openUrl(QUrl.fromLocalFile(path)))

    # -- libraries -------------------------------------------------------------------------

    def refresh_libraries(self) -> None:
        self.library_panel.set_libraries(self.session.library_names(), self.session.settings.library)
        self.refresh_documents()
        self.show_scope()
        self.window.setWindowTitle(f"Citewise — {self.session.settings.library}")

    def ask_within(self, paths: list[str]) -> None:
        """Questions from now on are asked within these files (empty: the whole library)."""
        try:
            self.session.set_scope(paths)
        except SessionError as exc:
            self.show_error("Ask about these", str(exc))
            return
        self.show_scope()
        self.chat.input.setFocus()

    def show_scope(self) -> None:
        self.chat.set_scope([Path(p).name for p in self.session.scope] if self.session.scope else None)

    def refresh_documents(self) -> None:
        self.library_panel.set_records(self.session.library.files())

    def switch_library(self, name: str) -> None:
        try:
            switched = self.session.switch_library(name)
        except SessionError as exc:
            self.show_error("Library", str(exc))
            self.library_panel.set_libraries(self.session.library_names(), self.session.library_name)
            return
        if switched:
            self._watch_stopped()
            self.refresh_libraries()
            self.finish_vectors()

    def finish_vectors(self) -> None:
        """A run stopped before every vector was written (the app quit, a kill): write them now, as a
        job of its own (no files to read), so the library's meaning search is whole again."""
        if self.session.vectors_waiting() and self.index_worker is None:
            self.enqueue_index([])

    def new_library_dialog(self) -> None:
        from ui.library_panel import NewLibraryDialog

        choosable = self.session.settings.embedding.precision == "auto"
        dialog = NewLibraryDialog(self.window, fast=choosable and self.session.int8_by_default(), choosable=choosable)
        if dialog.exec() and dialog.name.text().strip():
            self.create_library(dialog.name.text(), int8=dialog.int8.isChecked() if choosable else None)

    def create_library(self, name: str, *, int8: bool | None = None) -> None:
        try:
            self.session.create_library(name, int8=int8)
        except ValueError as exc:
            QMessageBox.warning(self.window, "New library", str(exc))
            return
        self.refresh_libraries()

    def rename_library_dialog(self) -> None:
        old = self.session.settings.library
        name, ok = QInputDialog.getText(self.window, "Rename library", f"New name for “{old}”:", text=old)
        if ok and name.strip() and name.strip() != old:
            self.rename_library(old, name)

    def rename_library(self, old: str, new: str) -> None:
        try:
            self.session.rename_library(old, new)
        except Exception as exc:
            QMessageBox.warning(self.window, "Rename library", str(exc))
            return
        self.refresh_libraries()

    def delete_library_dialog(self) -> None:
        name = self.session.settings.library
        answer = QMessageBox.question(
            self.window, "Delete library",
            f"Delete the library “{name}”? Its index is deleted; your documents stay where they are.",
        )
        if answer == QMessageBox.StandardButton.Yes:
            self.delete_library(name)

    def delete_library(self, name: str) -> None:
        try:
            self.session.delete_library(name)
        except SessionError as exc:
            self.show_error("Delete library", str(exc))
            return
        self.refresh_libraries()

    # -- indexing --------------------------------------------------------------------------

    def add_files_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self.window, "Add documents", str(Path.home()),
            "Documents (*.pdf *.docx *.html *.htm *.xhtml *.md *.markdown *.txt *.text *.epub);;All files (*)",
        )
        if paths:
            self.enqueue_index(paths)

    def add_folder_dialog(self) -> None:
        folder = QFileDialog.getExistingDirectory(self.window, "Add a folder", str(Path.home()))
        if folder:
            self.enqueue_index([folder])

    def index_samples(self) -> None:
        from app.samples import sample_files

        self.enqueue_index([str(p) for p in sample_files()])
        self.chat.input.setPlaceholderText("Try: When does the first ferry leave on weekdays?")

    def enqueue_index(self, paths: list[str], force: bool = False) -> None:
        """Queue an indexing job; drops during a running job wait their turn, never lost."""
        if self.session.enqueue(paths, force):
            self._next_index_job()
        else:
            self.library_panel.set_queue(len(self.session.index_queue))

    def _next_index_job(self) -> None:
        job = self.session.next_job()
        if job is None:
            return
        paths, force = job
        self.session.indexing = True
        self.library_panel.job_started(len(self.session.index_queue))
        self._last_progress = None

        def on_progress(p):
            self._last_progress = p
            self.library_panel.job_progress(p)
            if p.report is not None and p.report.status.value in ("indexed", "failed", "removed"):
                # that file's row alone: reading the whole list after each file was quadratic
                self.library_panel.update_record(p.report.path, self.session.library.file(p.report.path))

        def on_finished():
            worker = self.index_worker
            self.index_worker = None
            self.session.indexing = False
            final = self._last_progress
            self.last_job = final
            self.library_panel.job_finished(final, cancelled=worker.cancelled if worker else False)
            self.refresh_documents()
            if final is not None:
                counts = final.counts()
                self._status(
                    "Indexing " + ("cancelled" if final.phase == "cancelled" else "done") + ": "
                    + ", ".join(f"{v} {k}" for k, v in counts.items()), 10000)
            self.index_finished.emit(final)
            if self.session.index_queue:
                self._next_index_job()

        self.index_worker = self._run(
            lambda cancelled: self.session.index(paths, force, cancelled),
            name="indexing", on_progress=on_progress, on_finished=on_finished,
        )

    # -- watching a folder ------------------------------------------------------------------

    def toggle_watch_dialog(self, checked: bool) -> None:
        if not checked:
            self.stop_watch()
            return
        folder = QFileDialog.getExistingDirectory(self.window, "Watch a folder")
        if folder:
            self.start_watch(folder)
        else:
            self.watch_action.setChecked(False)

    def start_watch(self, folder: str, debounce_s: float = 1.0) -> None:
        """Index `folder`, then follow it: the watcher's thread reports through `watch_changed`."""
        self.session.start_watch(folder, self.watch_changed.emit, debounce_s=debounce_s)
        self.watch_action.setChecked(True)
        self.watch_action.setText(f"&Watching {Path(folder).name} (click to stop)")
        self._status(f"Watching {folder} for changes", 8000)
        self.enqueue_index([folder])  # what changed while nobody watched

    def stop_watch(self) -> None:
        if self.session.stop_watch():
            self._status("Stopped watching", 5000)
        self._watch_stopped()

    def _watch_stopped(self) -> None:
        self.watch_action.setChecked(False)
        self.watch_action.setText("&Watch a folder for changes…")

    def _on_watch_changed(self, line: str) -> None:
        self.refresh_documents()
        self._status(f"Watched folder: {line}", 8000)

    def cancel_indexing(self) -> None:
        self.session.index_queue.clear()
        if self.index_worker is not None:
            self.index_worker.cancel()
            self.library_panel.job_label.setText("Cancelling after the current file…")

    def remove_documents(self, paths: list[str]) -> None:
        try:
            reports = self.session.remove_documents(paths)
        except SessionError as exc:
            self.show_error("Remove", str(exc))
            return
        self._status(f"Removed {len(reports)} document(s) from the library; the files stay on disk.", 8000)
        self.refresh_documents()
