"""Build an index: load the notes, chunk them, embed what the cache lacks, write the store.

Unchanged text is never embedded twice: vectors are cached by embedder + text (store/cache.py),
always in the index folder, whichever store holds the index. So a store whose data is damaged
is rewritten from the cache by a plain `notebot index`, without re-embedding.
"""

from __future__ import annotations

import hashlib
import time
from collections import Counter
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .. import __version__
from ..embed import DEFAULT_EMBEDDER, Embedder, get_embedder
from ..errors import NotebotError
from ..ingest.chunk import ChunkerConfig, chunk_document
from ..ingest.load import load_corpus
from ..progress import Progress, silent
from ..records import Chunk
from ..settings import Settings
from . import get_store
from .cache import EmbeddingCache, cache_key
from .local import CACHE_FILE, FORMAT_VERSION, writing
from .lock import writer_lock

EMBED_BATCH = 16


def build_index(settings: Settings, progress: Progress | None = None, rebuild: bool = False,
                warn: Callable[[str], None] = lambda message: None, max_new_embeddings: int | None = None) -> dict:
    """Index settings.corpus_dir into settings.index_dir; returns a report of what was done.
    One writer at a time per index folder: a second one waits for the first (store/lock.py).

    `max_new_embeddings` caps how many chunks this build embeds (0: lexical only); the rest get
    zero vectors until a later build, and manifest["vectors"] says how far embedding got.
    """
    with writer_lock(settings.index_dir, settings.lock_timeout, warn):
        return _build_index(settings, progress, rebuild, warn, max_new_embeddings)


def _build_index(settings: Settings, progress: Progress | None, rebuild: bool, warn: Callable[[str], None],
                 max_new_embeddings: int | None = None) -> dict:
    started = time.perf_counter()
    progress = progress or silent
    index_dir = Path(settings.index_dir)
    documents = load_corpus(settings.corpus_dir, warn)
    if not documents:
        raise NotebotError(f"no notes in {settings.corpus_dir}", "add .md, .markdown or .txt files there and index again")
    config = ChunkerConfig()
    chunks = [chunk for doc in documents for chunk in chunk_document(doc, config)]
    if not chunks:
        raise NotebotError(f"the notes in {settings.corpus_dir} hold no text", "add some text to them and index again")
    store = get_store(settings)
    if store.name != "local":
        # Milvus upserts chunks by id: a vector embedded in a later round would never replace the zeros.
        max_new_embeddings = None
    previous = store.previous_manifest()
    # Re-indexing keeps the index's own embedder unless another one is asked for.
    embedder_name = settings.embedder or (previous["embedder"]["name"] if previous else DEFAULT_EMBEDDER)
    fingerprint = corpus_fingerprint(documents)
    repaired: list[str] = []
    if not rebuild and previous and _same_build(previous, embedder_name, config, settings.tokenizer, fingerprint):
        repaired = store.damage(previous)
        if not repaired:
            return {"files": len(documents), "chunks": len(chunks), "embedded": 0, "reused": len(chunks),
                    "up_to_date": True, "repaired": [], "missing_vectors": 0, "seconds": time.perf_counter() - started}
        warn(f"the index in {store.location} is damaged ({', '.join(repaired)}): rewriting it from the embedding cache")

    with writing(index_dir):
        index_dir.mkdir(parents=True, exist_ok=True)
    embedder = get_embedder(embedder_name)
    vectors, embedded, missing = _embed_with_cache(embedder, chunks, index_dir / CACHE_FILE, rebuild, progress, warn,
                                                   max_new_embeddings)
    per_file = Counter(c.file for c in chunks)  # one pass: files x chunks took 100 s at 100k chunks
    manifest = {
        "format_version": FORMAT_VERSION,
        "notebot_version": __version__,
        "embedder": {"name": embedder.name, "dim": embedder.dim},
        "chunker": config.to_json(),
        "tokenizer": settings.tokenizer,
        "corpus": {
            "dir": str(settings.corpus_dir),
            "fingerprint": fingerprint,
            "files": [{"path": d.path, "encoding": d.encoding, "chunks": per_file[d.path]} for d in documents],
        },
        "counts": {"files": len(documents), "chunks": len(chunks)},
        # Chunks without a vector yet hold zeros and never match a vector search (see max_new_embeddings).
        "vectors": {"embedded": len(chunks) - missing, "total": len(chunks), "complete": missing == 0},
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    progress("write", 0, 1)
    manifest["build_seconds"] = round(time.perf_counter() - started, 2)  # embedding dominates; writing is seconds
    store.write(manifest, chunks, vectors, previous=previous, rebuild=rebuild)
    progress("write", 1, 1)
    seconds = time.perf_counter() - started
    return {"files": len(documents), "chunks": len(chunks), "embedded": embedded, "reused": len(chunks) - embedded - missing,
            "up_to_date": False, "repaired": repaired, "missing_vectors": missing, "seconds": seconds}


def corpus_fingerprint(documents) -> str:
    digest = hashlib.sha256()
    for doc in documents:
        digest.update(f"{doc.path}\0{hashlib.sha256(doc.text.encode()).hexdigest()}\n".encode())
    return digest.hexdigest()


def _same_build(manifest: dict, embedder_name: str, config: ChunkerConfig, tokenizer: str, fingerprint: str) -> bool:
    return (manifest["embedder"]["name"] == embedder_name and manifest["chunker"] == config.to_json()
            and manifest["tokenizer"] == tokenizer and manifest["corpus"]["fingerprint"] == fingerprint
            and manifest.get("vectors", {}).get("complete", True))


def _embed_with_cache(embedder: Embedder, chunks: list[Chunk], cache_path: Path, rebuild: bool, progress: Progress,
                      warn: Callable[[str], None], limit: int | None = None):
    cache = EmbeddingCache(cache_path, warn)
    try:
        if rebuild:
            cache.clear()
        keys = [cache_key(embedder.name, chunk.embed_text) for chunk in chunks]
        known = cache.get_many(keys)
        missing = {key: i for i, key in enumerate(keys) if key not in known or len(known[key]) != embedder.dim}
        todo = list(missing.values())  # one chunk per distinct text: identical texts are embedded once
        todo = todo if limit is None else todo[:limit]
        progress("embed", 0, len(todo))
        for start in range(0, len(todo), EMBED_BATCH):
            batch = todo[start : start + EMBED_BATCH]
            fresh = embedder.embed_passages([chunks[i].embed_text for i in batch])
            new = {keys[i]: fresh[row] for row, i in enumerate(batch)}
            cache.put_many(new)
            known.update(new)
            progress("embed", min(start + EMBED_BATCH, len(todo)), len(todo))
        empty = np.zeros(embedder.dim, dtype=np.float32)
        vectors = np.stack([known.get(key, empty) for key in keys], dtype=np.float32)  # one copy, not two
        return vectors, len(todo), sum(key not in known for key in keys)
    finally:
        cache.close()
