"""Embedding cache: vectors keyed by embedder + embedded text, in SQLite, saved batch by batch.

Unchanged text is never embedded twice, and an interrupted build keeps what it had embedded.
The cache is only a cache: when SQLite finds it damaged (at open, read or write), it is set aside
with a warning and a fresh one takes its place, seeded with the vectors this run already holds.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import NotebotError

DAMAGE = ("SQLITE_CORRUPT", "SQLITE_NOTADB")
CANNOT_WRITE = ("SQLITE_FULL", "SQLITE_READONLY", "SQLITE_IOERR", "SQLITE_CANTOPEN")  # the disk, not the file


def cache_key(embedder_name: str, text: str) -> str:
    return hashlib.sha256(f"{embedder_name}\0{text}".encode()).hexdigest()


class EmbeddingCache:
    def __init__(self, path: Path, warn: Callable[[str], None] = lambda message: None):
        self.path = Path(path)
        self._warn = warn
        self._held: dict[str, np.ndarray] = {}  # vectors read or written this run (references, not copies)
        self._db = None
        self._guarded(self._open)

    def _open(self) -> None:
        self._db = sqlite3.connect(self.path)
        self._db.execute("CREATE TABLE IF NOT EXISTS vectors (key TEXT PRIMARY KEY, dim INTEGER, data BLOB)")

    def get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        return self._guarded(self._get_many, keys)

    def _get_many(self, keys: list[str]) -> dict[str, np.ndarray]:
        found = {}
        for start in range(0, len(keys), 500):
            batch = keys[start : start + 500]
            marks = ",".join("?" * len(batch))
            for key, dim, data in self._db.execute(f"SELECT key, dim, data FROM vectors WHERE key IN ({marks})", batch):
                vector = np.frombuffer(data, dtype=np.float32)
                if len(vector) == dim:
                    found[key] = vector
        self._held.update(found)
        return found

    def put_many(self, items: dict[str, np.ndarray]) -> None:
        self._held.update(items)
        self._guarded(self._put_many, items)

    def _put_many(self, items: dict[str, np.ndarray]) -> None:
        rows = [(key, int(v.shape[0]), np.asarray(v, np.float32).tobytes()) for key, v in items.items()]
        with self._db:
            self._db.executemany("INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", rows)

    def clear(self) -> None:
        self._held.clear()
        self._guarded(self._clear)

    def _clear(self) -> None:
        with self._db:
            self._db.execute("DELETE FROM vectors")

    def close(self) -> None:
        if self._db is not None:
            self._db.close()

    def _guarded(self, operation, *args):
        """Run one cache operation; if SQLite reports damage, set the file aside and run it on a fresh cache."""
        try:
            return operation(*args)
        except sqlite3.DatabaseError as problem:
            if getattr(problem, "sqlite_errorname", "").startswith(CANNOT_WRITE):
                raise NotebotError(f"cannot write the embedding cache {self.path} ({problem})",
                                   "free some space or make the index folder writable, then index again") from None
            if not _is_damage(problem):
                raise
            self._set_aside(problem)
            return operation(*args)

    def _set_aside(self, problem: sqlite3.DatabaseError) -> None:
        self.close()
        aside = self.path.with_name(self.path.name + ".damaged")
        self.path.replace(aside)
        for suffix in ("-journal", "-wal", "-shm"):  # a leftover journal must not be replayed into the fresh cache
            companion = self.path.with_name(self.path.name + suffix)
            if companion.exists():
                companion.replace(aside.with_name(aside.name + suffix))
        self._warn(f"the embedding cache {self.path} is damaged ({problem}): set aside as {aside.name}; "
                   f"a fresh cache starts now and text it held is embedded again")
        self._open()
        if self._held:
            self._put_many(self._held)


def _is_damage(problem: sqlite3.DatabaseError) -> bool:
    name = getattr(problem, "sqlite_errorname", "")
    return name in DAMAGE or "malformed" in str(problem) or "not a database" in str(problem)
