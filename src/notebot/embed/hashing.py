"""A deterministic, dependency-free embedder: hashed character n-grams. Fast; for tests and tiny setups.

It is a real (if weak) lexical embedder, so tests of index mechanics run in milliseconds.
"""

from __future__ import annotations

import hashlib

import numpy as np

from . import normalize_rows


class HashingEmbedder:
    name = "hash"
    dim = 256

    def _embed(self, texts: list[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            text = text.lower()
            for n in (1, 2, 3):
                for i in range(len(text) - n + 1):
                    gram = text[i : i + n]
                    if gram.isspace():
                        continue
                    digest = hashlib.blake2b(gram.encode(), digest_size=4).digest()
                    vectors[row, int.from_bytes(digest, "little") % self.dim] += 1.0
        return normalize_rows(vectors) if texts else vectors

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts)
