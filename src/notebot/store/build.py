"""Build an index: load the notes, chunk them, embed what the cache lacks, write the store.

Unchanged text is never embedded twice: vectors are cached by embedder + text (store/cache.py),
always in the index folder, whichever store holds the index. So a store whose data is damaged
is rewritten from the cache by a plain `notebot index`, without re-embedding.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .. import __version__
from ..embed import DEFAULT_EMBEDDER, Embedder, get_embedder
from ..errors import NotebotError
from ..ingest.chunk import ChunkerConfig, chunk_document
from ..ingest.load import NoteFile, scan_corpus
from ..progress import Progress, silent
from ..settings import Settings
from . import get_store
from .cache import EmbeddingCache, cache_key
from .local import CACHE_FILE, FORMAT_VERSION, BuildRows, writing
from .lock import writer_lock

EMBED_BATCH = 16


def build_index(settings: Settings, progress: Progress | None = None, rebuild: bool = False,
                warn: Callable[[str], None] = lambda message: None, max_new_embeddings: int | None = None,
                embed_all_up_to: int = 0) -> dict:
    """Index settings.corpus_dir into settings.index_dir; returns a report of what was done.
    One writer at a time per index folder: a second one waits for the first (store/lock.py).

    `max_new_embeddings` caps how many chunks this build embeds (0: lexical only); the rest get
    zero vectors until a later build, and manifest["vectors"] says how far embedding got — unless no
    more than `embed_all_up_to` chunks lack a vector: a small vault is embedded at once.
    """
    with writer_lock(settings.index_dir, settings.lock_timeout, warn):
        return _build_index(settings, progress, rebuild, warn, max_new_embeddings, embed_all_up_to)


def _build_index(settings: Settings, progress: Progress | None, rebuild: bool, warn: Callable[[str], None],
                 max_new_embeddings: int | None = None, embed_all_up_to: int = 0) -> dict:
    started = time.perf_counter()
    progress = progress or silent
    index_dir = Path(settings.index_dir)
    config = ChunkerConfig()
    store = get_store(settings)
    if store.name != "local":
        # Milvus upserts chunks by id: a vector embedded in a later round would never replace the zeros.
        max_new_embeddings = None
    previous = store.previous_manifest()
    # Re-indexing keeps the index's own embedder unless another one is asked for.
    embedder_name = settings.embedder or (previous["embedder"]["name"] if previous else DEFAULT_EMBEDDER)
    same_kind = _same_kind(previous, store.name, embedder_name, config, settings.tokenizer, rebuild)
    known = {entry["path"]: entry for entry in previous["corpus"]["files"]} if same_kind else {}
    scanned_at = time.time_ns()
    notes = scan_corpus(settings.corpus_dir, known, previous["corpus"].get("scanned_at_ns", 0) if same_kind else 0, warn)
    if not notes:
        raise NotebotError(f"no notes in {settings.corpus_dir}", "add .md, .markdown or .txt files there and index again")
    repaired: list[str] = []
    reuse = None
    if not rebuild and previous and _same_build(previous, embedder_name, config, settings.tokenizer, corpus_fingerprint(notes)):
        repaired = store.damage(previous)
        if not repaired:
            chunks = previous["counts"]["chunks"]
            return _report(notes, chunks, 0, chunks, 0, [], started, up_to_date=True)
        warn(f"the index in {store.location} is damaged ({', '.join(repaired)}): rewriting it from the embedding cache")
    elif same_kind:
        reuse = store.open_previous(previous)  # None when damaged or of an older format: everything is read
    embedder = get_embedder(embedder_name)
    if reuse is not None and reuse.vectors.shape[1] != embedder.dim:
        reuse = None
    if reuse is None and any(note.document is None for note in notes):
        scanned_at = time.time_ns()
        notes = scan_corpus(settings.corpus_dir, warn=warn)
    rows, files = _chunk_notes(notes, reuse, previous, known, config)
    if not len(rows):
        raise NotebotError(f"the notes in {settings.corpus_dir} hold no text", "add some text to them and index again")

    with writing(index_dir):
        index_dir.mkdir(parents=True, exist_ok=True)
    vectors, embedded, missing = _embed_with_cache(embedder, rows, index_dir / CACHE_FILE, rebuild, progress, warn,
                                                   max_new_embeddings, embed_all_up_to)
    manifest = _manifest(settings, embedder, config, notes, files, scanned_at, missing)
    progress("write", 0, 1)
    manifest["build_seconds"] = round(time.perf_counter() - started, 2)  # embedding dominates; writing is seconds
    store.write(manifest, rows, vectors, previous=previous, rebuild=rebuild)
    progress("write", 1, 1)
    return _report(notes, len(rows), embedded, len(rows) - embedded - missing, missing, repaired, started)


def _same_kind(previous: dict | None, store_name: str, embedder_name: str, config: ChunkerConfig, tokenizer: str,
               rebuild: bool) -> bool:
    """A previous local build made the same way: notes whose size and mtime it recorded are not read
    again, and their chunks, vectors and postings are copied from it (store/local.py, format 3)."""
    return (not rebuild and previous is not None and store_name == "local"
            and previous["embedder"]["name"] == embedder_name and previous["chunker"] == config.to_json()
            and previous["tokenizer"] == tokenizer)


def _chunk_notes(notes: list[NoteFile], reuse, previous: dict | None, known: dict[str, dict],
                 config: ChunkerConfig) -> tuple[BuildRows, list[dict]]:
    """The build's rows in corpus order (an unchanged note's copied from `reuse`, the rest chunked
    now) and each note's manifest entry."""
    rows = BuildRows(reuse)
    was = _previous_rows(previous) if reuse is not None else {}
    files = []
    for note in notes:
        part = was.get(note.path)
        if part is None or known[note.path].get("sha256") != note.sha256:
            part = chunk_document(note.document, config) if note.document is not None else []
        rows.add(part)
        files.append({"path": note.path, "encoding": note.encoding, "chunks": len(part), "size": note.size,
                      "mtime_ns": note.mtime_ns, "sha256": note.sha256})
    return rows, files


