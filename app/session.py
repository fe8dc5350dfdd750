"""The desktop session, without Qt: what a user's working session holds beside the windows.

The current library (switching, creating, renaming, deleting it), the queue of indexing jobs (a
drop during a job waits its turn, never lost), watching a folder, the open conversation and its
saved turns, applying new settings (rebuilding the services), and warming the models up. The
desktop window (ui/main_window.py) keeps widgets, menus and dialogs and runs the long parts on its
worker threads; everything it decides lives here, where it can be used and tested without a display.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path
from typing import Callable, Iterator

from retrieval.models import Answer


class SessionError(Exception):
    """Not now, or not possible: the message says why in words a user can act on."""


class Session:
    """ui/ reaches the core through this object and the core's data types (an import contract
    says so): the window never holds app.services."""

    def __init__(self, services):
        self.services = services
        self.index_queue: deque[tuple[list[str], bool]] = deque()
        self.indexing = False  # a job runs (whoever runs `index` sets it)
        self.watcher = None  # a FolderWatcher while a folder is watched
        self.conversation_id: int | None = None
        self.scope: list[str] | None = None  # files/folders questions are asked within (None: all)
        self.engine_note: str | None = None  # which engine answers and why (found by warm_up)

    @classmethod
    def open(cls, settings) -> "Session":
        """A session over new services for these settings (the desktop app's start)."""
        from app.services import build_services

        return cls(build_services(settings))

    @property
    def settings(self):
        """The settings in use (changed through `save_settings` + `rebuild_services`)."""
        return self.services.settings

    # -- libraries -----------------------------------------------------------------------------

    @property
    def library(self):
        return self.services.library()

    def vectors_waiting(self) -> int:
        """Passages of the current library searchable by their words whose vectors a stopped run
        left unwritten (any indexing job writes them first)."""
        return self.services.library().manifest.waiting_count()

    @property
    def library_name(self) -> str:
        return self.services.settings.library

    def library_names(self) -> list[str]:
        return self.services.libraries.names()

    def int8_by_default(self) -> bool:
        """Whether a new library embeds with the int8 copy on this computer."""
        return self.services.embedders.int8_by_default()

    def libraries_using(self, entry) -> list[str]:
        """The libraries whose vectors came from this catalog embedding model."""
        return self.services.libraries.using(entry)

    def _idle(self, what: str) -> None:
        if self.indexing:
            raise SessionError(f"wait for the indexing job to finish (or cancel it) before you {what}")

    def switch_library(self, name: str) -> bool:
        """Make `name` the current library; False when it is already."""
        if name == self.library_name:
            return False
        self._idle("switch libraries")
        self.stop_watch()  # a watch feeds the library it was started on
        self.services.settings.library = name
        self.scope = None  # chosen in the other library
        return True

    def create_library(self, name: str, *, int8: bool | None = None) -> str:
        lib = self.services.libraries.create(name, int8=int8)  # ValueError: the name is taken or empty
        self.services.settings.library = lib.name
        self.scope = None
        return lib.name

    def rename_library(self, old: str, new: str) -> str:
        lib = self.services.libraries.rename(old, new)
        self.services.settings.library = lib.name
        return lib.name

    def delete_library(self, name: str) -> str:
        """Deletes the library's index (the documents stay); returns the library now current."""
        self._idle("delete a library")
        self.services.libraries.delete(name)
        remaining = [n for n in self.library_names() if n != name]
        self.services.settings.library = remaining[0] if remaining else "default"
        return self.library_name

    # -- indexing ------------------------------------------------------------------------------

    def enqueue(self, paths: list[str], force: bool = False) -> bool:
        """Queue a job; True when none runs (the caller starts `next_job` now)."""
        self.index_queue.append(([str(p) for p in paths], force))
        return not self.indexing

    def next_job(self) -> tuple[list[str], bool] | None:
        return self.index_queue.popleft() if self.index_queue else None

    def index(self, paths: list[str], force: bool, cancel: Callable[[], bool]):
        """The job's progress (a generator), into the library current when it starts."""
        return self.library.add(paths, force=force, cancel=cancel)

    def remove_documents(self, paths: list[str]):
        self._idle("remove documents")
        return self.library.remove(paths)

    # -- watching a folder ---------------------------------------------------------------------

    def start_watch(self, folder: str, on_line: Callable[[str], None], *, debounce_s: float = 1.0) -> None:
        """Follow `folder` (its changes are indexed as they happen, each reported as a line on
        the watcher's thread); the caller queues `folder` once for what changed meanwhile."""
        self.stop_watch()

        def progress(p) -> None:
            r = p.report
            if r is not None and r.status.value not in ("unchanged", "skipped"):
                on_line(f"{Path(r.path).name}: {r.status.value}" + (f" ({r.reason})" if r.reason else ""))

        def removed(reports) -> None:
            for r in reports:
                on_line(f"{Path(r.path).name}: removed")

        self.watcher = self.library.watcher([folder], debounce_s=debounce_s, on_progress=progress, on_removed=removed).start()

    def stop_watch(self) -> bool:
        """False when nothing was watched."""
        if self.watcher is None:
            return False
        self.watcher.stop()
        self.watcher = None
        return True

    # -- the conversation ----------------------------------------------------------------------

    @property
    def conversations(self):
        return self.services.conversations

    def save_turn(self, answer: Answer) -> None:
        """Saves the answer in the open conversation, opening one with its question."""
        if self.conversation_id is None:
            self.conversation_id = self.conversations.create(answer.question[:80], self.library_name).id
        self.conversations.add_turn(self.conversation_id, answer)

    def new_conversation(self) -> None:
        self.conversation_id = None
        self.scope = None

    def set_scope(self, paths: list[str] | None) -> None:
        """Ask within these files or folders from now on (None or empty: the whole library).
        SessionError when the library holds nothing indexed in one of them."""
        if paths:
            self.ask_scope(list(paths))  # checked now, not at the next question
        self.scope = list(paths) if paths else None

    def ask_scope(self, paths: list[str] | None = None):
        """The Scope a question is asked within (app.chat.Scope), None for the whole library."""
        from app.chat import Scope
        from indexing.models import DocumentError

        paths = self.scope if paths is None else paths
        if not paths:
            return None
        try:
            return Scope(paths, self.library.scope(paths))
        except DocumentError as exc:
            raise SessionError(str(exc)) from None

    def chat(self):
        """A Chat over the current library (its `ask` yields the answer's events)."""
        return self.services.chat()

    def answers_written(self) -> bool:
        """Whether a model writes the answers (and summaries) now, rather than quoting passages."""
        from app.chat import answer_mode

        return answer_mode(self.services.settings) == "generate"

    def summarize(self, path: str, cancel: Callable[[], bool] | None = None, mode: str | None = None) -> Iterator:
        """Status lines while the document is read, then its summary (an Answer: bullets under
        section headings, each cited). SessionError when the file is not indexed."""
        from app.chat import Status
        from indexing.models import DocumentError
        from retrieval.summary import SummaryProgress

        try:
            events = self.services.summarize(path, cancel=cancel, mode=mode)
        except DocumentError as exc:
            raise SessionError(str(exc)) from None
        for event in events:
            if isinstance(event, Status):
                yield f"Answer engine: {event.text}"
            elif isinstance(event, SummaryProgress):
                yield f"Reading section {event.done} of {event.total}…"
            else:
                yield event

    def history(self) -> list:
        """The open conversation's turns as retrieval remembers them (the next question may be a
        follow-up of them: retrieval/followup.py): its last turns asked within the current scope
        (choosing other files, or the whole library again, starts afresh); empty when none is open."""
        if self.conversation_id is None:
            return []
        same: list[Answer] = []
        for answer in reversed(self.conversations.turns(self.conversation_id)):
            if (answer.scope or None) != (self.scope or None):
                break
            same.append(answer)
        return history_of(same[::-1])

    def open_conversation(self, cid: int) -> list:
        """Its turns, as Answers (read back from what was saved: Answer.from_dict); the scope of
        its last question becomes the session's."""
        self.conversation_id = cid
        turns = self.conversations.turns(cid)
        self.scope = (turns[-1].scope or None) if turns else None
        return turns

    def delete_conversation(self, cid: int) -> bool:
        """True when it was the open one (then none is open)."""
        self.conversations.delete(cid)
        if cid == self.conversation_id:
            self.conversation_id = None
            return True
        return False

    def conversation_title(self) -> str | None:
        conv = self.conversations.get(self.conversation_id) if self.conversation_id else None
        return conv.title if conv else None

    # -- settings ------------------------------------------------------------------------------

    def save_settings(self, changes: dict, api_key: str | None = None) -> None:
        """Write what changed to the settings file (and the API key to the key store).
        SessionError when either cannot be written."""
        from app.secrets import SecretStoreError, set_api_key
        from app.settings import default_config_file, update_settings_file

        try:
            if changes:
                update_settings_file(default_config_file(), changes)
            url = changes.get("llm.remote_url", self.services.settings.llm.remote_url)
            if api_key is not None and url:
                set_api_key(url, api_key)
        except (ValueError, SecretStoreError, OSError) as exc:
            raise SessionError(str(exc)) from None

    def rebuild_services(self, changes: dict) -> None:
        """New services from the saved settings (the embedder kept unless its settings changed);
        no job may run meanwhile."""
        from app.services import build_services
        from app.settings import load_settings

        old = self.services
        settings = load_settings(data_dir=old.settings.data_dir, library=old.settings.library)
        keep_embedder = not any(k.startswith("embedding.") for k in changes)
        self.services = build_services(settings, embedder=old.embedder if keep_embedder else None)
        self.engine_note = None
        old.close()

    # -- warming up ----------------------------------------------------------------------------

    def warm_up(self, cancelled: Callable[[], bool]) -> Iterator[str]:
        """Load the embedding model, open the store and get the engine ready, saying what it does."""
        services = self.services
        # which engine answers and why: probing a vLLM environment runs a subprocess (~1 s), so it
        # is found here, off the GUI thread, for the settings dialog to show
        note = services.engines.choice()
        if services is self.services:
            self.engine_note = note
        if services.embedders.int8_to_prepare():  # new libraries index with the int8 copy: made once (~10 s)
            yield "Preparing the fast embedder for this CPU (once)…"
            services.embedders.prepare_int8()
        embedder = services.library().embedder  # int8 or float, as the library holds (or will)
        embedder.embed(["warm up"])
        if embedder is not services.embedder:  # answers match sentences to passages with the float model
            services.embedder.embed(["warm up"])
        if embedder.query_encoder_to_make():
            yield "Preparing the question encoder…"  # made once, in seconds: questions embed faster
        embedder.prepare_query_encoder()
        services.library().retriever  # opens the store: Chroma loads a large index for seconds
        from app.chat import answer_mode

        if answer_mode(services.settings) == "quote":  # no engine: it starts when an answer is to be written
            yield f"Ready · {self.engine_status()}"
            return
        engine = services.engines.engine()
        for step in engine.load_steps():  # loading the model, starting or reaching the server
            if cancelled():
                return
            yield f"Answer engine: {step}"
        yield f"Ready · {self.engine_status()}"

    def engine_idle(self) -> bool:
        """The answer engine runs and has not written for llm.idle_stop_minutes."""
        return self.services.engines.idle()

    def stop_engine(self) -> bool:
        """Stops the answer engine, giving its memory back; True when one ran."""
        return self.services.engines.stop()

    def engine_status(self) -> str:
        """Which engine and model will answer, and whether it runs now (for the status bar)."""
        from app.chat import answer_mode

        services = self.services
        settings = services.settings
        if answer_mode(settings) == "quote":
            if settings.retrieval.answer_mode == "quote":
                return "answers quote your passages (set in Settings) · no engine running"
            return "answers quote your passages: the bundled model cannot write (Settings → Models) · no engine running"
        engine = services.engines.running
        if engine is not None:
            return f"{getattr(engine, 'name', '')} · {getattr(engine, 'model', '')} · running"
        name = (self.engine_note or "").split(":", 1)[0] or settings.llm.engine
        model = settings.llm.model
        model = "bundled model" if model == "bundled" else Path(model).name
        return f"{name} · {model} · starts with the next answer"

    def close(self) -> None:
        self.index_queue.clear()
        self.stop_watch()
        self.services.close()


def history_of(answers: list[Answer]) -> list:
    """Earlier answers → the Turns a follow-up is read with (answers saved before follow-ups
    existed give their question alone)."""
    from retrieval.followup import Turn

    return [Turn(a.question, list(a.retrieved), "" if a.refused else a.text) for a in answers]
