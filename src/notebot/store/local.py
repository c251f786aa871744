"""The `local` store: one self-describing folder — manifest.json + chunks, FAISS vectors, BM25 postings.

A build writes its data files under a fresh build id, then replaces manifest.json in one
os.replace; readers only follow the manifest. A crash at any point leaves the previous
manifest pointing at the previous, untouched files.
"""

from __future__ import annotations

import json
import os
import uuid
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..embed import Embedder, get_embedder
from ..errors import NotebotError
from ..records import Chunk
from . import Scored
from .lexical import BM25

FORMAT_VERSION = 1
MANIFEST = "manifest.json"
CACHE_FILE = "embed-cache.sqlite"


def write_index(index_dir: Path, manifest: dict, chunks: list[Chunk], vectors: np.ndarray, lexical: BM25) -> None:
    """Write the data files under a fresh build id, then swap the manifest in (the commit point)."""
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


class LocalIndex:
    """A loaded local index (the `Index` protocol). The embedder is loaded on first use, so lexical
    search never pays for it."""

    def __init__(self, index_dir: Path, manifest: dict, chunks: list[Chunk], vectors, lexical: BM25,
                 embedder: Embedder | None = None):
        self.index_dir = Path(index_dir)
        self.location = str(index_dir)
        self.manifest = manifest
        self.chunks = chunks
        self.vectors = vectors  # a faiss index, row i = chunks[i]
        self.lexical = lexical
        self._embedder = embedder
        self._positions = {c.id: i for i, c in enumerate(chunks)}
        self._missing = None

    def __len__(self) -> int:
        return len(self.chunks)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            embedder = get_embedder(self.manifest["embedder"]["name"])
            if embedder.dim != self.vectors.d:  # the model behind the name changed (an st: folder replaced)
                raise NotebotError(
                    f"embedder {embedder.name!r} now gives {embedder.dim}-dimensional vectors, the index in "
                    f"{self.index_dir} holds {self.vectors.d}-dimensional ones",
                    "rebuild it with: notebot index --rebuild",
                )
            self._embedder = embedder
        return self._embedder

    def vector_search(self, vector: np.ndarray, n: int) -> Scored:
        query = np.ascontiguousarray(np.asarray(vector, dtype=np.float32).reshape(1, -1))
        scores, ids = self.vectors.search(query, min(n, self.vectors.ntotal))
        # While embedding is incomplete, chunks still without a vector hold zeros: never a match.
        partial = not self.manifest.get("vectors", {}).get("complete", True)
        return [(self.chunks[int(i)], float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0 and not (partial and s == 0.0)]

    def missing_vectors(self) -> set[str]:
        """Ids of the chunks still without a vector (a first run embedding in rounds); empty once complete."""
        if self.manifest.get("vectors", {}).get("complete", True):
            return set()
        if self._missing is None:
            rows = self.vectors.reconstruct_n(0, self.vectors.ntotal)
            self._missing = {self.chunks[int(i)].id for i in np.flatnonzero(~rows.any(axis=1))}
        return self._missing

    def lexical_search(self, query: str, n: int) -> Scored:
        scores = self.lexical.scores(query)
        n = min(n, len(scores))
        if n == 0:
            return []
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.lexsort((top, -scores[top]))]  # by score, ties by chunk order: deterministic
        return [(self.chunks[int(i)], float(scores[i])) for i in top if scores[i] > 0]

    def tokens(self, text: str) -> list[str]:
        return self.lexical.tokens(text)

    def document_frequencies(self, terms: list[str]) -> dict[str, int]:
        return {t: len(self.lexical.postings[t][0]) for t in terms if t in self.lexical.postings}

    def next_chunk(self, chunk: Chunk) -> Chunk | None:
        i = self._positions.get(chunk.id, -1) + 1
        if 0 < i < len(self.chunks) and self.chunks[i].file == chunk.file and self.chunks[i].headings == chunk.headings:
            return self.chunks[i]
        return None

    @classmethod
    def load(cls, index_dir: Path, embedder: str | None = None) -> "LocalIndex":
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
