"""What a library's index holds, part by part, in a form two indexes can be compared in.

Each part is a function (library) -> dict: the manifest, the dense vectors in Chroma and the
lexical (BM25) rows. Every resume/consistency test compares all of them.
"""

from __future__ import annotations

from collections import Counter


def manifest_part(library) -> dict:
    return {
        rec.path: {"status": rec.status, "hash": rec.content_hash, "chunk_ids": tuple(rec.chunk_ids), "error": rec.error}
        for rec in library.manifest.files()
    }


def dense_part(library) -> dict:
    got = library.store.collection.get(include=["metadatas", "documents"])
    ids = got["ids"]
    # one record per (file, chunk index): a duplicate under another id would show here
    places = Counter((m.get("file_path"), m.get("chunk_index")) for m in got["metadatas"])
    return {
        "ids": sorted(ids),
        "count": library.store.count(),
        "duplicated_places": sorted(k for k, n in places.items() if n > 1),
        "documents": dict(sorted(zip(ids, got["documents"]))),
    }


def lexical_part(library) -> dict:
    rows = library.manifest.db.execute("SELECT chunk_id, path, text FROM chunk_text ORDER BY chunk_id").fetchall()
    return {"rows": [tuple(r) for r in rows], "count": library.manifest.lexical.count()}


PARTS = {"manifest": manifest_part, "dense": dense_part, "lexical": lexical_part}


def snapshot(library) -> dict:
    return {name: part(library) for name, part in PARTS.items()}


def assert_consistent(library) -> None:
    """The index parts agree with the manifest: no orphans, nothing missing, nothing pending or
    waiting for its vector."""
    check = library.indexer.check()
    assert check["orphans"] == 0 and check["missing"] == 0 and check["pending"] == 0, check
    assert check["waiting"] == 0, check  # a finished run leaves no chunk without its vector
    state = snapshot(library)
    listed = sorted(i for f in state["manifest"].values() for i in f["chunk_ids"])
    assert state["dense"]["ids"] == listed
    assert state["dense"]["count"] == len(listed)
    assert state["dense"]["duplicated_places"] == []
    assert [r[0] for r in state["lexical"]["rows"]] == listed and check["lexical_mismatch"] == 0
