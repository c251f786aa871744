"""Embedders: one Protocol, backends chosen by name, heavy imports only inside the backend used."""

from __future__ import annotations

import functools
from typing import Protocol

import numpy as np

from ..errors import NotebotError


class Embedder(Protocol):
    name: str  # registry name, recorded in the index manifest
    dim: int

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32, L2-normalised, with the backend's query role applied."""

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        """(n, dim) float32, L2-normalised, with the backend's passage role applied."""


DEFAULT_EMBEDDER = "e5-small-q4"


def get_embedder(name: str) -> Embedder:
    """`e5-small-q4` (bundled, default), `st:<model name or path>` (sentence-transformers), `hash` (tests).

    One instance per name and process: a re-index, each swapped-in index and the queries share the
    loaded model (seconds to load) instead of loading it again; backends serialise their own calls."""
    return _load_embedder(name)


@functools.lru_cache(maxsize=None)
def _load_embedder(name: str) -> Embedder:
    if name == "e5-small-q4":
        from .e5 import E5SmallQ4

        return E5SmallQ4()
    if name.startswith("st:") and len(name) > 3:
        from .sentence_transformers import SentenceTransformerEmbedder

        return SentenceTransformerEmbedder(name)
    if name == "hash":
        from .hashing import HashingEmbedder

        return HashingEmbedder()
    raise NotebotError(
        f"unknown embedder {name!r}",
        "use e5-small-q4 (default), st:<sentence-transformers model name or path>, or hash",
    )


def normalize_rows(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    if vectors.ndim == 1:
        vectors = vectors[None, :]
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)
