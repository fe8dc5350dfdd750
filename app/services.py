"""Composition root: the parts a session uses, built from the settings, each by the collaborator
whose job it is, and closed together.

- `embedders` (app/embedders.py): the embedding models and the int8 policy, the chunkers;
- `libraries` (app/libraries.py): the libraries of the data dir or the Chroma server;
- `engines` (app/engines/keeper.py): the answer engine, made on first use, stopped when idle;
- `conversations` (app/conversations.py): the saved conversations.

The use cases take what they need from here: `library()` (app/library.py: indexing, removal,
watching, search) and `chat()` (app/chat.py: asking)."""

from __future__ import annotations

import threading

from app.embedders import Embedders
from app.engines.keeper import EngineKeeper
from app.libraries import Libraries
from app.library import Library
from app.settings import Settings
from indexing.embedder import Embedder


class Services:
    """`embedder` / `engine` may be passed in to share loaded models (tests, a rebuilt session)."""

    def __init__(self, settings: Settings, *, embedder: Embedder | None = None, engine=None):
        self.settings = settings
        self.data_dir = settings.data_dir
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.embedders = Embedders(settings, embedder=embedder)
        self.libraries = Libraries(settings, self.embedders)
        self.engines = EngineKeeper(settings, engine)
        self._conversations = None
        self._lock = threading.RLock()

    @property
    def embedder(self) -> Embedder:
        """The configured embedding model (answers match their sentences to passages with it)."""
        return self.embedders.embedder

    def library(self, name: str | None = None) -> Library:
        """The library `name`, default the current one (settings.library)."""
        return self.libraries.get(name)

    @property
    def conversations(self):
        from app.conversations import ConversationStore

        with self._lock:
            if self._conversations is None:
                self._conversations = ConversationStore(self.data_dir / "conversations.sqlite")
            return self._conversations

    def chat(self, library: str | None = None):
        """Asking the library: Chat.ask yields the answer's events."""
        from app.chat import Chat

        lib = self.library(library)
        return Chat(lib.retriever, self.engines.engine, self.embedder.embed, self.settings, chunks_of=lib.chunks_of,
                    unfinished=lib.unfinished)

    def summarize(self, path, *, cancel=None, mode: str | None = None):
        """The current library's document summarised (Library.summarize): written map-reduce by the
        answer engine when answers are written (`mode` or the settings' answer mode), else extractive."""
        from app.chat import answer_mode

        library = self.library()
        if (mode or answer_mode(self.settings)) == "generate":
            return library.summarize(path, cancel=cancel, engine=self.engines.engine(), llm=self.settings.llm,
                                     embed=self.embedder.embed)
        return library.summarize(path, cancel=cancel)

    def close(self) -> None:
        with self._lock:
            self.engines.close()
            self.libraries.close()
            if self._conversations is not None:
                self._conversations.close()
                self._conversations = None


def build_services(settings: Settings, **shared) -> Services:
    return Services(settings, **shared)


__all__ = ["Services", "Library", "build_services"]