def _manifest(settings: Settings, embedder: Embedder, config: ChunkerConfig, notes: list[NoteFile], files: list[dict],
              scanned_at: int, missing: int) -> dict:
    chunks = sum(entry["chunks"] for entry in files)
    return {
        "format_version": FORMAT_VERSION,
        "notebot_version": __version__,
        "embedder": {"name": embedder.name, "dim": embedder.dim},
        "chunker": config.to_json(),
        "tokenizer": settings.tokenizer,
        "corpus": {
            "dir": str(settings.corpus_dir),
            "fingerprint": corpus_fingerprint(notes),
            "scanned_at_ns": scanned_at,  # notes modified this close before it are read again next time
            "files": files,
        },
        "counts": {"files": len(notes), "chunks": chunks},
        # Chunks without a vector yet hold zeros and never match a vector search (see max_new_embeddings).
        "vectors": {"embedded": chunks - missing, "total": chunks, "complete": missing == 0},
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }


def _report(notes: list[NoteFile], chunks: int, embedded: int, reused: int, missing: int, repaired: list[str],
            started: float, up_to_date: bool = False) -> dict:
    return {"files": len(notes), "chunks": chunks, "embedded": embedded, "reused": reused, "up_to_date": up_to_date,
            "repaired": repaired, "missing_vectors": missing, "notes_read": _read(notes),
            "seconds": time.perf_counter() - started}


def _read(notes: list[NoteFile]) -> int:
    return sum(note.document is not None for note in notes)


def _previous_rows(manifest: dict) -> dict[str, range]:
    """Each note's rows in a build: chunks are stored in corpus order, so counts give the ranges."""
    rows, at = {}, 0
    for entry in manifest["corpus"]["files"]:
        rows[entry["path"]] = range(at, at + entry["chunks"])
        at += entry["chunks"]
    return rows


def corpus_fingerprint(notes) -> str:
    """Paths and text of every note (NoteFile.sha256 is the SHA-256 of the text as read)."""
    digest = hashlib.sha256()
    for note in notes:
        text_sha = note.sha256 if hasattr(note, "sha256") else hashlib.sha256(note.text.encode()).hexdigest()
        digest.update(f"{note.path}\0{text_sha}\n".encode())
    return digest.hexdigest()


def _same_build(manifest: dict, embedder_name: str, config: ChunkerConfig, tokenizer: str, fingerprint: str) -> bool:
    return (manifest["embedder"]["name"] == embedder_name and manifest["chunker"] == config.to_json()
            and manifest["tokenizer"] == tokenizer and manifest["corpus"]["fingerprint"] == fingerprint
            and manifest.get("vectors", {}).get("complete", True))


def _embed_with_cache(embedder: Embedder, rows: BuildRows, cache_path: Path, rebuild: bool, progress: Progress,
                      warn: Callable[[str], None], limit: int | None = None, embed_all_up_to: int = 0):
    """The build's vectors: copied for reused rows that have one, from the cache or the embedder for
    the rest (at most `limit` embedded). Returns (vectors, how many embedded, how many still missing)."""
    vectors = np.zeros((len(rows), embedder.dim), np.float32)
    need: list[int] = []  # rows without a vector yet, in corpus order
    for start, part in rows.runs():
        if isinstance(part, range):
            block = np.asarray(rows.previous.vectors[part.start : part.stop])
            vectors[start : start + len(part)] = block
            if not rows.previous.manifest.get("vectors", {}).get("complete", True):
                need.extend((start + np.flatnonzero(~block.any(axis=1))).tolist())
        else:
            need.extend(range(start, start + len(part)))
    if not need and not rebuild:
        return vectors, 0, 0
    cache = EmbeddingCache(cache_path, warn)
    try:
        if rebuild:
            cache.clear()
        keys = [cache_key(embedder.name, rows[i].embed_text) for i in need]
        known = cache.get_many(list(dict.fromkeys(keys)))
        first: dict[str, int] = {}  # one row per distinct text: identical texts are embedded once
        for key, i in zip(keys, need):
            if (key not in known or len(known[key]) != embedder.dim) and key not in first:
                first[key] = i
        todo = list(first.values())
        todo = todo if limit is None or len(todo) <= embed_all_up_to else todo[:limit]
        progress("embed", 0, len(todo))
        for start in range(0, len(todo), EMBED_BATCH):
            batch = todo[start : start + EMBED_BATCH]
            fresh = embedder.embed_passages([rows[i].embed_text for i in batch])
            new = {cache_key(embedder.name, rows[i].embed_text): fresh[row] for row, i in enumerate(batch)}
            cache.put_many(new)
            known.update(new)
            progress("embed", min(start + EMBED_BATCH, len(todo)), len(todo))
        missing = 0
        for key, i in zip(keys, need):
            vector = known.get(key)
            if vector is not None and len(vector) == embedder.dim:
                vectors[i] = vector
            else:
                missing += 1
        return vectors, len(todo), missing
    finally:
        cache.close()
