"""Hybrid search reads the chunks of lexical-only hits lazily: the result must not change."""

from __future__ import annotations

import pytest

from retrieval.search import Retriever, SearchSettings
from tests import docs

QUESTIONS = [
    "When does the ferry to Bainbridge Island leave?",
    "How much does the museum night tour cost?",
    "sourdough cold fermentation",
    "Who keeps the lighthouse?",
    "ferry museum sourdough tour island",  # many lexical hits, few of them dense
]


@pytest.fixture
def big_library(library, tmp_path):
    folder = tmp_path / "docs"
    folder.mkdir()
    docs.make_pdf(folder / "facts.pdf", docs.fact_pages())
    for i in range(12):  # lexical hits the dense list does not have
        (folder / f"note{i}.txt").write_text(
            f"Note {i}. The ferry, the museum and the island are mentioned here in passing, "
            f"next to a recipe for sourdough and a tour of the harbour number {i}.\n",
            encoding="utf-8",
        )
    *_, done = library.add([str(folder)])
    assert done.phase == "done"
    return library


@pytest.mark.parametrize("k", [1, 3, 5])
def test_lazy_reads_of_lexical_hits_give_the_same_passages(big_library, k):
    base = big_library.retriever
    reads: list[int] = []
    store = base.store

    class Counting:
        def __getattr__(self, name):
            return getattr(store, name)

        def get_with_vectors(self, ids):
            reads.append(len(ids))
            return store.get_with_vectors(ids)

    def retriever(prefetch):
        return Retriever(Counting(), base.embedder, SearchSettings(top_k=k, candidates=30, lexical_prefetch=prefetch), base.lexical)

    for question in QUESTIONS:
        everything = retriever(30).search(question)
        for prefetch in (0, 1, None):
            lazy = retriever(prefetch).search(question)
            assert [(p.chunk.id, round(p.score, 9), round(p.dense, 6), p.lexical) for p in lazy] == [
                (p.chunk.id, round(p.score, 9), round(p.dense, 6), p.lexical) for p in everything
            ], (question, prefetch)
    # by default a question reads at most 2k + 2 lexical hits beside the dense search
    reads.clear()
    retriever(None).search(QUESTIONS[-1])
    assert reads and reads[0] <= 2 * k + 2


def test_inflected_question_words_reach_the_lexical_index(library, tmp_path):
    """FTS5 stems with Porter itself: the question's words must reach it as written. Cut first by
    another stemmer ("running" → "runn", "stopped" → "stopp"), they matched nothing."""
    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "ferry.txt").write_text(
        "The Kestrel ferry stopped running in 1998, after the harbour planning board closed the pier.\n", encoding="utf-8"
    )
    for i in range(6):
        (folder / f"other{i}.txt").write_text(f"A note about orchards and apples, number {i}.\n", encoding="utf-8")
    *_, done = library.add([str(folder)])
    assert done.phase == "done"
    searched: list[list[str]] = []

    def lexical(terms, k, paths=None):
        searched.append(list(terms))
        return library.retriever.lexical(terms, k, paths)

    base = library.retriever
    retriever = Retriever(base.store, base.embedder, SearchSettings(top_k=3), lexical)
    passages = retriever.search("When was it stopped running, and what planning was done?")
    top = [p for p in passages if p.chunk.path.endswith("ferry.txt")]
    assert top and top[0].lexical and top[0].lexical > 0, "the ferry passage was not found by its inflected words"
    assert searched[0][:3] == ["stopped", "running", "planning"]
