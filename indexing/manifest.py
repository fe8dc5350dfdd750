"""What is indexed: path → content hash, size, mtime, chunk ids, status. SQLite, crash-safe.

The manifest and the vector store are kept consistent by a write-ahead of chunk ids:
new chunk ids are recorded as pending *before* they are written to the store, and the file's
row is switched to them in one transaction *after*; ids that the switch made stale are
recorded as pending deletions before they are deleted. A run killed at any moment leaves
pending rows that the next run (under the library lock) settles first: uncommitted chunks
are deleted from the store, stale ones too. So the store never keeps an orphan, and a file's
chunks are never lost before its new chunks are in.
"""

from __future__ import annotations

import functools
import json
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Sequence

from indexing.lexical import LexicalIndex
from indexing.waiting import Waiting

SCHEMA = """
CREATE TABLE IF NOT EXISTS files (
    path TEXT PRIMARY KEY,
    content_hash TEXT NOT NULL,
    size INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    status TEXT NOT NULL,            -- indexed | failed
    kind TEXT,
    title TEXT,
    pages INTEGER NOT NULL DEFAULT 0,
    chunks INTEGER NOT NULL DEFAULT 0,
    chars INTEGER NOT NULL DEFAULT 0,
    error TEXT,                      -- why the last attempt failed (an older version may be kept)
    warnings TEXT NOT NULL DEFAULT '[]',
    chunk_ids TEXT NOT NULL DEFAULT '[]',
    indexed_at REAL NOT NULL,
    identity TEXT                    -- what the document says it is (ParsedDocument.identity)
);
CREATE TABLE IF NOT EXISTS pending (
    chunk_id TEXT PRIMARY KEY,
    path TEXT NOT NULL,
    op TEXT NOT NULL                 -- add: written or being written, not committed; delete: stale
);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT);
"""


@dataclass
class FileRecord:
    path: str
    content_hash: str
    size: int
    mtime_ns: int
    status: str
    kind: str | None = None
    title: str | None = None
    pages: int = 0
    chunks: int = 0
    chars: int = 0
    error: str | None = None
    warnings: list[str] = field(default_factory=list)
    chunk_ids: list[str] = field(default_factory=list)
    indexed_at: float = 0.0
    identity: str | None = None

    @property
    def indexed(self) -> bool:
        return self.status == "indexed"


_COLUMNS = (
    "path, content_hash, size, mtime_ns, status, kind, title, pages, chunks, chars, error, warnings, chunk_ids, "
    "indexed_at, identity"
)


def _row(row: sqlite3.Row) -> FileRecord:
    return FileRecord(
        path=row["path"],
        content_hash=row["content_hash"],
        size=row["size"],
        mtime_ns=row["mtime_ns"],
        status=row["status"],
        kind=row["kind"],
        title=row["title"],
        pages=row["pages"],
        chunks=row["chunks"],
        chars=row["chars"],
        error=row["error"],
        warnings=json.loads(row["warnings"] or "[]"),
        chunk_ids=json.loads(row["chunk_ids"] or "[]"),
        indexed_at=row["indexed_at"],
        identity=row["identity"],
    )


def _locked(method):
    """One connection is shared by the indexing thread and the UI: serialise its use."""

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        with self._lock:
            return method(self, *args, **kwargs)

    return wrapper


