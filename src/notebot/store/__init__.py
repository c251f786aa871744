"""The index as the layers above see it: one small Protocol, whatever holds the data.

`search/`, `answer/`, `evaluation/` and `apps/` talk to an `Index`; `store/build.py` writes one.
Backends: `local` (a self-describing folder, store/local.py).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np

from ..embed import Embedder
from ..records import Chunk
from ..settings import Settings

Scored = list[tuple[Chunk, float]]  # best first


class Index(Protocol):
    """A built index: its chunks, its manifest, its embedder, and the two searches retrieval fuses."""

    location: str  # where it lives, for messages: a folder, or a server URI
    manifest: dict  # format version, embedder + dim, chunker, tokenizer, corpus files, counts

    @property
    def embedder(self) -> Embedder:
        """The model the index was built with (the index owns its model), loaded on first use."""

    @property
    def chunks(self) -> Sequence[Chunk]:
        """Every chunk, in corpus order (file, then line)."""

    def __len__(self) -> int: ...

    def vector_search(self, vector: np.ndarray, n: int) -> Scored:
        """The n chunks nearest a query vector (cosine), best first."""

    def lexical_search(self, query: str, n: int) -> Scored:
        """The n best BM25 matches for the query text (only chunks sharing a term), best first."""

    def tokens(self, text: str) -> list[str]:
        """The text as the lexical index tokenises it."""

    def document_frequencies(self, terms: list[str]) -> dict[str, int]:
        """How many chunks hold each term (terms the index never saw are left out)."""

    def next_chunk(self, chunk: Chunk) -> Chunk | None:
        """The chunk that continues `chunk` in its section, when the chunker split the section."""


def open_index(settings: Settings) -> Index:
    """The index named by the settings, checked against the embedder they ask for."""
    from .local import LocalIndex

    return LocalIndex.load(Path(settings.index_dir), settings.embedder or None)


def read_manifest(settings: Settings) -> dict:
    from .local import read_manifest as read_local

    return read_local(Path(settings.index_dir))


def index_exists(settings: Settings) -> bool:
    from .local import MANIFEST

    return (Path(settings.index_dir) / MANIFEST).exists()
