"""Parsers run in worker processes: a hang, a memory hog or a crash costs one file, not the job."""

from __future__ import annotations

import time

import pytest

from indexing.chunking import ChunkingConfig
from indexing.embedder import bundled_embedding_dir
from indexing.models import DocumentError
from indexing.parse_pool import ParseLimits, ParsePool
from tests.indexing.bad_parsers import misbehave, misbehave_reading


@pytest.fixture
def pool():
    p = ParsePool(bundled_embedding_dir(), ChunkingConfig(), ParseLimits(workers=1, timeout_s=4, memory_mb=1024), target=misbehave)
    yield p
    p.close()


def _outcome(pool, path):
    try:
        return pool.result(pool.submit(str(path), "h" * 64))
    except DocumentError as exc:
        return exc


def test_bad_parsers_are_stopped_and_the_next_file_still_parses(pool, tmp_path):
    files = {}
    for name in ("hang", "hog", "crash", "good"):
        files[name] = tmp_path / f"{name}.txt"
        files[name].write_text(f"The {name} file talks about lighthouses and their keepers.\n", encoding="utf-8")
    t0 = time.monotonic()
    futures = {name: pool.submit(str(p), "h" * 64) for name, p in files.items()}
    outcomes = {}
    for name, future in futures.items():
        try:
            outcomes[name] = pool.result(future)
        except DocumentError as exc:
            outcomes[name] = exc
    assert time.monotonic() - t0 < 60
    assert outcomes["hang"].code == "timeout" and "too long" in outcomes["hang"].reason
    assert outcomes["hog"].code == "too-large" and "memory" in outcomes["hog"].reason
    assert outcomes["crash"].code == "crashed" and "SIGSEGV" in outcomes["crash"].reason
    good = outcomes["good"]
    assert not isinstance(good, DocumentError)
    assert "lighthouses" in good.chunks[0].text and good.chunks[0].content_hash == "h" * 64
    # the pool replaced its dead workers and goes on
    assert "lighthouses" in _outcome(pool, files["good"]).chunks[0].text


def test_the_viewer_reads_a_document_under_the_same_limits(tmp_path):
    """Clicking a citation read the file in the app's own process, without the workers' limits: a
    file a worker would have stopped could freeze or crash the app."""
    reader = ParsePool(None, None, ParseLimits(workers=1, timeout_s=4, memory_mb=1024), reader=misbehave_reading)
    try:
        for name in ("hang", "hog", "crash", "good"):
            (tmp_path / f"{name}.txt").write_text(f"The {name} file talks about lighthouses.\n", encoding="utf-8")
        with pytest.raises(DocumentError, match="too long"):
            reader.read(str(tmp_path / "hang.txt"), 1)
        with pytest.raises(DocumentError, match="memory"):
            reader.read(str(tmp_path / "hog.txt"), 1)
        with pytest.raises(DocumentError, match="crashed"):
            reader.read(str(tmp_path / "crash.txt"), 1)
        assert reader.read(str(tmp_path / "good.txt"), 1) == "The good file talks about lighthouses."
        assert reader.read(str(tmp_path / "good.txt"), 7) is None  # no such page
    finally:
        reader.close()
