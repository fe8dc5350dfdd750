"""Query → ranked passages. Dense retrieval over the library's Chroma collection."""

from __future__ import annotations

from dataclasses import dataclass

from indexing.embedder import Embedder
from indexing.store import ChunkStore
from retrieval.models import Passage


@dataclass
class SearchSettings:
    top_k: int = 5  # passages given to the LLM
    candidates: int = 20  # passages fetched before fusion / dedup


class Retriever:
    def __init__(self, store: ChunkStore, embedder: Embedder, settings: SearchSettings | None = None):
        self.store = store
        self.embedder = embedder
        self.settings = settings or SearchSettings()

    def search(self, query: str, k: int | None = None) -> list[Passage]:
        k = k or self.settings.top_k
        vector = self.embedder.embed_query(query)
        hits = self.store.query(vector, max(k, self.settings.candidates))
        passages = [Passage(chunk=h.chunk, score=h.score, dense=h.score) for h in hits]
        return dedupe(passages)[:k]


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
