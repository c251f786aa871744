"""Line-level vectors: the embedder on single note lines, read with their heading context.

Lines are embedded on demand (only the lines of the few passages an answer draws on) and kept in
the index's embedding cache, keyed like chunks by embedder + text, so a line is embedded once per
index folder. Measured against embedding every line at index time in benchmarks/README.md.
"""

from __future__ import annotations

import sqlite3
from pathlib import Path

import numpy as np

from ..store import Index
from ..store.cache import EmbeddingCache, cache_key

CACHE_FILE = "embed-cache.sqlite"


def line_text(heading_path: str, line: str, parent: str = "") -> str:
    """What the embedder reads for a line: its heading path, the item it is nested under, then the line."""
    context = " > ".join(part for part in (heading_path, parent) if part)
    return f"{context}: {line}" if context else line


def line_vectors(index: Index, texts: list[str]) -> np.ndarray:
    """(n, dim) passage vectors for these texts (see line_text), from the cache or embedded now."""
    embedder = index.embedder
    if not texts:
        return np.zeros((0, embedder.dim), np.float32)
    keys = [cache_key(embedder.name, text) for text in texts]
    cache = _open_cache(index)
    known = {}
    if cache is not None:
        try:
            known = cache.get_many(sorted(set(keys)))
        except sqlite3.Error:
            known = {}
    todo = sorted({i for i, key in enumerate(keys) if key not in known or len(known[key]) != embedder.dim},
                  key=lambda i: keys[i])
    todo = list({keys[i]: i for i in todo}.values())  # one embedding per distinct text
    if todo:
        fresh = embedder.embed_passages([texts[i] for i in todo])
        new = {keys[i]: fresh[row] for row, i in enumerate(todo)}
        known.update(new)
        if cache is not None:
            try:
                cache.put_many(new)
            except sqlite3.Error:
                pass  # a busy or read-only cache only costs embedding these lines again next time
    if cache is not None:
        cache.close()
    return np.stack([known[key] for key in keys]).astype(np.float32)


def _open_cache(index: Index) -> EmbeddingCache | None:
    folder = getattr(index, "index_dir", None)
    if folder is None:
        return None
    try:
        return EmbeddingCache(Path(folder) / CACHE_FILE)
    except (sqlite3.Error, OSError):
        return None
