"""The index folder: manifest.json + chunks, FAISS vectors and BM25 postings, written atomically.

A build writes its data files under a fresh build id, then replaces manifest.json in one
os.replace; readers only follow the manifest. A crash at any point leaves the previous
manifest pointing at the previous, untouched files.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from . import __version__
from .cache import EmbeddingCache, cache_key
from .chunk import ChunkerConfig, chunk_document
from .embed import DEFAULT_EMBEDDER, Embedder, get_embedder
from .errors import NotebotError
from .lexical import BM25
from .load import load_corpus
from .records import Chunk
from .settings import Settings

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CACHE_FILE = "embed-cache.sqlite"
EMBED_BATCH = 16

Progress = Callable[[str, int, int], None]


def build_index(settings: Settings, progress: Progress | None = None, rebuild: bool = False,
                warn: Callable[[str], None] = lambda message: None) -> dict:
    """Index settings.corpus_dir into settings.index_dir; returns a report of what was done."""
    started = time.perf_counter()
    progress = progress or (lambda stage, done, total: None)
    index_dir = Path(settings.index_dir)
    documents = load_corpus(settings.corpus_dir, warn)
    if not documents:
        raise NotebotError(f"no notes in {settings.corpus_dir}", "add .md, .markdown or .txt files there and index again")
    config = ChunkerConfig()
    chunks = [chunk for doc in documents for chunk in chunk_document(doc, config)]
    if not chunks:
        raise NotebotError(f"the notes in {settings.corpus_dir} hold no text", "add some text to them and index again")
    previous = _previous_manifest(index_dir)
    # Re-indexing keeps the index's own embedder unless another one is asked for.
    embedder_name = settings.embedder or (previous["embedder"]["name"] if previous else DEFAULT_EMBEDDER)
    fingerprint = corpus_fingerprint(documents)
    if not rebuild and previous and _same_build(previous, embedder_name, config, settings.tokenizer, fingerprint):
        return {"files": len(documents), "chunks": len(chunks), "embedded": 0, "reused": len(chunks),
                "up_to_date": True, "seconds": time.perf_counter() - started}

    index_dir.mkdir(parents=True, exist_ok=True)
    embedder = get_embedder(embedder_name)
    vectors, embedded = _embed_with_cache(embedder, chunks, index_dir / CACHE_FILE, rebuild, progress)
    progress("lexical", 0, 1)
    lexical = BM25.build([chunk.embed_text for chunk in chunks], settings.tokenizer)
    progress("lexical", 1, 1)
    manifest = {
        "format_version": FORMAT_VERSION,
        "notebot_version": __version__,
        "embedder": {"name": embedder.name, "dim": embedder.dim},
        "chunker": config.to_json(),
        "tokenizer": settings.tokenizer,
        "corpus": {
            "dir": str(settings.corpus_dir),
            "fingerprint": fingerprint,
            "files": [{"path": d.path, "encoding": d.encoding, "chunks": sum(c.file == d.path for c in chunks)} for d in documents],
        },
        "counts": {"files": len(documents), "chunks": len(chunks)},
        "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "build_seconds": 0.0,
    }
    _write(index_dir, manifest, chunks, vectors, lexical)
    seconds = time.perf_counter() - started
    return {"files": len(documents), "chunks": len(chunks), "embedded": embedded, "reused": len(chunks) - embedded,
            "up_to_date": False, "seconds": seconds}


def _previous_manifest(index_dir: Path) -> dict | None:
    """The manifest being replaced, or None when there is none or it is damaged (a rebuild fixes that)."""
    try:
        return read_manifest(index_dir) if (index_dir / MANIFEST).exists() else None
    except NotebotError:
        return None


def corpus_fingerprint(documents) -> str:
    digest = hashlib.sha256()
    for doc in documents:
        digest.update(f"{doc.path}\0{hashlib.sha256(doc.text.encode()).hexdigest()}\n".encode())
    return digest.hexdigest()


def _same_build(manifest: dict, embedder_name: str, config: ChunkerConfig, tokenizer: str, fingerprint: str) -> bool:
    return (manifest["embedder"]["name"] == embedder_name and manifest["chunker"] == config.to_json()
            and manifest["tokenizer"] == tokenizer and manifest["corpus"]["fingerprint"] == fingerprint)


def _embed_with_cache(embedder: Embedder, chunks: list[Chunk], cache_path: Path, rebuild: bool, progress: Progress):
    cache = EmbeddingCache(cache_path)
    try:
        if rebuild:
            cache.clear()
        keys = [cache_key(embedder.name, chunk.embed_text) for chunk in chunks]
        known = cache.get_many(keys)
        todo = [i for i, key in enumerate(keys) if key not in known or len(known[key]) != embedder.dim]
        progress("embed", 0, len(todo))
        for start in range(0, len(todo), EMBED_BATCH):
            batch = todo[start : start + EMBED_BATCH]
            fresh = embedder.embed_passages([chunks[i].embed_text for i in batch])
            new = {keys[i]: fresh[row] for row, i in enumerate(batch)}
            cache.put_many(new)
            known.update(new)
            progress("embed", min(start + EMBED_BATCH, len(todo)), len(todo))
        vectors = np.stack([known[key] for key in keys]).astype(np.float32)
        return vectors, len(todo)
    finally:
        cache.close()


def _write(index_dir: Path, manifest: dict, chunks: list[Chunk], vectors: np.ndarray, lexical: BM25) -> None:
    import faiss

    build_id = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
    files = {"chunks": f"chunks-{build_id}.jsonl", "vectors": f"vectors-{build_id}.faiss", "lexical": f"lexical-{build_id}.json"}
    with open(index_dir / files["chunks"], "w", encoding="utf-8") as out:
        for chunk in chunks:
            out.write(json.dumps(chunk.to_json(), ensure_ascii=False) + "\n")
        _sync(out)
    flat = faiss.IndexFlatIP(vectors.shape[1])
    flat.add(vectors)
    faiss.write_index(flat, str(index_dir / files["vectors"]))
    with open(index_dir / files["lexical"], "w", encoding="utf-8") as out:
        out.write(json.dumps(lexical.to_json(), ensure_ascii=False))  # dumps uses the C encoder; dump does not
        _sync(out)
    manifest["files"] = files
    write_json_atomic(index_dir / MANIFEST, manifest)
    _remove_stale(index_dir, set(files.values()))


def write_json_atomic(path: Path, data: dict) -> None:
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(temporary, "w", encoding="utf-8") as out:
        json.dump(data, out, ensure_ascii=False, indent=2)
        _sync(out)
    os.replace(temporary, path)


def _sync(handle) -> None:
    handle.flush()
    os.fsync(handle.fileno())


def _remove_stale(index_dir: Path, keep: set[str]) -> None:
    for path in index_dir.iterdir():
        if path.name.split("-", 1)[0] in ("chunks", "vectors", "lexical") and path.name not in keep:
            path.unlink(missing_ok=True)


def read_manifest(index_dir: Path) -> dict:
    path = Path(index_dir) / MANIFEST
    if not path.exists():
        raise NotebotError(f"no index in {index_dir}", "build it with: notebot index")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        manifest["embedder"]["name"], manifest["files"]["chunks"]  # noqa: B018 - shape check
    except (ValueError, KeyError, TypeError):
        raise NotebotError(f"the index manifest {path} is damaged", "rebuild it with: notebot index --rebuild") from None
    if manifest.get("format_version") != FORMAT_VERSION:
        raise NotebotError(
            f"the index in {index_dir} has format {manifest.get('format_version')}, this notebot reads format {FORMAT_VERSION}",
            "rebuild it with: notebot index --rebuild",
        )
    return manifest


class Index:
    """A loaded index. The embedder is loaded on first use, so lexical search never pays for it."""

    def __init__(self, index_dir: Path, manifest: dict, chunks: list[Chunk], vectors, lexical: BM25, embedder: Embedder | None = None):
        self.index_dir = Path(index_dir)
        self.manifest = manifest
        self.chunks = chunks
        self.vectors = vectors  # a faiss index
        self.lexical = lexical
        self._embedder = embedder

    def next_chunk(self, chunk: Chunk) -> Chunk | None:
        """The chunk that continues `chunk` in its section, if the section was split."""
        if not hasattr(self, "_positions"):
            self._positions = {c.id: i for i, c in enumerate(self.chunks)}
        i = self._positions.get(chunk.id, -1) + 1
        if 0 < i < len(self.chunks) and self.chunks[i].file == chunk.file and self.chunks[i].headings == chunk.headings:
            return self.chunks[i]
        return None

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder(self.manifest["embedder"]["name"])
        return self._embedder

    @classmethod
    def load(cls, index_dir: Path, embedder: str | None = None) -> "Index":
        """Load and check an index; `embedder`, when given, must be the one it was built with."""
        import faiss

        index_dir = Path(index_dir)
        manifest = read_manifest(index_dir)
        built_with = manifest["embedder"]["name"]
        if embedder and embedder != built_with:
            raise NotebotError(
                f"the index in {index_dir} was built with embedder {built_with!r}, not {embedder!r}",
                f"rebuild it with: notebot index --embedder {embedder}   (or drop --embedder / NOTEBOT_EMBEDDER)",
            )
        damaged = NotebotError(f"the index in {index_dir} is damaged or incomplete", "rebuild it with: notebot index --rebuild")
        files = manifest["files"]
        try:
            with open(index_dir / files["chunks"], encoding="utf-8") as lines:
                chunks = [Chunk.from_json(json.loads(line)) for line in lines]
            vectors = faiss.read_index(str(index_dir / files["vectors"]))
            lexical = BM25.from_json(json.loads((index_dir / files["lexical"]).read_text(encoding="utf-8")))
        except (OSError, ValueError, KeyError, TypeError, RuntimeError):
            raise damaged from None
        count = manifest["counts"]["chunks"]
        if not (len(chunks) == count == vectors.ntotal == len(lexical.doc_lengths)) or vectors.d != manifest["embedder"]["dim"]:
            raise damaged
        return cls(index_dir, manifest, chunks, vectors, lexical)
