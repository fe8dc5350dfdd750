"""Query → ranked passages: dense (Chroma) and lexical (BM25) lists fused, then cleaned up.

Reciprocal rank fusion with weights fitted on COVID-QA and SQuAD (bench/retrieval.py): a
question quoting rare words (a drug, a name, a code) is found by BM25 even where the small
embedder misses it, and a paraphrased question by the embedder. Every returned passage
carries its dense cosine (computed for lexical-only hits too) and its BM25 score, which the
abstention model reads.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from indexing.embedder import Embedder
from indexing.store import ChunkStore
from retrieval.attribution import content_words
from retrieval.models import Passage

LexicalSearch = Callable[[Sequence[str], int], list[tuple[str, float]]]


@dataclass
class SearchSettings:
    top_k: int = 5  # passages returned
    candidates: int = 30  # taken from each list before fusion
    rrf_k: float = 60.0
    dense_weight: float = 1.0
    lexical_weight: float = 1.0


class Retriever:
    def __init__(
        self,
        store: ChunkStore,
        embedder: Embedder,
        settings: SearchSettings | None = None,
        lexical: LexicalSearch | None = None,
    ):
        self.store = store
        self.embedder = embedder
        self.settings = settings or SearchSettings()
        self.lexical = lexical

    def search(self, query: str, k: int | None = None) -> list[Passage]:
        k = k or self.settings.top_k
        s = self.settings
        n = max(k, s.candidates)
        # the lexical list needs no vector: it runs beside the question's embedding and the dense
        # search (SQLite, torch and Chroma all release the GIL), which halves the latency of a
        # large library on two cores (bench/query.py)
        lexical = _Beside(self._lexical, query, n) if self.lexical is not None else None
        vector = self.embedder.embed_query(query)
        dense_hits = self.store.query(vector, n)
        by_id: dict[str, Passage] = {h.chunk.id: Passage(chunk=h.chunk, score=0.0, dense=h.score) for h in dense_hits}
        dense_rank = {h.chunk.id: r for r, h in enumerate(dense_hits)}
        lexical_rank: dict[str, int] = {}
        if lexical is not None:
            lexical_hits, fetched = lexical.result()
            for cid, _ in lexical_hits:
                if cid not in by_id and cid in fetched:
                    chunk, v = fetched[cid]
                    by_id[cid] = Passage(chunk=chunk, score=0.0, dense=float(np.dot(v, vector)))
            for r, (cid, score) in enumerate(lexical_hits):
                if cid in by_id:
                    by_id[cid].lexical = score
                    lexical_rank[cid] = r
        for cid, p in by_id.items():
            score = 0.0
            if cid in dense_rank:
                score += s.dense_weight / (s.rrf_k + dense_rank[cid] + 1)
            if cid in lexical_rank:
                score += s.lexical_weight / (s.rrf_k + lexical_rank[cid] + 1)
            p.score = score
        ranked = sorted(by_id.values(), key=lambda p: -p.score)
        return dedupe(ranked)[:k]

    def _lexical(self, query: str, n: int):
        """BM25 hits, and the chunks and stored vectors of them all (one read: which of them the
        dense list lacks is not known yet, and reading a few more costs less than waiting)."""
        terms = sorted(content_words(query)) or query.split()
        hits = self.lexical(terms, n)
        fetched = {chunk.id: (chunk, v) for chunk, v in self.store.get_with_vectors([cid for cid, _ in hits])}
        return hits, fetched


class _Beside:
    """Runs `fn(*args)` in a thread of its own while the caller goes on; `result()` joins it."""

    def __init__(self, fn, *args):
        self._out: tuple = ()
        self._thread = threading.Thread(target=self._run, args=(fn, args), name="citewise-lexical", daemon=True)
        self._thread.start()

    def _run(self, fn, args) -> None:
        try:
            self._out = (fn(*args), None)
        except BaseException as exc:  # handed to the caller
            self._out = (None, exc)

    def result(self):
        self._thread.join()
        value, error = self._out
        if error is not None:
            raise error
        return value


def dedupe(passages: list[Passage]) -> list[Passage]:
    """Drop passages whose span lies inside a better-ranked passage of the same unit (overlaps)."""
    kept: list[Passage] = []
    for p in passages:
        c = p.chunk
        inside = any(
            k.chunk.path == c.path and k.chunk.unit == c.unit and k.chunk.start <= c.start and c.end <= k.chunk.end
            for k in kept
        )
        if not inside:
            kept.append(p)
    return kept
