"""sentence-transformers backend: any local model folder or hub name the user already has."""

from __future__ import annotations

import numpy as np

from ..errors import NotebotError
from . import normalize_rows

INSTALL_HINT = "pip install 'notebot[st]' (install torch==2.13.0 first to keep the CPU build)"


class SentenceTransformerEmbedder:
    def __init__(self, name: str):
        self.name = name
        self.model_name = name.removeprefix("st:")
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError:
            raise NotebotError(f"embedder {name!r} needs sentence-transformers", INSTALL_HINT) from None
        try:
            self._model = SentenceTransformer(self.model_name, device="cpu")
        except Exception as problem:  # the library raises many types for a missing/broken model
            raise NotebotError(
                f"cannot load sentence-transformers model {self.model_name!r}: {type(problem).__name__}",
                "pass a local model folder (st:/path/to/model) or a name already in your Hugging Face cache",
            ) from None
        dimension = getattr(self._model, "get_embedding_dimension", None) or self._model.get_sentence_embedding_dimension
        self.dim = int(dimension())
        prompts = getattr(self._model, "prompts", {}) or {}
        # Models that declare role prompts (e5, bge…) get them; symmetric models get none.
        self._query_prompt = prompts.get("query")
        self._passage_prompt = prompts.get("passage") or prompts.get("document")

    def _encode(self, texts: list[str], prompt: str | None) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        vectors = self._model.encode(list(texts), prompt=prompt, normalize_embeddings=True, convert_to_numpy=True)
        return normalize_rows(vectors)

    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self._query_prompt)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._encode(texts, self._passage_prompt)
