"""Which embedder path a new library takes on this CPU (indexing/fastest.py)."""

from __future__ import annotations

import json
import shutil

from indexing import fastest
from indexing.embedder import bundled_embedding_dir


def test_int8_dot_products_are_read_from_the_cpu_flags():
    assert fastest.int8_dot_product(frozenset({"avx2", "avx512_vnni"})) == "vnni"
    assert fastest.int8_dot_product(frozenset({"avx", "avx2", "fma"})) == "avx2"
    assert fastest.int8_dot_product(frozenset({"fp", "asimd", "asimddp"})) == "dotprod"
    assert fastest.int8_dot_product(frozenset({"sse4_2", "avx"})) is None  # no int8 kernels worth it


def test_only_a_mean_pooled_normalised_model_gets_the_int8_copy(tmp_path):
    """The ONNX copy pools by mean and normalises: a model that pools by CLS (or adds a Dense
    layer) would get other vectors from it, so it stays float."""
    assert fastest.mean_pooled(bundled_embedding_dir())
    cls = tmp_path / "cls-model"
    shutil.copytree(bundled_embedding_dir(), cls, ignore=shutil.ignore_patterns("*.safetensors", "*.bin", "onnx*"))
    config = json.loads((cls / "1_Pooling" / "config.json").read_text())
    config.update(pooling_mode_mean_tokens=False, pooling_mode_cls_token=True)
    (cls / "1_Pooling" / "config.json").write_text(json.dumps(config))
    assert not fastest.mean_pooled(cls)
    assert not fastest.mean_pooled(tmp_path / "not-a-model")


def test_a_measurement_counts_only_on_the_cpu_it_was_made_on(tmp_path):
    class Timed:
        def __init__(self, precision, pause):
            self.precision, self.pause = precision, pause

        def embed(self, texts):
            import time

            time.sleep(self.pause * len(texts))

    result = fastest.measure(Timed("fp32", 0.002), Timed("int8", 0.001), tmp_path, chunks=8)
    assert result["pick"] == "int8" and result["int8"]["chunks_per_s"] > result["float"]["chunks_per_s"]
    assert fastest.measured_pick(tmp_path) == "int8"
    moved = json.loads((tmp_path / fastest.PROBE_FILE).read_text())
    moved["machine"] = "another computer"  # a data dir copied to another machine: measured again there
    (tmp_path / fastest.PROBE_FILE).write_text(json.dumps(moved))
    assert fastest.measured_pick(tmp_path) is None
