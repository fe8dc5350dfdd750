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

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
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


@dataclass
class _Ranks:
    """One search's ranked lists (chunk id → rank) and the passages read so far."""

    vector: object
    dense: dict[str, int]
    dense_more: dict[str, int] = field(default_factory=dict)  # the question read with the earlier ones
    lexical: dict[str, int] = field(default_factory=dict)
    lexical_more: dict[str, int] = field(default_factory=dict)
    lexical_hits: list[tuple[str, float]] = field(default_factory=list)
    by_id: dict[str, Passage] = field(default_factory=dict)
    fetched: dict = field(default_factory=dict)  # id → (chunk, vector) read from the stores
    chunk_of: dict = field(default_factory=dict)

    def add_lexical(self, own, more) -> None:
        """The lexical lists' results ((hits, fetched) each, or None)."""
        if own is not None:
            self.lexical_hits, fetched = own
            self.lexical = {cid: i for i, (cid, _) in enumerate(self.lexical_hits)}
            self.add_fetched(fetched)
        if more is not None:
            more_hits, more_fetched = more
            self.lexical_more = {cid: i for i, (cid, _) in enumerate(more_hits)}
            self.fetched = more_fetched | self.fetched
            self.chunk_of.update({cid: chunk for cid, (chunk, _) in more_fetched.items()})
            self.lexical_hits = self.lexical_hits + [h for h in more_hits if h[0] not in self.lexical]

    def add_fetched(self, fetched: dict) -> None:
        self.fetched.update(fetched)
        self.chunk_of.update({cid: chunk for cid, (chunk, _) in fetched.items()})


