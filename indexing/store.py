"""Chunks and their vectors in Chroma, through llama-index's Chroma vector-store integration.

One Chroma collection per library. Its metadata records the embedding model and dimension,
and a library is never written or queried with another model: mixing vector spaces silently
returns nonsense, so a mismatch is an error that says what to do.

Embedded `PersistentClient` by default; `HttpClient` against a `chroma run` server when a URL
is configured. Telemetry is off in both.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Sequence
from urllib.parse import urlparse

import numpy as np

from indexing.models import Chunk, UnitKind

COLLECTION_PREFIX = "cw-"
HEADING_SEP = " › "


class StoreError(Exception):
    """The vector store cannot be used as configured."""


class ModelMismatchError(StoreError):
    pass


def _settings():
    from chromadb.config import Settings

    return Settings(anonymized_telemetry=False, allow_reset=False)


def chroma_server(url: str | None) -> tuple[str, str | None, int | None] | None:
    """(scheme, host, port as written) of a Chroma server's URL ("host:port" is http), None when
    no server is configured; `open_client` says when it is not an http(s)://host:port address."""
    if not url:
        return None
    parsed = urlparse(url if "://" in url else f"http://{url}")
    try:
        port = parsed.port
    except ValueError:  # "host:notaport"
        port = None
    return parsed.scheme, parsed.hostname, port


def missing_collection() -> type[Exception]:
    """The exception Chroma raises for a collection that does not exist, embedded and from a
    server alike (`except missing_collection():` imports chromadb only when one is raised)."""
    from chromadb.errors import NotFoundError

    return NotFoundError


def open_client(path: Path | None = None, url: str | None = None):
    """An embedded client on `path`, or an HTTP client for the server at `url`."""
    import chromadb

    if url:
        scheme, host, port = chroma_server(url)
        if scheme not in ("http", "https") or not host:
            raise StoreError(f"Chroma URL {url!r} is not an http(s)://host:port address")
        port = port or (443 if scheme == "https" else 8000)
        try:
            client = chromadb.HttpClient(host=host, port=port, ssl=scheme == "https", settings=_settings())
            client.heartbeat()
        except Exception as exc:
            raise StoreError(f"the Chroma server at {url} cannot be reached ({type(exc).__name__}: {exc})") from None
        return client
    if path is None:
        raise StoreError("no Chroma location configured")
    path.mkdir(parents=True, exist_ok=True)
    return chromadb.PersistentClient(path=str(path), settings=_settings())


def library_slug(name: str) -> str:
    """A file- and Chroma-safe name for a library; names that differ stay apart."""
    import hashlib

    name = name.strip()
    safe = re.sub(r"[^a-zA-Z0-9._-]+", "-", name).strip("-._")[:80] or "library"
    if safe != name:
        safe += "-" + hashlib.blake2b(name.encode("utf-8"), digest_size=3).hexdigest()
    return safe


def collection_name(library: str) -> str:
    return COLLECTION_PREFIX + library_slug(library)


@dataclass
class Hit:
    chunk: Chunk
    score: float  # cosine similarity, -1..1


def chunk_metadata(chunk: Chunk) -> dict:
    meta = {
        "file_path": chunk.path,
        "file_name": Path(chunk.path).name,
        "content_hash": chunk.content_hash,
        "unit": chunk.unit,
        "unit_kind": chunk.unit_kind.value,
        "chunk_index": chunk.index,
        "tokens": chunk.tokens,
    }
    if chunk.unit_label:
        meta["unit_label"] = chunk.unit_label
    if chunk.heading:
        meta["heading"] = HEADING_SEP.join(chunk.heading)
    if chunk.context:
        meta["context"] = chunk.context
    return meta


def chunk_from_record(chunk_id: str, text: str, meta: dict, start: int | None, end: int | None) -> Chunk:
    heading = meta.get("heading") or ""
    return Chunk(
        id=chunk_id,
        text=text or "",
        path=meta.get("file_path", ""),
        content_hash=meta.get("content_hash", ""),
        unit=int(meta.get("unit") or 1),
        unit_kind=UnitKind(meta.get("unit_kind") or "document"),
        unit_label=meta.get("unit_label") or None,
        start=int(start or 0),
        end=int(end if end is not None else len(text or "")),
        index=int(meta.get("chunk_index") or 0),
        heading=tuple(heading.split(HEADING_SEP)) if heading else (),
        tokens=int(meta.get("tokens") or 0),
        context=meta.get("context") or "",
    )


