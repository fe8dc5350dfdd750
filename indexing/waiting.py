"""Chunks whose text is searchable but whose vectors are not written yet (the second stage).

A parsed file is committed at once: its manifest record, its lexical rows, and its chunks here,
in one transaction of the manifest's database, so a question finds it by its words seconds after
it was read. The embedder takes chunks from here in the order they came, writes their vectors to
the store, and deletes them here; a run killed in between leaves them here, and the next run
embeds them without parsing the file again. Until then the retriever reads a waiting chunk from
here (its text, its citation) and embeds it on the spot for the scores that need its vector.
"""

from __future__ import annotations

import json
import sqlite3
from typing import Iterable, Sequence

from indexing.models import Chunk
from indexing.store import chunk_from_record, chunk_metadata

SCHEMA = """
CREATE TABLE IF NOT EXISTS waiting (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    chunk_id TEXT UNIQUE NOT NULL,
    path TEXT NOT NULL,
    text TEXT NOT NULL,
    meta TEXT NOT NULL,
    start INTEGER NOT NULL,
    end INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS waiting_path ON waiting(path);
"""


def _chunk(row) -> Chunk:
    return chunk_from_record(row[0], row[1], json.loads(row[2]), row[3], row[4])


class Waiting:
    """The queue of chunks without vectors. Writes take the caller's connection/transaction."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db
        db.executescript(SCHEMA)

    def add(self, chunks: Sequence[Chunk], db: sqlite3.Connection | None = None) -> None:
        db = db or self.db
        db.executemany(
            "INSERT OR REPLACE INTO waiting (chunk_id, path, text, meta, start, end) VALUES (?, ?, ?, ?, ?, ?)",
            ((c.id, c.path, c.text, json.dumps(chunk_metadata(c)), c.start, c.end) for c in chunks),
        )

    def delete(self, ids: Iterable[str], db: sqlite3.Connection | None = None) -> None:
        (db or self.db).executemany("DELETE FROM waiting WHERE chunk_id = ?", ((i,) for i in ids))

    def next(self, limit: int) -> list[Chunk]:
        """The oldest `limit` waiting chunks (files in the order they were read)."""
        rows = self.db.execute(
            "SELECT chunk_id, text, meta, start, end FROM waiting ORDER BY seq LIMIT ?", (limit,)
        ).fetchall()
        return [_chunk(r) for r in rows]

    def get(self, ids: Sequence[str]) -> list[Chunk]:
        out: list[Chunk] = []
        ids = list(ids)
        for i in range(0, len(ids), 500):
            part = ids[i : i + 500]
            rows = self.db.execute(
                f"SELECT chunk_id, text, meta, start, end FROM waiting WHERE chunk_id IN ({','.join('?' * len(part))})",
                part,
            ).fetchall()
            out.extend(_chunk(r) for r in rows)
        return out

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM waiting").fetchone()[0]

    def files(self) -> dict[str, int]:
        """path → chunks still waiting for their vectors."""
        return dict(self.db.execute("SELECT path, COUNT(*) FROM waiting GROUP BY path").fetchall())

    def ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT chunk_id FROM waiting")}