class Found(list):
    """A search's passages, best first (a list of Passage), with what it read of the question:
    `topic`, the question less the names and periods that picked documents (None when none
    did: "gross margin" of "Apple's gross margin in Q3 2023"), and `preferences`, each picked
    document's weight (path → 1.0 for a full match of what the question names)."""

    def __init__(self, passages=(), *, topic: str | None = None, preferences: dict[str, float] | None = None):
        super().__init__(passages)
        self.topic = topic
        self.preferences = preferences or {}


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
        waiting: Callable[[Sequence[str]], list] | None = None,
    ):
        self.store = store
        self.embedder = embedder
        self.settings = settings or SearchSettings()
        self.lexical = lexical
        self.documents = documents  # path → identity of every indexed document
        self._frequency = frequency  # word → chunks holding it (the lexical index)
        self._size = size  # chunks in the library
        self._waiting = waiting  # chunks whose vectors are not written yet (found by their words)

    def search(
        self, query: str, k: int | None = None, *, context: Context | None = None, within: Sequence[str] | None = None
    ) -> "Found":
        """The k best passages, with what the search read of the question (Found). `within`: only
        these files (a scope the user chose), searched in the stores themselves (Chroma's `where`,
        FTS5's path filter), not filtered after top-k.

        The lists fused by reciprocal rank: the question's dense and lexical hits, the same read
        with the conversation (a follow-up: `context`), and the best passages of the documents the
        question names (`preferences`), each with its weight and bonuses (`_score`)."""
        k = k or self.settings.top_k
        s = self.settings
        n = max(k, s.candidates)
        prefs, inside = self._preferences(query, within)
        # the best-matching documents are also searched on their own (a few: a filter per query),
        # for the question's topic: within Apple's filing, "Apple" and "10-Q" tell nothing
        preferred = sorted(p for p, v in prefs.items() if v >= 1.0)[:200] if prefs else None
        expanded = f"{context.text} {query}" if context is not None and context.text else None
        # the lexical lists need no vector: they run beside the question's embedding and the dense
        # search (SQLite, ONNX Runtime/torch and Chroma all release the GIL), which halves the
        # latency of a large library on two cores (bench/query.py)
        prefetch = s.lexical_prefetch if s.lexical_prefetch is not None else 2 * k + 2
        lexical = [None, None]
        if self.lexical is not None:
            lexical[0] = _BESIDE.submit(self._lexical, query, n, prefetch, preferred, inside, within)
            if expanded:
                lexical[1] = _BESIDE.submit(self._lexical, expanded, n, prefetch, None, "", within)
        r = self._dense(query, inside, expanded, preferred, n, within)
        r.add_lexical(*(f.result() if f is not None else None for f in lexical))
        lean = self._lean(context, r)
        score = self._score(r, prefs, context, lean)
        # dense hits in their order, then lexical-only ones in theirs; a stable sort by score
        order = [*r.dense, *(c for c in r.dense_more if c not in r.dense),
                 *(c for c, _ in r.lexical_hits if c not in r.dense and c not in r.dense_more)]
        if prefs or (context is not None and context.documents):
            # a lexical-only hit's document decides its bonus: read them all first
            r.add_fetched(self._read([c for c in order if c not in r.chunk_of]))
        order = sorted(order, key=lambda c: -score(c))
        return Found(self._keep(order, r, score, prefs, k), topic=inside if prefs else None, preferences=prefs)

    def _preferences(self, query: str, within: Sequence[str] | None) -> tuple[dict[str, float], str]:
        """The documents the question names (path → weight) and its topic without those names."""
        documents = self.documents() if self.documents is not None else None
        if documents is None:
            return {}, query
        if within is not None:
            allowed = set(within)
            documents = {path: identity for path, identity in documents.items() if path in allowed}
        return preferences(query, documents)

    def _dense(self, query, inside, expanded, preferred, n, within) -> "_Ranks":
        """The dense lists: the question's, the question read with the conversation's, and the
        named documents' own best passages (ranked among themselves)."""
        where = {"file_path": {"$in": list(within)}} if within is not None else None
        vector = self.embedder.embed_query(query)
        hits = self.store.query(vector, n, where=where)
        r = _Ranks(vector=vector, dense={h.chunk.id: i for i, h in enumerate(hits)})
        if expanded:
            more = self.store.query(self.embedder.embed_query(expanded), n, where=where)
            r.dense_more = {h.chunk.id: i for i, h in enumerate(more)}
            seen = {h.chunk.id for h in hits}
            hits = hits + [h for h in more if h.chunk.id not in seen]
        if preferred:
            topic_vector = self.embedder.embed_query(inside) if inside != query else vector
            own = self.store.query(topic_vector, n, where={"file_path": {"$in": preferred}})
            for i, h in enumerate(own):
                r.dense[h.chunk.id] = min(i, r.dense.get(h.chunk.id, i))
            seen = {h.chunk.id for h in hits}
            hits = hits + [h for h in own if h.chunk.id not in seen]
        r.by_id = {h.chunk.id: Passage(chunk=h.chunk, score=0.0, dense=h.score) for h in hits}
        r.chunk_of = {cid: p.chunk for cid, p in r.by_id.items()}
        return r

    @staticmethod
    def _lean(context: Context | None, r: "_Ranks") -> float:
        """How much the conversation counts for this question: less when the question says enough
        on its own and its own dense and lexical lists agree on a passage of another document than
        the previous answer's (the topic changed)."""
        if context is None or not context.own_words or not r.dense or not r.lexical:
            return 1.0
        top = next(iter(r.dense))
        chunk = r.chunk_of.get(top)
        if r.lexical.get(top) == 0 and chunk is not None and chunk.path not in context.documents:
            return context.new_topic
        return 1.0

    def _score(self, r: "_Ranks", prefs: dict[str, float], context: Context | None, lean: float) -> Callable[[str], float]:
        s = self.settings
        w = context.weight * lean if context is not None else 0.0

        def fused(cid: str) -> float:
            score = 0.0
            if cid in r.dense:
                score += s.dense_weight / (s.rrf_k + r.dense[cid] + 1)
            if cid in r.lexical:
                score += s.lexical_weight / (s.rrf_k + r.lexical[cid] + 1)
            if cid in r.dense_more:
                score += w * s.dense_weight / (s.rrf_k + r.dense_more[cid] + 1)
            if cid in r.lexical_more:
                score += w * s.lexical_weight / (s.rrf_k + r.lexical_more[cid] + 1)
            chunk = r.chunk_of.get(cid)
            if prefs and chunk is not None:
                score += s.focus_bonus * prefs.get(chunk.path, 0.0)
            if context is not None and chunk is not None:
                score += lean * context.document_bonus * context.documents.get(chunk.path, 0.0)
                if any(abs(chunk.index - i) <= context.span for i in context.near.get(chunk.path, ())):
                    score += lean * context.near_bonus
            return score

        return fused

    def _keep(self, order: list[str], r: "_Ranks", score, prefs: dict[str, float], k: int) -> list[Passage]:
        """The first k passages of `order`, each scored, none inside one already kept; a
        lexical-only hit is read (text and vector) only when it is reached."""
        lexical_score = dict(r.lexical_hits)
        kept: list[Passage] = []
        for pos, cid in enumerate(order):
            if cid not in r.by_id and cid not in r.fetched:  # ranked high enough to matter: read it now
                r.add_fetched(self._read([c for c in order[pos:] if c not in r.by_id and c not in r.fetched]))
            if cid not in r.by_id:
                if cid not in r.fetched:  # removed from the library since the lexical search
                    continue
                chunk, v = r.fetched[cid]
                r.by_id[cid] = Passage(chunk=chunk, score=0.0, dense=float(np.dot(v, r.vector)))
            p = r.by_id[cid]
            p.score = score(cid)
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
        """The chunks of `ids` with their vectors: from the store, or, for a chunk still waiting
        for its vector (a file being indexed), from the queue, embedded now."""
        if not ids:
            return {}
        read = {chunk.id: (chunk, v) for chunk, v in self.store.get_with_vectors(list(ids))}
        if self._waiting is not None and len(read) < len(ids):
            queued = self._waiting([i for i in ids if i not in read])
            if queued:
                vectors = self.embedder.embed([c.embed_text for c in queued])
                read |= {c.id: (c, v) for c, v in zip(queued, vectors)}
        return read

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


# the lexical searches run beside the question's embedding and the dense search (see search)
_BESIDE = ThreadPoolExecutor(max_workers=2, thread_name_prefix="citewise-lexical")


def _inside(p: Passage, kept: list[Passage]) -> bool:
    c = p.chunk
    return any(
        k.chunk.path == c.path and k.chunk.unit == c.unit and k.chunk.start <= c.start and c.end <= k.chunk.end
        for k in kept
    )