class ChunkStore:
    """The chunks of one library."""

    def __init__(self, client, library: str, *, embed_model: str, dim: int, chunker: str, variant: str = "float"):
        from llama_index.vector_stores.chroma import ChromaVectorStore

        self.client = client
        self.library = library
        name = collection_name(library)
        wanted = {
            "citewise": 1, "library": library, "embed_model": embed_model, "embed_dim": dim,
            "embed_variant": variant, "chunker": chunker,
        }
        self.collection = client.get_or_create_collection(
            name, metadata=wanted, configuration={"hnsw": {"space": "cosine"}}, embedding_function=None
        )
        meta = self.collection.metadata or {}
        if meta.get("embed_model") != embed_model or int(meta.get("embed_dim", dim)) != dim:
            raise ModelMismatchError(
                f"library '{library}' was indexed with the embedding model {meta.get('embed_model')} "
                f"({meta.get('embed_dim')} dimensions), but the configured model is {embed_model} ({dim}); "
                "switch the embedding model back, or index into a new library"
            )
        have = meta.get("embed_variant", "float")  # libraries made before variants were recorded: float
        if have != variant:
            fix = "to int8 (--precision int8)" if have == "int8-onnx" else "to auto, fp32 or bf16 (--precision auto)"
            raise ModelMismatchError(
                f"library '{library}' holds {have} vectors of {embed_model}, but the configured embedding precision "
                f"makes {variant} vectors, and the two are not mixed in one library; set embedding.precision "
                f"{fix} for this library, or index into a new library"
            )
        self.vector_store = ChromaVectorStore(chroma_collection=self.collection)
        try:
            self.max_batch = int(client.get_max_batch_size())
        except Exception:
            self.max_batch = 5000

    # -- writes ------------------------------------------------------------------------------

    def add(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Write chunks in bulk. An id already present is replaced, never duplicated (a resumed
        run writing the same content again)."""
        from llama_index.core.schema import MetadataMode, NodeRelationship, RelatedNodeInfo, TextNode
        from llama_index.core.vector_stores.utils import node_to_metadata_dict

        if not chunks:
            return
        ids, metadatas, documents = [], [], []
        for chunk in chunks:
            meta = chunk_metadata(chunk)
            node = TextNode(
                id_=chunk.id,
                text=chunk.text,
                metadata=meta,
                start_char_idx=chunk.start,
                end_char_idx=chunk.end,
                excluded_embed_metadata_keys=list(meta),
                excluded_llm_metadata_keys=list(meta),
            )
            node.relationships[NodeRelationship.SOURCE] = RelatedNodeInfo(node_id=chunk.path)
            # the same record layout llama-index's ChromaVectorStore writes and reads back
            record = node_to_metadata_dict(node, remove_text=True, flat_metadata=True)
            metadatas.append({k: ("" if v is None else v) for k, v in record.items()})
            ids.append(chunk.id)
            documents.append(node.get_content(metadata_mode=MetadataMode.NONE))
        vectors = np.asarray(vectors, dtype=np.float32)
        step = self.max_batch
        for i in range(0, len(ids), step):
            self.collection.upsert(
                ids=ids[i : i + step], embeddings=vectors[i : i + step],
                metadatas=metadatas[i : i + step], documents=documents[i : i + step],
            )

    def delete(self, ids: Iterable[str]) -> None:
        ids = list(ids)
        for i in range(0, len(ids), 5000):
            self.vector_store.delete_nodes(node_ids=ids[i : i + 5000])

    # -- reads -------------------------------------------------------------------------------

    def count(self) -> int:
        return self.collection.count()

    def all_ids(self) -> list[str]:
        ids: list[str] = []
        offset = 0
        while True:
            batch = self.collection.get(include=[], limit=10000, offset=offset)["ids"]
            ids.extend(batch)
            if len(batch) < 10000:
                return ids
            offset += len(batch)

    def get(self, ids: Sequence[str]) -> list[Chunk]:
        if not ids:
            return []
        nodes = self.vector_store.get_nodes(node_ids=list(ids))
        by_id = {n.node_id: n for n in nodes}
        return [self._to_chunk(by_id[i]) for i in ids if i in by_id]

    def get_with_vectors(self, ids: Sequence[str]) -> list[tuple[Chunk, np.ndarray]]:
        """The chunks of `ids` with their stored (normalised) vectors, in one read of the store."""
        from llama_index.core.vector_stores.utils import metadata_dict_to_node

        if not ids:
            return []
        got = self.collection.get(ids=list(ids), include=["documents", "metadatas", "embeddings"])
        by_id = {
            cid: (self._to_chunk(metadata_dict_to_node(meta, text=text)), np.asarray(vector, dtype=np.float32))
            for cid, text, meta, vector in zip(got["ids"], got["documents"], got["metadatas"], got["embeddings"])
        }
        return [by_id[i] for i in ids if i in by_id]

    @staticmethod
    def _to_chunk(node) -> Chunk:
        return chunk_from_record(node.node_id, node.get_content(), node.metadata, node.start_char_idx, node.end_char_idx)

    def query(self, vector: np.ndarray, k: int, *, where: dict | None = None) -> list[Hit]:
        from llama_index.core.vector_stores.types import VectorStoreQuery

        if k <= 0:
            return []  # an empty collection answers with no hits: no count() first (O(n): tens of ms at 100k)
        kwargs = {"where": where} if where else {}
        result = self.vector_store.query(
            VectorStoreQuery(query_embedding=vector.tolist(), similarity_top_k=k), **kwargs
        )
        hits = []
        for node, similarity in zip(result.nodes, result.similarities or []):
            # the integration reports exp(-distance); Chroma's cosine distance is 1 - cosine
            cosine = 1.0 + math.log(max(similarity, 1e-12))
            hits.append(Hit(self._to_chunk(node), cosine))
        return hits
