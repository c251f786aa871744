"""Embedding cache: vectors keyed by embedder + embedded text, in SQLite, saved batch by batch.

Unchanged text is never embedded twice, and an interrupted build keeps what it had embedded.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np


def cache_key(embedder_name: str, text: str) -> str:
    return hashlib.sha256(f"{embedder_name}\0{text}".encode()).hexdigest()


class EmbeddingCache:
    def __init__(self, path: Path):
        self.path = Path(path)
        try:
            self._db = self._open()
        except sqlite3.DatabaseError:
            # A damaged cache only costs re-embedding: set it aside and start a fresh one.
            self.path.replace(self.path.with_name(self.path.name + ".damaged"))
            self._db = self._open()

    def _open(self) -> sqlite3.Connection:
        db = sqlite3.connect(self.path)
        db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, dim INTEGER, data BLOB)")
        return db

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        found = {}
        for start in range(0, len(keys), 500):
            batch = keys[start : start + 500]
            marks = ",".join("?" * len(batch))
            for key, dim, data in self._db.execute(f"SELECT key, dim, data FROM vectors WHERE key IN ({marks})", batch):
                vector = np.frombuffer(data, dtype=np.float32)
                if len(vector) == dim:
                    found[key] = vector
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        rows = [(key, int(v.shape[0]), np.asarray(v, np.float32).tobytes()) for key, v in items.items()]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)

    def clear(self) -> None:
        with self._db:
            self._db.execute("DELETE FROM vectors")

    def close(self) -> None:
        self._db.close()