class Manifest:
    def __init__(self, path: Path):
        self._lock = threading.RLock()
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(self.path), timeout=30, isolation_level=None, check_same_thread=False)
        self.db.row_factory = sqlite3.Row
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(SCHEMA)
        if "identity" not in {r[1] for r in self.db.execute("PRAGMA table_info(files)")}:
            self.db.execute("ALTER TABLE files ADD COLUMN identity TEXT")  # manifests made before it
        self.lexical = LexicalIndex(self.db)
        self.waiting = Waiting(self.db)

    @_locked
    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self.db.execute("BEGIN IMMEDIATE")
            try:
                yield self.db
            except BaseException:
                self.db.execute("ROLLBACK")
                raise
            else:
                self.db.execute("COMMIT")

    # -- files -------------------------------------------------------------------------------

    @_locked
    def get(self, path: str) -> FileRecord | None:
        row = self.db.execute(f"SELECT {_COLUMNS} FROM files WHERE path = ?", (path,)).fetchone()
        return _row(row) if row else None

    @_locked
    def files(self, under: str | None = None) -> list[FileRecord]:
        if under:
            prefix = under.rstrip("/") + "/"
            rows = self.db.execute(
                f"SELECT {_COLUMNS} FROM files WHERE path = ? OR substr(path, 1, ?) = ? ORDER BY path",
                (under, len(prefix), prefix),
            )
        else:
            rows = self.db.execute(f"SELECT {_COLUMNS} FROM files ORDER BY path")
        return [_row(r) for r in rows]

    @_locked
    def put(self, record: FileRecord, db: sqlite3.Connection | None = None) -> None:
        (db or self.db).execute(
            f"INSERT OR REPLACE INTO files ({_COLUMNS}) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (
                record.path, record.content_hash, record.size, record.mtime_ns, record.status,
                record.kind, record.title, record.pages, record.chunks, record.chars, record.error,
                json.dumps(record.warnings), json.dumps(record.chunk_ids), record.indexed_at or time.time(),
                record.identity,
            ),
        )

    @_locked
    def touch(self, path: str, size: int, mtime_ns: int) -> None:
        self.db.execute("UPDATE files SET size = ?, mtime_ns = ? WHERE path = ?", (size, mtime_ns, path))

    @_locked
    def drop(self, path: str, db: sqlite3.Connection | None = None) -> None:
        (db or self.db).execute("DELETE FROM files WHERE path = ?", (path,))

    @_locked
    def stats(self) -> dict[str, int]:
        row = self.db.execute(
            "SELECT COUNT(*) AS files, COALESCE(SUM(status = 'indexed'), 0) AS indexed, "
            "COALESCE(SUM(status = 'failed'), 0) AS failed, COALESCE(SUM(chunks), 0) AS chunks, "
            "COALESCE(SUM(pages), 0) AS pages FROM files"
        ).fetchone()
        return dict(row)

    @_locked
    def all_chunk_ids(self) -> set[str]:
        ids: set[str] = set()
        for (blob,) in self.db.execute("SELECT chunk_ids FROM files"):
            ids.update(json.loads(blob or "[]"))
        return ids

    # -- pending (write-ahead of chunk ids) --------------------------------------------------

    @_locked
    def mark_pending(self, ids: Iterable[str], path: str, op: str, db: sqlite3.Connection | None = None) -> None:
        (db or self.db).executemany(
            "INSERT OR REPLACE INTO pending (chunk_id, path, op) VALUES (?, ?, ?)", ((i, path, op) for i in ids)
        )

    @_locked
    def clear_pending(self, ids: Iterable[str], db: sqlite3.Connection | None = None) -> None:
        (db or self.db).executemany("DELETE FROM pending WHERE chunk_id = ?", ((i,) for i in ids))

    @_locked
    def pending(self) -> list[tuple[str, str, str]]:
        return [tuple(r) for r in self.db.execute("SELECT chunk_id, path, op FROM pending")]

    # -- lexical index (same database: changed in the same transactions) ------------------------

    @_locked
    def lexical_search(self, terms: Sequence[str], k: int, paths: Sequence[str] | None = None) -> list[tuple[str, float]]:
        return self.lexical.search(terms, k, paths)

    @_locked
    def lexical_count(self) -> int:
        return self.lexical.count()

    @_locked
    def lexical_frequency(self, words: Sequence[str]) -> dict[str, int]:
        return self.lexical.frequency(words)

    # -- chunks waiting for their vectors (same database: changed in the same transactions) -----

    @_locked
    def waiting_chunks(self, ids: Sequence[str]) -> list:
        return self.waiting.get(ids)

    @_locked
    def next_waiting(self, limit: int) -> list:
        return self.waiting.next(limit)

    @_locked
    def waiting_count(self) -> int:
        return self.waiting.count()

    @_locked
    def waiting_files(self) -> dict[str, int]:
        return self.waiting.files()

    @_locked
    def waiting_ids(self) -> set[str]:
        return self.waiting.ids()

    @_locked
    def identities(self) -> dict[str, str]:
        """path → what each indexed document says it is (its file name at least)."""
        rows = self.db.execute("SELECT path, COALESCE(identity, title, '') FROM files WHERE status = 'indexed'")
        return {path: identity for path, identity in rows}

    @_locked
    def version(self) -> tuple:
        """Changes whenever a file is indexed, replaced or dropped (cheap: one aggregate)."""
        return tuple(self.db.execute("SELECT COUNT(*), COALESCE(MAX(indexed_at), 0), COALESCE(SUM(chunks), 0) FROM files"
                                     " WHERE status = 'indexed'").fetchone())

    @_locked
    def lexical_ids(self) -> set[str]:
        return self.lexical.ids()

    # -- meta --------------------------------------------------------------------------------

    @_locked
    def get_meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return row[0] if row else None

    @_locked
    def set_meta(self, key: str, value: str) -> None:
        self.db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES (?, ?)", (key, value))
