"""Every line of a build as one matrix: a chunk ranking by each chunk's best line.

In a vault the passage that answers is often one of many alike — a long note's sections, or a note
in Chinese asked about in English — and as a 600-character whole it ranks below its neighbours; its
answering line does not. Once every line of the index is embedded (the apps warm the line cache when
idle, `notebot index --lines` does it at once), their vectors are gathered into the build folder:

    index/build-<id>/line-vectors-v3.npy   float32 (lines, dim): each line as answers read it (lines.py)
    index/build-<id>/line-owners-v3.npy    int32 (lines,): the chunk row each line belongs to, ascending

(v3: lines.LINES_VERSION — files of another version are left alone and gathered anew.)

Hybrid search then fuses one more chunk ranking, by best line cosine, at the weight of a chunk
ranking (search/retrieve.py). The files belong to their build: a re-index writes a new build
without them, and search goes on without the ranking until the lines are gathered again (cached
lines are not embedded twice). They are derived data, written atomically and checked when read; a
missing or inconsistent pair only means the ranking is off. Measured on the whole vault in
benchmarks/README.md ("Line ranking").
"""

from __future__ import annotations

import weakref
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..store import Index, Scored
from ..store.local import write_atomic
from .lines import LINES_VERSION, line_vectors, own_line_texts, warm_line_cache

VECTORS_FILE = f"line-vectors-v{LINES_VERSION}.npy"
OWNERS_FILE = f"line-owners-v{LINES_VERSION}.npy"


@dataclass(frozen=True)
class LineMatrix:
    vectors: np.ndarray  # (lines, dim) float32, L2-normalised
    owners: np.ndarray  # (lines,) chunk rows, ascending
    starts: np.ndarray  # where each owning chunk's lines begin
    rows: np.ndarray  # the owning chunk of each run

    @classmethod
    def of(cls, vectors: np.ndarray, owners: np.ndarray) -> "LineMatrix":
        starts = np.flatnonzero(np.r_[True, owners[1:] != owners[:-1]]) if len(owners) else np.zeros(0, np.int64)
        return cls(vectors, owners, starts, owners[starts])

    def ranking(self, index: Index, query_vector: np.ndarray, n: int) -> Scored:
        """The n chunks whose best line is nearest the query, best first."""
        if not len(self.owners):
            return []
        best = np.maximum.reduceat(self.vectors @ np.asarray(query_vector, dtype=np.float32), self.starts)
        top = np.argpartition(-best, min(n, len(best)) - 1)[:n] if len(best) > n else np.arange(len(best))
        top = top[np.lexsort((self.rows[top], -best[top]))]
        return [(index.chunks[int(self.rows[i])], float(best[i])) for i in top]


def line_matrix(index: Index) -> LineMatrix | None:
    """The build's line matrix when its files are there and agree with the index, else None
    (read once per loaded index)."""
    try:
        return _LOADED[index]
    except KeyError:
        pass
    except TypeError:
        return None  # an index that can't be weakly referenced keeps no matrix
    matrix = _read(index)
    _LOADED[index] = matrix
    return matrix


def save_line_matrix(index: Index) -> LineMatrix | None:
    """Gather every line vector of the index (embedding any the cache lacks) into its build folder."""
    folder = _build_folder(index)
    if folder is None:
        return None
    texts, owners = [], []
    chunks = index.chunks
    for row in range(len(chunks)):
        own = own_line_texts(chunks[row])
        texts += own
        owners += [row] * len(own)
    matrix = LineMatrix.of(line_vectors(index, texts), np.asarray(owners, dtype=np.int32))
    try:
        for name, array in ((OWNERS_FILE, matrix.owners), (VECTORS_FILE, matrix.vectors)):
            write_atomic(folder / name, lambda out, array=array: np.save(out, np.ascontiguousarray(array), allow_pickle=False))
    except OSError:
        return None  # the build was replaced meanwhile, or the folder is read-only: search goes on without it
    _LOADED[index] = matrix
    return matrix


def warm_lines(index: Index, should_stop: Callable[[], bool], **options) -> int | None:
    """Embed every line the cache lacks (lines.warm_line_cache, which takes the `options`), gather
    the line matrix, then embed the lines of code blocks, which only answers read. Returns how many
    lines were embedded, or None when stopped first. Only a local build folder gathers lines: elsewhere
    (Milvus) a question embeds the lines it reads, once, and warming would fetch every chunk."""
    if _build_folder(index) is None:
        return 0
    embedded = warm_line_cache(index, should_stop, **options)
    if embedded is None or should_stop():
        return None
    if embedded or line_matrix(index) is None:
        save_line_matrix(index)
    code = warm_line_cache(index, should_stop, code=True, **options)
    return None if code is None else embedded + code


def _read(index: Index) -> LineMatrix | None:
    folder = _build_folder(index)
    if folder is None or not (folder / VECTORS_FILE).exists():
        return None
    try:
        vectors = np.load(folder / VECTORS_FILE, mmap_mode="r", allow_pickle=False)
        owners = np.load(folder / OWNERS_FILE, allow_pickle=False)
    except (OSError, ValueError):
        return None
    sound = (vectors.ndim == 2 and vectors.dtype == np.float32 and vectors.shape[1] == index.manifest["embedder"]["dim"]
             and owners.shape == (len(vectors),) and owners.dtype == np.int32
             and (not len(owners) or (owners[0] >= 0 and owners[-1] < len(index) and bool(np.all(np.diff(owners) >= 0)))))
    return LineMatrix.of(vectors, owners) if sound else None


def lines_gathered(index_dir: Path, manifest: dict) -> bool:
    """Whether the build holds its gathered line vectors (read without loading the index: `notebot info`)."""
    build = manifest.get("build")
    return bool(build) and (Path(index_dir) / build / VECTORS_FILE).exists()


def _build_folder(index: Index) -> Path | None:
    folder = getattr(index, "index_dir", None)
    build = index.manifest.get("build")
    return Path(folder) / build if folder is not None and build else None


_LOADED: "weakref.WeakKeyDictionary[Index, LineMatrix | None]" = weakref.WeakKeyDictionary()
