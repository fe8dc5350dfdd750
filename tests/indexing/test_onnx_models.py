"""ONNX Runtime copies of the embedding model (indexing/onnx_models.py).

Questions are embedded by an fp32 copy once the app has made it: the same vectors as torch's,
about twice as fast for one short question (bench/query.py). Precision `int8` indexes with an
int8 copy whose attention is fused and quantised (bench/indexing.py)."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np

from indexing.embedder import Embedder

QUESTION = "When does the ferry to Bainbridge leave?"
PASSAGES = [
    "The museum night tour costs 12 dollars and starts at the west entrance.",
    "The ferry to Bainbridge Island leaves the downtown terminal every 50 minutes.",
    "Lighthouse keepers recorded the weather three times a day.",
]


def _made(cache: Path) -> list[str]:
    return sorted(p.name for p in cache.iterdir()) if cache.exists() else []


def test_questions_go_through_the_onnx_copy_with_the_same_vectors(tmp_path, embedder):
    cache = tmp_path / "models"
    e = Embedder("bundled", "cpu", cache_dir=cache)
    torch_vector = e.embed_query(QUESTION)  # nothing made yet: torch answers, nothing is exported
    assert e.query_backend == "torch" and _made(cache) == []
    assert e.query_encoder_to_make()

    assert e.prepare_query_encoder() is True
    assert e.query_backend == "onnxruntime-fp32" and not e.query_encoder_to_make()
    made = _made(cache)
    assert len(made) == 1 and made[0].startswith("model-fp32-")
    onnx_vector = e.embed_query(QUESTION)
    assert onnx_vector.dtype == np.float32 and abs(float(np.linalg.norm(onnx_vector)) - 1) < 1e-4
    assert float(onnx_vector @ torch_vector) > 0.995  # torch runs bf16 where the CPU has it
    # the same passage wins, by the same margin to within rounding
    docs = embedder.embed(PASSAGES)
    assert int(np.argmax(docs @ onnx_vector)) == int(np.argmax(docs @ torch_vector)) == 1
    assert np.allclose(docs @ onnx_vector, docs @ torch_vector, atol=0.01)

    # texts batched together (padded, sorted by length) get the vectors they get alone, in order
    from indexing.onnx_models import OnnxEncoder, cached_model

    encoder = OnnxEncoder(cached_model(e.model_dir, cache, "fp32"), e.model_dir / "tokenizer.json", 256)
    together = encoder.encode([PASSAGES[0], QUESTION, *PASSAGES[1:]], batch_size=8)
    alone = np.stack([encoder.encode([t])[0] for t in (PASSAGES[0], QUESTION, *PASSAGES[1:])])
    assert float(np.min(np.sum(together * alone, axis=1))) > 0.9999
    assert float(together[1] @ onnx_vector) > 0.9999

    # a later run (a new process, the CLI's `ask`) finds the copy without making anything
    again = Embedder("bundled", "cpu", cache_dir=cache)
    assert float(again.embed_query(QUESTION) @ onnx_vector) > 0.9999
    assert again.query_backend == "onnxruntime-fp32" and _made(cache) == made


def test_a_damaged_copy_leaves_questions_to_torch(tmp_path, embedder, caplog):
    cache = tmp_path / "models"
    e = Embedder("bundled", "cpu", cache_dir=cache)
    assert e.prepare_query_encoder()
    (next(cache.glob("model-fp32-*")) / "model.onnx").write_bytes(b"not a model")

    fresh = Embedder("bundled", "cpu", cache_dir=cache)
    with caplog.at_level(logging.WARNING, logger="indexing.embedder"):
        vector = fresh.embed_query(QUESTION)
    assert fresh.query_backend == "torch"
    assert float(vector @ embedder.embed_query(QUESTION)) > 0.995
    assert "ONNX question encoder is not used" in caplog.text


def test_no_cache_dir_or_int8_means_no_copy(tmp_path):
    assert Embedder("bundled", "cpu").prepare_query_encoder() is False  # nowhere to keep it
    int8 = Embedder("bundled", "cpu", precision="int8", cache_dir=tmp_path / "models")
    assert int8.prepare_query_encoder() is False and not int8.query_encoder_to_make()
    assert _made(tmp_path / "models") == []


def test_int8_copy_fuses_attention_and_ranks_like_fp32(tmp_path, embedder):
    import onnx

    e = Embedder("bundled", "cpu", precision="int8", cache_dir=tmp_path / "models")
    docs = e.embed(PASSAGES)
    assert e.info().dtype == "int8" and docs.shape == (3, 384)
    model = onnx.load(str(next((tmp_path / "models").glob("model-int8-*/model.onnx"))), load_external_data=False)
    ops = {n.op_type for n in model.graph.node}
    assert "QAttention" in ops and "MatMulInteger" in ops  # the fast path, not a plain MatMul graph
    reference = embedder.embed(PASSAGES)
    assert float(np.min(np.sum(docs * reference, axis=1))) > 0.98
    assert int(np.argmax(docs @ e.embed_query(QUESTION))) == 1


def test_a_model_that_pools_otherwise_keeps_torch_for_questions(tmp_path, caplog):
    """The ONNX copy pools by mean; a user's model that takes the [CLS] vector would get other
    question vectors from it: the copy is checked against the model once, refused, not remade."""
    import json
    import shutil

    from indexing.embedder import bundled_embedding_dir

    model = tmp_path / "cls-model"
    shutil.copytree(bundled_embedding_dir(), model)
    pooling = model / "1_Pooling" / "config.json"
    config = json.loads(pooling.read_text())
    config.update(pooling_mode_cls_token=True, pooling_mode_mean_tokens=False)
    pooling.write_text(json.dumps(config))

    cache = tmp_path / "models"
    e = Embedder(str(model), "cpu", cache_dir=cache)
    with caplog.at_level(logging.WARNING, logger="indexing.embedder"):
        assert e.prepare_query_encoder() is False
    assert "does not match" in caplog.text and e.query_backend == "torch"
    assert list(cache.glob("cls-model-fp32-*/rejected"))
    assert not e.query_encoder_to_make()  # not made again at the next start
    again = Embedder(str(model), "cpu", cache_dir=cache)
    assert again.prepare_query_encoder() is False
    question = again.embed_query(QUESTION)
    assert again.query_backend == "torch"
    assert float(question @ again.embed([QUESTION])[0]) > 0.99
