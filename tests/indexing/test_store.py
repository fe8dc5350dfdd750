"""The Chroma store: model identity is enforced; the server path works against a real `chroma run`."""

from __future__ import annotations

import pytest

from indexing.models import FileStatus
from indexing.store import ModelMismatchError, StoreError, open_client
from tests import docs


def test_library_refuses_a_different_embedding_model(services):
    from indexing.store import ChunkStore

    services.library()  # creates the collection with the bundled model
    store = services.library().store
    with pytest.raises(ModelMismatchError) as info:
        ChunkStore(services.libraries.client, services.library().name, embed_model="someone/other-model", dim=768, chunker="v1")
    assert "indexed with the embedding model sentence-transformers/all-MiniLM-L6-v2" in str(info.value)
    assert store.count() == 0


def test_int8_and_float_vectors_are_never_mixed_in_one_library(services):
    """A library written with int8 (ONNX) vectors refuses a float embedder, and the reverse."""
    from indexing.store import ChunkStore

    name = services.libraries.create("Floats", int8=False).name
    model = services.embedder.model_id
    float_store = services.library(name).store  # created by the float (auto/bf16/fp32) embedder
    with pytest.raises(ModelMismatchError) as info:
        ChunkStore(services.libraries.client, name, embed_model=model, dim=384, chunker="v1", variant="int8-onnx")
    assert "holds float vectors" in str(info.value) and "not mixed" in str(info.value)
    ChunkStore(services.libraries.client, "int8-lib", embed_model=model, dim=384, chunker="v1", variant="int8-onnx")
    with pytest.raises(ModelMismatchError) as info:
        ChunkStore(services.libraries.client, "int8-lib", embed_model=model, dim=384, chunker="v1", variant="float")
    assert "holds int8-onnx vectors" in str(info.value) and "precision to int8" in str(info.value)
    assert float_store.count() == 0


def test_telemetry_is_off(data_dir):
    client = open_client(data_dir / "chroma")
    assert client.get_settings().anonymized_telemetry is False


def test_unreachable_server_is_a_clear_error():
    with pytest.raises(StoreError) as info:
        open_client(url="http://127.0.0.1:9")
    assert "cannot be reached" in str(info.value) and "127.0.0.1:9" in str(info.value)


@pytest.mark.server
def test_chroma_server_path(tmp_path, chroma_server, embedder, engine):
    from app.services import build_services
    from app.settings import load_settings

    settings = load_settings(data_dir=tmp_path / "data", **{"store.chroma_url": chroma_server, "embedding.device": "cpu"})
    services = build_services(settings, embedder=embedder, engine=engine)
    folder = tmp_path / "docs"
    folder.mkdir()
    docs.make_pdf(folder / "facts.pdf", docs.fact_pages())
    *_, done = services.library().add([str(folder)])
    assert [r.status for r in done.reports] == [FileStatus.INDEXED]
    hits = services.library().retriever.search("When does the ferry to Bainbridge leave?")
    assert hits[0].chunk.path.endswith("facts.pdf") and hits[0].chunk.page == 1
    # the chunks live in the server, not in the data dir
    assert not (tmp_path / "data" / "chroma").exists()
    import chromadb

    remote = chromadb.HttpClient(host="127.0.0.1", port=int(chroma_server.rsplit(":", 1)[1]))
    assert remote.get_collection("cw-default").count() == services.library().stats()["chunks"]
    services.close()


def test_a_question_is_embedded_on_one_thread_and_matches_the_batch_vector(embedder):
    """Regression: on a busy 2-core machine torch's two threads made one question take ~0.5 s
    instead of ~20 ms (bench/query.py). The vector is the same; indexing threads keep theirs."""
    import threading

    import numpy as np
    import torch

    question = "When does the ferry to Bainbridge Island leave?"
    seen = []
    before = torch.get_num_threads()
    original = embedder.embed
    embedder.embed = lambda texts, batch_size=None: (seen.append(torch.get_num_threads()), original(texts, batch_size))[1]
    try:
        vector = embedder.embed_query(question)
    finally:
        del embedder.embed
    assert seen == [1] and torch.get_num_threads() == before
    assert float(np.dot(vector, embedder.embed([question])[0])) > 0.999
    other = []
    worker = threading.Thread(target=lambda: other.append(torch.get_num_threads()))
    worker.start()
    worker.join()
    assert other == [before]  # another thread (an indexing job) is not narrowed
