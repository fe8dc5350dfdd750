"""Query → ranked passages: dense (Chroma) and lexical (BM25) lists fused, then cleaned up.

Reciprocal rank fusion with weights fitted on COVID-QA and SQuAD (bench/retrieval.py): a
question quoting rare words (a drug, a name, a code) is found by BM25 even where the small
embedder misses it, and a paraphrased question by the embedder. Every returned passage
carries its dense cosine (computed for lexical-only hits too) and its BM25 score, which the
abstention model reads.

When the question names what some documents are and others are not (a company, a year, a
quarter, "the latest": retrieval/focus.py), both lists are also searched within the matching
documents, and their passages get a bonus that ranks them above the others' — a soft
preference: with too few of them, the rest still fill the list.

A follow-up question comes with its conversation's context (retrieval/followup.py): the question
read with the earlier ones is searched too (a dense and a lexical list, weighted below the
question's own), and the previous answer's documents and neighbouring passages get a bonus.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from indexing.embedder import Embedder
from indexing.store import ChunkStore
from indexing.words import query_terms
from retrieval.focus import preferences
from retrieval.followup import Context
from retrieval.models import Passage

LexicalSearch = Callable[..., list[tuple[str, float]]]  # (terms, k[, paths]) → [(chunk id, BM25)]


@dataclass
class SearchSettings:
    top_k: int = 5  # passages returned
    candidates: int = 30  # taken from each list before fusion
    rrf_k: float = 60.0
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    # lexical hits whose chunks and vectors are read beside the dense search (None: 2k + 2); the
    # rest are read only if the fusion ranks one of them high enough to be returned (rare: a
    # lexical-only hit at rank r is outranked by the r lexical hits above it)
    lexical_prefetch: int | None = None
    # added to the fused score of a passage from a document that matches what the question
    # names, times how well it matches: 2/(rrf_k+1) outranks any passage of the others
    focus_bonus: float = 2.0 / 61.0


class Retriever:
    def __init__(
        self,
        store: ChunkStore,
        embedder: Embedder,
        settings: SearchSettings | None = None,
        lexical: LexicalSearch | None = None,
        documents: Callable[[], dict[str, str]] | None = None,
        frequency: Callable[[Sequence[str]], dict[str, int]] | None = None,
        size: Callable[[], int] | None = None,
    ):
        self.store = store
        self.embedder = embedder
        self.settings = settings or SearchSettings()
        self.lexical = lexical
        self.documents = documents  # path → identity of every indexed document
        self._frequency = frequency  # word → chunks holding it (the lexical index)
        self._size = size  # chunks in the library
        self.last_preferences: dict[str, float] = {}
        self.last_topic: str | None = None  # the question less what picked the documents, if any did

    def search(
        self, query: str, k: int | None = None, *, context: Context | None = None, within: Sequence[str] | None = None
    ) -> list[Passage]:
        """The k best passages. `within`: only these files (a scope the user chose), searched in
        the stores themselves (Chroma's `where`, FTS5's path filter), not filtered after top-k."""
        k = k or self.settings.top_k
        where = {"file_path": {"$in": list(within)}} if within is not None else None
        s = self.settings
        n = max(k, s.candidates)
        prefetch = s.lexical_prefetch if s.lexical_prefetch is not None else 2 * k + 2
        # the lexical list needs no vector: it runs beside the question's embedding and the dense
        # search (SQLite, ONNX Runtime/torch and Chroma all release the GIL), which halves the
        # latency of a large library on two cores (bench/query.py)
        documents = self.documents() if self.documents is not None else None
        if documents is not None and within is not None:
            allowed = set(within)
            documents = {path: identity for path, identity in documents.items() if path in allowed}
        prefs, inside = preferences(query, documents) if documents is not None else ({}, query)
        self.last_preferences = prefs
        self.last_topic = inside if prefs else None
        # the best-matching documents are also searched on their own (a few: a filter per query),
        # for the question's topic: within Apple's filing, "Apple" and "10-Q" tell nothing
        preferred = sorted(p for p, v in prefs.items() if v >= 1.0)[:200] if prefs else None
        lexical = _Beside(self._lexical, query, n, prefetch, preferred, inside, within) if self.lexical is not None else None
        expanded = f"{context.text} {query}" if context is not None and context.text else None
        lexical_more = (_Beside(self._lexical, expanded, n, prefetch, None, "", within)
                        if expanded and self.lexical is not None else None)
        vector = self.embedder.embed_query(query)
        dense_hits = self.store.query(vector, n, where=where)
        dense_rank = {h.chunk.id: r for r, h in enumerate(dense_hits)}
        more_rank: dict[str, int] = {}  # the question read with the earlier ones (a follow-up)
        if expanded:
            more = self.store.query(self.embedder.embed_query(expanded), n, where=where)
            more_rank = {h.chunk.id: r for r, h in enumerate(more)}
            seen = {h.chunk.id for h in dense_hits}
            dense_hits = dense_hits + [h for h in more if h.chunk.id not in seen]
        if preferred:
            # the matching documents' own best passages, ranked among themselves
            topic_vector = self.embedder.embed_query(inside) if inside != query else vector
            own = self.store.query(topic_vector, n, where={"file_path": {"$in": preferred}})
            for r, h in enumerate(own):
                dense_rank[h.chunk.id] = min(r, dense_rank.get(h.chunk.id, r))
            seen = {h.chunk.id for h in dense_hits}
            dense_hits = dense_hits + [h for h in own if h.chunk.id not in seen]
        by_id: dict[str, Passage] = {h.chunk.id: Passage(chunk=h.chunk, score=0.0, dense=h.score) for h in dense_hits}
        lexical_hits: list[tuple[str, float]] = []
        fetched: dict = {}
        if lexical is not None:
            lexical_hits, fetched = lexical.result()
        lexical_rank = {cid: r for r, (cid, _) in enumerate(lexical_hits)}
        lexical_more_rank: dict[str, int] = {}
        if lexical_more is not None:
            more_hits, more_fetched = lexical_more.result()
            lexical_more_rank = {cid: r for r, (cid, _) in enumerate(more_hits)}
            fetched = more_fetched | fetched
            lexical_hits = lexical_hits + [h for h in more_hits if h[0] not in lexical_rank]
        chunk_of = {cid: p.chunk for cid, p in by_id.items()}
        chunk_of.update({cid: chunk for cid, (chunk, _) in fetched.items()})
        lean = 1.0  # how much the conversation counts for this question
        if context is not None and context.own_words and dense_rank and lexical_rank:
            # a question that says enough on its own, whose own dense and lexical lists agree on a
            # passage of another document than the previous answer's, has changed the topic
            top = next(iter(dense_rank))
            if lexical_rank.get(top) == 0 and chunk_of.get(top) is not None and chunk_of[top].path not in context.documents:
                lean = context.new_topic
        w = context.weight * lean if context is not None else 0.0

        def fused(cid: str) -> float:
            score = 0.0
            if cid in dense_rank:
                score += s.dense_weight / (s.rrf_k + dense_rank[cid] + 1)
            if cid in lexical_rank:
                score += s.lexical_weight / (s.rrf_k + lexical_rank[cid] + 1)
            if cid in more_rank:
                score += w * s.dense_weight / (s.rrf_k + more_rank[cid] + 1)
            if cid in lexical_more_rank:
                score += w * s.lexical_weight / (s.rrf_k + lexical_more_rank[cid] + 1)
            chunk = chunk_of.get(cid)
            if prefs and chunk is not None:
                score += s.focus_bonus * prefs.get(chunk.path, 0.0)
            if context is not None and chunk is not None:
                score += lean * context.document_bonus * context.documents.get(chunk.path, 0.0)
                if any(abs(chunk.index - i) <= context.span for i in context.near.get(chunk.path, ())):
                    score += lean * context.near_bonus
            return score

        # dense hits in their order, then lexical-only ones in theirs; a stable sort by score
        order = [*dense_rank, *(c for c in more_rank if c not in dense_rank),
                 *(c for c, _ in lexical_hits if c not in dense_rank and c not in more_rank)]
        if prefs or (context is not None and context.documents):
            # a lexical-only hit's document decides its bonus: read them all first
            missing = [c for c in order if c not in chunk_of]
            fetched.update(self._read(missing))
            chunk_of.update({cid: chunk for cid, (chunk, _) in fetched.items()})
        order = sorted(order, key=lambda c: -fused(c))
        lexical_score = dict(lexical_hits)
        kept: list[Passage] = []
        for pos, cid in enumerate(order):
            if cid not in by_id and cid not in fetched:  # ranked high enough to matter: read it now
                rest = [c for c in order[pos:] if c not in by_id and c not in fetched]
                fetched.update(self._read(rest))
            if cid not in by_id:
                if cid not in fetched:  # removed from the library since the lexical search
                    continue
                chunk, v = fetched[cid]
                by_id[cid] = Passage(chunk=chunk, score=0.0, dense=float(np.dot(v, vector)))
            p = by_id[cid]
            p.score = fused(cid)
            p.focus = prefs.get(p.chunk.path, 0.0)
            p.lexical = lexical_score.get(cid, p.lexical)
            if not _inside(p, kept):
                kept.append(p)
                if len(kept) == k:
                    break
        return kept

    # what abstention reads of the library (retrieval.abstain.Library)
    def identity(self, path: str) -> str:
        return self.documents().get(path, "") if self.documents is not None else ""

    def frequency(self, words: Sequence[str]) -> dict[str, int]:
        # without a lexical index nothing is known to be absent
        return self._frequency(words) if self._frequency is not None else {w: 1 for w in words}

    def size(self) -> int:
        return self._size() if self._size is not None else 0

    def _read(self, ids: Sequence[str]) -> dict:
        return {chunk.id: (chunk, v) for chunk, v in self.store.get_with_vectors(list(ids))} if ids else {}

    def _lexical(self, query: str, n: int, prefetch: int, preferred: list[str] | None = None, inside: str = "",
                 within: Sequence[str] | None = None):
        """BM25 hits, and the chunks and stored vectors of the best `prefetch` of them (one read:
        which of them the dense list lacks is not known yet, and reading a few more costs less
        than waiting). With `preferred` documents, their own best hits are merged in by rank;
        with `within`, only those files are searched."""
        # the words as written: FTS5's porter tokenizer stems them itself
        terms = query_terms(query) or query.split()
        hits = self.lexical(terms, n, within) if within is not None else self.lexical(terms, n)
        if preferred:
            own = self.lexical(query_terms(inside) or terms, n, preferred)
            rank = {cid: r for r, (cid, _) in enumerate(hits)}
            for r, (cid, _) in enumerate(own):
                rank[cid] = min(r, rank.get(cid, r))
            score = dict(hits) | dict(own)
            hits = sorted(((cid, score[cid]) for cid in rank), key=lambda h: rank[h[0]])
        return hits, self._read([cid for cid, _ in hits[:prefetch]])


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


def _inside(p: Passage, kept: list[Passage]) -> bool:
    c = p.chunk
    return any(
        k.chunk.path == c.path and k.chunk.unit == c.unit and k.chunk.start <= c.start and c.end <= k.chunk.end
        for k in kept
    )

