"""A stand-in embedder for tests that index many files and test nothing about meaning."""

from __future__ import annotations

import hashlib

import numpy as np


class HashEmbedder:
    """Deterministic unit vectors from a hash of the text, with the bundled model's identity."""

    def __init__(self, real):
        self.model_id, self.model_dir, self.variant, self.dim = real.model_id, real.model_dir, real.variant, real.dim

    def embed(self, texts, batch_size=None):
        out = np.empty((len(texts), self.dim), dtype=np.float32)
        for i, t in enumerate(texts):
            seed = int.from_bytes(hashlib.blake2b(t.encode(), digest_size=8).digest(), "little")
            v = np.random.default_rng(seed).standard_normal(self.dim).astype(np.float32)
            out[i] = v / np.linalg.norm(v)
        return out

    def embed_query(self, text):
        return self.embed([text])[0]
