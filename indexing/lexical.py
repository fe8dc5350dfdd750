"""The lexical (BM25) index: SQLite FTS5, in the same database as the manifest.

Why not bm25s or llama-index's BM25Retriever (built on it): they build an immutable sparse
matrix over the whole corpus, so every added or removed file means rebuilding and rewriting
the index, and a kill between the vector store, the manifest and that file leaves them out of
step. FTS5 ranks with BM25 too (Porter stemming, Unicode case/diacritic folding), is updated
row by row, and lives in the manifest's database: a file's lexical rows change in the very
transaction that switches the manifest to its new chunks, so the lexical index can never
disagree with the manifest, whatever moment a run is killed at.
"""

from __future__ import annotations

import sqlite3
from typing import Iterable, Sequence

from indexing.words import words

SCHEMA = """
CREATE TABLE IF NOT EXISTS chunk_text (
    rowid INTEGER PRIMARY KEY,
    chunk_id TEXT UNIQUE NOT NULL,
    path TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE VIRTUAL TABLE IF NOT EXISTS chunk_fts USING fts5(
    text, content='chunk_text', content_rowid='rowid', tokenize='porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER IF NOT EXISTS chunk_text_ai AFTER INSERT ON chunk_text BEGIN
    INSERT INTO chunk_fts(rowid, text) VALUES (new.rowid, new.text);
END;
CREATE TRIGGER IF NOT EXISTS chunk_text_ad AFTER DELETE ON chunk_text BEGIN
    INSERT INTO chunk_fts(chunk_fts, rowid, text) VALUES ('delete', old.rowid, old.text);
END;
"""

def fts_query(terms: Iterable[str]) -> str:
    """An FTS5 expression matching any of `terms` (each quoted: no operator can be injected)."""
    seen: list[str] = []
    for term in terms:
        for word in words(term):
            if word not in seen:
                seen.append(word)
    return " OR ".join('"' + w.replace('"', '""') + '"' for w in seen[:64])


class LexicalIndex:
    """BM25 search over chunk text. Writes take the caller's connection/transaction."""

    def __init__(self, db: sqlite3.Connection):
        self.db = db
        db.executescript(SCHEMA)

    def add(self, items: Sequence[tuple[str, str, str]], db: sqlite3.Connection | None = None) -> None:
        """items: (chunk_id, path, text)."""
        db = db or self.db
        self.delete([i for i, _, _ in items], db)
        db.executemany("INSERT INTO chunk_text (chunk_id, path, text) VALUES (?, ?, ?)", items)

    def delete(self, ids: Iterable[str], db: sqlite3.Connection | None = None) -> None:
        (db or self.db).executemany("DELETE FROM chunk_text WHERE chunk_id = ?", ((i,) for i in ids))

    def count(self) -> int:
        return self.db.execute("SELECT COUNT(*) FROM chunk_text").fetchone()[0]

    def ids(self) -> set[str]:
        return {r[0] for r in self.db.execute("SELECT chunk_id FROM chunk_text")}

    def frequency(self, words: Iterable[str]) -> dict[str, int]:
        """word → how many chunks hold it (stemmed and folded as the index is)."""
        out = {}
        for word in words:
            expression = fts_query([word])
            out[word] = self.db.execute("SELECT COUNT(*) FROM chunk_fts WHERE chunk_fts MATCH ?", (expression,)).fetchone()[0] if expression else 0
        return out

    def search(self, terms: Iterable[str], k: int, paths: Sequence[str] | None = None) -> list[tuple[str, float]]:
        """`(chunk_id, score)` best first; score is BM25, higher is better. With `paths`, only
        chunks of those files."""
        expression = fts_query(terms)
        if not expression or k <= 0:
            return []
        if paths is not None:
            paths = list(paths)  # SQLite takes up to 32,766 values; a scope is capped below that (app.library)
            marks = ",".join("?" * len(paths))
            rows = self.db.execute(
                "SELECT c.chunk_id, bm25(chunk_fts) AS s FROM chunk_fts JOIN chunk_text c ON c.rowid = chunk_fts.rowid "
                f"WHERE chunk_fts MATCH ? AND c.path IN ({marks}) ORDER BY s LIMIT ?",
                (expression, *paths, k),
            ).fetchall()
            return [(chunk_id, -score) for chunk_id, score in rows]
        # BM25 and LIMIT first, then the chunk ids of the k best only: joining first looked up
        # the id of every matching row, tens of thousands in a large library (bench/query.py)
        rows = self.db.execute(
            "SELECT c.chunk_id, f.s FROM (SELECT rowid, bm25(chunk_fts) AS s FROM chunk_fts WHERE chunk_fts MATCH ? "
            "ORDER BY s LIMIT ?) AS f JOIN chunk_text c ON c.rowid = f.rowid ORDER BY f.s",
            (expression, k),
        ).fetchall()
        return [(chunk_id, -score) for chunk_id, score in rows]
