"""Conversations, kept in SQLite in the data dir: list, reopen, rename, delete.

A turn stores the question and the answer in its serialised form (`Answer.to_dict()`), so a
conversation reopened later shows and exports exactly what was answered then, with the same
citations, even if the library changed since.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from retrieval.models import Answer

SCHEMA = """
CREATE TABLE IF NOT EXISTS conversations (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    title TEXT NOT NULL,
    library TEXT,
    created REAL NOT NULL,
    updated REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS turns (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    conversation INTEGER NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    answer TEXT NOT NULL,
    created REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS turns_by_conversation ON turns(conversation, id);
"""


@dataclass
class Conversation:
    id: int
    title: str
    library: str | None
    created: float
    updated: float
    turns: int = 0


class ConversationStore:
    def __init__(self, path: Path):
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA foreign_keys=ON")
        self._db.executescript(SCHEMA)
        self._lock = threading.Lock()

    def close(self) -> None:
        self._db.close()

    def create(self, title: str, library: str | None = None) -> Conversation:
        now = time.time()
        with self._lock:
            cur = self._db.execute(
                "INSERT INTO conversations (title, library, created, updated) VALUES (?, ?, ?, ?)",
                (title.strip() or "New conversation", library, now, now),
            )
            return Conversation(cur.lastrowid, title, library, now, now)

    def add_turn(self, conversation_id: int, answer: Answer) -> None:
        """Keeps the answer in its serialised form (`Answer.to_dict()`)."""
        now = time.time()
        with self._lock:
            self._db.execute("BEGIN")
            self._db.execute(
                "INSERT INTO turns (conversation, answer, created) VALUES (?, ?, ?)",
                (conversation_id, json.dumps(answer.to_dict(), ensure_ascii=False), now),
            )
            self._db.execute("UPDATE conversations SET updated = ? WHERE id = ?", (now, conversation_id))
            self._db.execute("COMMIT")

    def list(self) -> list[Conversation]:
        with self._lock:
            rows = self._db.execute(
                "SELECT c.id, c.title, c.library, c.created, c.updated, COUNT(t.id) FROM conversations c "
                "LEFT JOIN turns t ON t.conversation = c.id GROUP BY c.id ORDER BY c.updated DESC"
            ).fetchall()
        return [Conversation(*r) for r in rows]

    def get(self, conversation_id: int) -> Conversation | None:
        return next((c for c in self.list() if c.id == conversation_id), None)

    def turns(self, conversation_id: int) -> list[Answer]:
        """Its answers, in order, as they were given (read back with `Answer.from_dict`)."""
        with self._lock:
            rows = self._db.execute(
                "SELECT answer FROM turns WHERE conversation = ? ORDER BY id", (conversation_id,)
            ).fetchall()
        return [Answer.from_dict(json.loads(r[0])) for r in rows]

    def rename(self, conversation_id: int, title: str) -> None:
        title = title.strip()
        if not title:
            raise ValueError("a conversation needs a title")
        with self._lock:
            self._db.execute("UPDATE conversations SET title = ? WHERE id = ?", (title, conversation_id))

    def delete(self, conversation_id: int) -> None:
        with self._lock:
            self._db.execute("DELETE FROM conversations WHERE id = ?", (conversation_id,))
