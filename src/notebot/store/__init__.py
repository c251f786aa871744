"""The index as the layers above see it: two small Protocols, whatever holds the data.

`search/`, `answer/`, `evaluation/` and `apps/` read an `Index`; `store/build.py` writes through a
`Store`. Backends are chosen by name (`--store`, NOTEBOT_STORE), one file each:
`local` (a self-describing folder, store/local.py) and `milvus` (a Milvus Lite file or a Milvus
server, store/milvus.py). Once built, an index folder remembers its store in its manifest.json.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np

from ..embed import Embedder
from ..errors import NotebotError, OutdatedIndex
from ..records import Chunk
from ..settings import Settings

if TYPE_CHECKING:
    from ..glossary import Glossary

Scored = list[tuple[Chunk, float]]  # best first


class Index(Protocol):
    """A built index: its chunks, its manifest, its embedder, what was counted and mined over its
    chunks when it was written (Chinese characters, the glossary), and the two searches
    retrieval fuses (search/retrieve.py fuses them the same way for every store)."""

    location: str  # where it lives, for messages: a folder, or a server URI
    manifest: dict  # format version, embedder + dim, chunker, tokenizer, corpus files, counts
    cache_dir: "Path | None"  # the folder of the embedding cache, which keeps line vectors too

    @property
    def embedder(self) -> Embedder:
        """The model the index was built with (the index owns its model), loaded on first use."""

    @property
    def chunks(self) -> Sequence[Chunk]:
        """Every chunk, in corpus order (file, then line)."""

    @property
    def glossary(self) -> "Glossary":
        """The vault's bilingual term pairs (glossary.py), mined when the index was written."""

    @property
    def character_frequencies(self) -> dict[str, int]:
        """How many chunks hold each Chinese character, counted when the index was written."""

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

    def previous_chunk(self, chunk: Chunk) -> Chunk | None:
        """The chunk that `chunk` continues in its section, when the chunker split the section."""


class Store(Protocol):
    """Where an index is kept, as `store/build.py` and the commands see it."""

    name: str  # registry name, recorded in the index folder's manifest.json
    location: str  # for messages: a folder, or a server URI and collection

    def describe(self) -> str:
        """One line for `notebot info`: which store, and where."""

    def exists(self) -> bool:
        """Whether an index has been built here."""

    def read_manifest(self) -> dict:
        """The manifest of the built index; a NotebotError with the fix when it is missing or unreadable."""

    def previous_manifest(self) -> dict | None:
        """The manifest a build replaces; None when there is none or it is unreadable."""

    def damage(self, manifest: dict) -> list[str]:
        """What of the built index fails its full check (checksums, counts); [] when sound."""

    def write(self, manifest: dict, chunks: list[Chunk], vectors: np.ndarray, previous: dict | None = None,
              rebuild: bool = False) -> None:
        """Make the index hold exactly these chunks and vectors, atomically for readers."""

    def open(self, embedder: str | None = None) -> Index:
        """The built index, refused unless `embedder` (when given) is the one it was built with."""


# name -> (module, class): a backend's heavy imports happen only when it is chosen
STORES = {"local": ("notebot.store.local", "LocalStore"), "milvus": ("notebot.store.milvus", "MilvusStore")}
MANIFEST = "manifest.json"


def get_store(settings: Settings) -> Store:
    """The store named by the settings, else the one the index folder remembers, else `local`."""
    import importlib

    name = settings.store or remembered_store(Path(settings.index_dir)) or "local"
    if name not in STORES:
        raise NotebotError(f"unknown store {name!r}", f"use one of: {', '.join(STORES)}")
    module, cls = STORES[name]
    return getattr(importlib.import_module(module), cls)(settings)


def remembered_store(index_dir: Path) -> str | None:
    """The store an index folder's manifest names (format-1 manifests name none: local)."""
    try:
        manifest = read_json(index_dir / MANIFEST)
    except (OSError, ValueError):
        return None
    return manifest.get("store", "local") if isinstance(manifest, dict) else None


_last_json: tuple[tuple, object] | None = None


def read_json(path: Path):
    """A manifest file, parsed. The last one parsed is kept while the file keeps its inode, size and
    times (a build replaces the manifest by os.replace: a new inode), because a command reads it twice
    (which store, then the store's own check) and at 1M chunks it is 5 MB of JSON (0.1 s a parse).
    Treat the result as read-only."""
    global _last_json
    import json
    import os

    with open(path, encoding="utf-8") as handle:
        stat = os.fstat(handle.fileno())
        key = (str(path), stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)
        if _last_json is not None and _last_json[0] == key:
            return _last_json[1]
        data = json.loads(handle.read())
    _last_json = (key, data)
    return data


def open_index(settings: Settings) -> Index:
    """The index named by the settings, checked against the embedder they ask for."""
    return get_store(settings).open(settings.embedder or None)


def read_manifest(settings: Settings) -> dict:
    return get_store(settings).read_manifest()


def index_exists(settings: Settings) -> bool:
    return get_store(settings).exists()


def needs_build(settings: Settings) -> bool:
    """No index yet, or one an older notebot wrote: what the long-running apps build before serving
    (an upgrade takes seconds, vectors come from the embedding cache)."""
    if not index_exists(settings):
        return True
    try:
        read_manifest(settings)
    except OutdatedIndex:
        return True
    except NotebotError:
        pass  # damaged or unreachable: each question says what to do
    return False
