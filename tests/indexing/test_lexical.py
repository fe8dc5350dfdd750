"""The BM25 index in SQLite FTS5: stemmed, accent-folded, injection-proof, in step with the manifest."""

from __future__ import annotations

import sqlite3

from indexing.lexical import LexicalIndex, fts_query


def _index():
    return LexicalIndex(sqlite3.connect(":memory:"))


def test_ranks_by_bm25_with_stemming_and_folding():
    lex = _index()
    lex.add([
        ("a", "/x.txt", "The ferries leave Pier 52 every morning."),
        ("b", "/y.txt", "Café opening hours are posted on the door."),
        ("c", "/z.txt", "Nothing relevant here at all."),
    ])
    assert [i for i, _ in lex.search(["ferry", "leaving"], 5)] == ["a"]  # stems match
    assert [i for i, _ in lex.search(["cafe"], 5)] == ["b"]  # diacritics folded
    hits = lex.search(["pier", "hours"], 5)
    assert {i for i, _ in hits} == {"a", "b"} and all(score > 0 for _, score in hits)


def test_replace_and_delete_keep_one_row_per_chunk():
    lex = _index()
    lex.add([("a", "/x.txt", "old words about tides")])
    lex.add([("a", "/x.txt", "new words about boats")])
    assert lex.count() == 1 and lex.search(["tides"], 5) == [] and lex.search(["boats"], 5)
    lex.delete(["a"])
    assert lex.count() == 0 and lex.search(["boats"], 5) == []


def test_query_syntax_cannot_be_injected():
    lex = _index()
    lex.add([("a", "/x.txt", "NEAR the column OR text")])
    for nasty in ['"', "NEAR(", "text:*", "a OR", "col:value", "*", ")"]:
        lex.search([nasty], 5)  # no sqlite3.OperationalError
    assert fts_query(['say "hi"', "NEAR"]) == '"say" OR "hi" OR "near"'
