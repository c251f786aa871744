"""A deterministic, dependency-free embedder: hashed character n-grams. Fast; for tests and tiny setups.

It is a real (if weak) lexical embedder, so tests of index mechanics run in milliseconds.
"""

from __future__ import annotations

import numpy as np

from . import normalize_rows

PRIMES = (1_000_003, 998_244_353)


class HashingEmbedder:
    name = "hash"
    dim = 256

    def _embed(self, texts: list[str]) -> np.ndarray:
        vectors = np.zeros((len(texts), self.dim), np.float32)
        for row, text in enumerate(texts):
            codes = np.frombuffer(text.lower().encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
            codes = codes[~np.isin(codes, (9, 10, 13, 32))]  # whitespace carries no meaning here
            for n in (1, 2, 3):
                if len(codes) < n:
                    continue
                grams = codes[: len(codes) - n + 1].copy()
                for offset in range(1, n):
                    grams = grams * np.uint64(PRIMES[0]) + codes[offset : len(codes) - n + 1 + offset]
                buckets = (grams * np.uint64(PRIMES[1]) >> np.uint64(20)) % np.uint64(self.dim)
                vectors[row] += np.bincount(buckets.astype(np.int64), minlength=self.dim)
        return normalize_rows(vectors) if texts else vectors

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._embed(texts)
