"""The `local` store: one self-describing folder.

    index/manifest.json             what was built, how, and the size + SHA-256 of every data file
    index/embed-cache.sqlite        vectors by embedder + text (store/cache.py): repairs never re-embed
    index/build-<id>/chunks.jsonl   one chunk per line; chunk-offsets.npy says where each line starts
    index/build-<id>/vectors.npy    float32 (chunks, dim), L2-normalised; exact inner-product search
    index/build-<id>/lexical-*.npy  BM25 (store/lexical.py), with the raw counts a later build reuses
    index/build-<id>/glossary.json  the vault's bilingual term pairs (glossary.py), mined at build time
    index/build-<id>/characters.json  how many chunks hold each Chinese character, counted at build time

Format 4 (format 3 plus characters.json; format 3 added lexical-tfs/-lengths, glossary.json and each
note's size, mtime and SHA-256 in the manifest): a re-index reads only the notes whose size or mtime
changed, copies the unchanged notes' chunk lines, vectors and postings from the previous build, and
tokenises and embeds only new chunks; no query mines the glossary or counts characters over every chunk.

Every array is a `.npy` file, memory-mapped when loaded: a cold process reads only the pages a
query touches, so loading is milliseconds whatever the size. A build writes a fresh build-<id>
folder, then replaces manifest.json in one os.replace (the commit point), then removes older
builds. A crash at any point leaves the previous manifest pointing at the previous, untouched files;
a reader that loses a race with that removal reads the new manifest and retries.
"""

from __future__ import annotations

import bisect
import errno
import hashlib
import json
import os
import shutil
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

import numpy as np

from ..embed import Embedder, get_embedder
from ..errors import NotebotError, OutdatedIndex
from ..records import Chunk
from ..tokenize import chinese_character_counts
from . import Scored, read_json
from .lexical import LexicalIndex, update_lexical

if TYPE_CHECKING:
    from ..glossary import Glossary

FORMAT_VERSION = 4
MANIFEST = "manifest.json"
CACHE_FILE = "embed-cache.sqlite"
BUILD_PREFIX = "build-"
LEGACY_PREFIXES = ("chunks-", "vectors-", "lexical-")  # format 1 kept its data files beside the manifest
# Loading always checks every file's size; it also checks SHA-256 when the data is this small
# (about 20 ms on an idle 2-core machine: ~5k chunks with e5). `notebot index` always checks SHA-256.
VERIFY_AT_LOAD_BYTES = 16 * 2**20
LOAD_ATTEMPTS = 5
GLOSSARY = "glossary.json"
CHARACTERS = "characters.json"


def _lookup(i, length: int, row):
    """`sequence[i]` for an int (negative counts from the end) or a slice, through `row(valid index)`."""
    if isinstance(i, slice):
        return [row(j) for j in range(*i.indices(length))]
    if i < 0:
        i += length
    if not 0 <= i < length:
        raise IndexError(i)
    return row(i)


# ---- writing ---------------------------------------------------------------------------------

class BuildFolder:
    """The data files of one build, each written with its size and SHA-256 recorded for the manifest.
    To add a file to the index, write it here: the manifest, verification and clean-up follow."""

    def __init__(self, index_dir: Path):
        self.name = BUILD_PREFIX + datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S") + "-" + uuid.uuid4().hex[:6]
        self.path = Path(index_dir) / self.name
        self.path.mkdir()
        self.files: dict[str, dict] = {}

    def write_array(self, name: str, array: np.ndarray) -> None:
        with self._open(name) as out:
            np.save(out, np.ascontiguousarray(array), allow_pickle=False)

    def write_text(self, name: str, text: str) -> None:
        with self._open(name) as out:
            out.write(text.encode("utf-8"))

    @contextmanager
    def _open(self, name: str):
        with open(self.path / name, "wb") as handle:
            out = _Checksummed(handle)
            yield out
            handle.flush()
            os.fsync(handle.fileno())
        self.files[name] = {"bytes": out.size, "sha256": out.digest.hexdigest()}


class _Checksummed:
    """A write-only file that hashes what passes through it (np.save writes to any .write())."""

    def __init__(self, handle):
        self.handle, self.digest, self.size = handle, hashlib.sha256(), 0

    def write(self, data) -> int:
        data = memoryview(data).cast("B")
        self.digest.update(data)
        self.size += len(data)
        return self.handle.write(data)


class BuildRows(Sequence[Chunk]):
    """The chunks of a new build in order, as runs: rows of the previous build (a `range` of rows of
    `previous`, copied as they are: chunk lines, vectors, postings) or freshly chunked notes (a list).
    Reading a reused row parses it from the previous build, so a store that needs Chunk objects
    (Milvus) can still iterate."""

    def __init__(self, previous: "LocalIndex | None" = None):
        self.previous = previous
        self.parts: list[range | list[Chunk]] = []
        self._starts = [0]

    @classmethod
    def of(cls, chunks: Sequence[Chunk]) -> "BuildRows":
        return chunks if isinstance(chunks, BuildRows) else cls().add(list(chunks))

    def add(self, part: range | list[Chunk]) -> "BuildRows":
        if isinstance(part, range) and self.previous is None:
            raise ValueError("rows of a previous build, without one")
        if len(part):
            self.parts.append(part)
            self._starts.append(self._starts[-1] + len(part))
        return self

    def __len__(self) -> int:
        return self._starts[-1]

    def __getitem__(self, i):
        return _lookup(i, len(self), self._row)

    def _row(self, i: int) -> Chunk:
        k = bisect.bisect_right(self._starts, i) - 1
        part, offset = self.parts[k], i - self._starts[k]
        return self.previous.chunks[part[offset]] if isinstance(part, range) else part[offset]

    def __iter__(self) -> Iterator[Chunk]:
        for part in self.parts:
            yield from (self.previous.chunks[row] for row in part) if isinstance(part, range) else part

    def runs(self) -> Iterator[tuple[int, range | list[Chunk]]]:
        """(first new row, part) for each part."""
        return zip(self._starts, self.parts)


def write_index(index_dir: Path, manifest: dict, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
    """Write a new build folder, then swap the manifest in (the commit point), then drop older builds.
    `chunks` may be BuildRows: runs of the previous build are copied, never re-serialised or re-tokenised."""
    index_dir = Path(index_dir)
    rows = BuildRows.of(chunks)
    with writing(index_dir):
        folder = BuildFolder(index_dir)
        try:
            offsets = _write_chunk_lines(folder, rows)
            folder.write_array("chunk-offsets.npy", offsets)
            folder.write_array("vectors.npy", np.asarray(vectors, np.float32))
            previous = rows.previous.lexical if rows.previous is not None else None
            parts = [part if isinstance(part, range) else [c.embed_text for c in part] for part in rows.parts]
            for name, array in update_lexical(previous, parts, manifest["tokenizer"]).items():
                folder.write_array(name, array)
            from ..glossary import mine_glossary  # its regexes cost ~40 ms to compile: only when writing or searching

            texts = [c.text for c in rows]
            folder.write_text(GLOSSARY, json.dumps(mine_glossary(texts).to_json(), ensure_ascii=False))
            folder.write_text(CHARACTERS, json.dumps(chinese_character_counts(texts), ensure_ascii=False))
            _sync_folder(folder.path)
            manifest = {**manifest, "store": "local", "build": folder.name, "files": folder.files,
                        "lexical": {"k1": 1.2, "b": 0.75}}
            write_json_atomic(index_dir / MANIFEST, manifest)
        except BaseException:
            shutil.rmtree(folder.path, ignore_errors=True)  # a failed build leaves nothing behind
            raise
    remove_stale(index_dir, keep=folder.name)


def _write_chunk_lines(folder: BuildFolder, rows: BuildRows) -> np.ndarray:
    """chunks.jsonl: reused runs copied byte for byte from the previous build, new chunks serialised."""
    offsets = [np.zeros(1, np.int64)]
    written = 0
    with folder._open("chunks.jsonl") as out:
        for _, part in rows.runs():
            if isinstance(part, range):
                table = rows.previous.chunks
                start, end = int(table.offsets[part.start]), int(table.offsets[part.stop])
                out.write(table.raw(start, end))
                offsets.append(np.asarray(table.offsets[part.start + 1 : part.stop + 1], np.int64) - start + written)
                written += end - start
            else:
                ends = []
                for chunk in part:
                    data = (json.dumps(chunk.to_json(), ensure_ascii=False) + "\n").encode("utf-8")
                    out.write(data)
                    written += len(data)
                    ends.append(written)
                offsets.append(np.asarray(ends, np.int64))
    return np.concatenate(offsets)


@contextmanager
def writing(index_dir: Path):
    """Turn a failed write (disk full, read-only folder, file too large) into a one-line error."""
    try:
        yield
    except OSError as problem:
        raise write_error(index_dir, problem) from None


def write_error(index_dir: Path, problem: OSError) -> NotebotError:
    if problem.errno in (errno.ENOSPC, errno.EDQUOT, errno.EFBIG):
        hint = "free some disk space and index again (the previous index, if any, is intact)"
    elif problem.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        hint = "make the folder writable, or choose another with --index-dir"
    else:
        hint = "check the folder and index again (the previous index, if any, is intact)"
    return NotebotError(f"could not write the index in {index_dir}: {problem.strerror or problem}", hint)


def write_json_atomic(path: Path, data: dict) -> None:
    write_atomic(path, lambda out: out.write(json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")))


def write_atomic(path: Path, write: Callable[[BinaryIO], object]) -> None:
    """Write a file whole or not at all: `write` fills a temporary file, synced, then renamed over `path`."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as out:
            write(out)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _sync_folder(path: Path) -> None:
    descriptor = os.open(path, os.O_RDONLY)
    try:
        os.fsync(descriptor)
    finally:
        os.close(descriptor)


def remove_stale(index_dir: Path, keep: str) -> None:
    """Remove earlier builds (and format-1 data files). Readers holding them open keep reading."""
    for path in Path(index_dir).iterdir():
        if path.name.startswith(BUILD_PREFIX) and path.name != keep and path.is_dir():
            shutil.rmtree(path, ignore_errors=True)
        elif path.name.startswith(LEGACY_PREFIXES) and path.is_file():
            path.unlink(missing_ok=True)


# ---- reading ---------------------------------------------------------------------------------

def read_manifest(index_dir: Path) -> dict:
    path = Path(index_dir) / MANIFEST
    if not path.exists():
        raise NotebotError(f"no index in {index_dir}", "build it with: notebot index")
    try:
        manifest = read_json(path)
        manifest["embedder"]["name"]  # noqa: B018 - shape check
    except (ValueError, KeyError, TypeError):
        raise NotebotError(f"the index manifest {path} is damaged", "repair it with: notebot index") from None
    if manifest.get("store", "local") != "local":
        raise NotebotError(f"the index in {index_dir} lives in the {manifest['store']!r} store, not 'local'",
                           "drop --store / NOTEBOT_STORE, or index again with --store local")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise OutdatedIndex(
            f"the index in {index_dir} has format {manifest.get('format_version')}, this notebot reads format {FORMAT_VERSION}",
            "upgrade it with: notebot index   (vectors come from the embedding cache)",
        )
    try:
        manifest["build"], manifest["files"]["vectors.npy"]["sha256"]  # noqa: B018 - shape check
    except (KeyError, TypeError):
        raise NotebotError(f"the index manifest {path} is damaged", "repair it with: notebot index") from None
    return manifest


def damaged_files(index_dir: Path, manifest: dict, full: bool = True) -> list[str]:
    """The data files of the manifest's build that are missing, of the wrong size or (full) whose
    SHA-256 differs. An empty list means the build is sound."""
    folder = Path(index_dir) / manifest["build"]
    damaged = []
    for name, expected in manifest["files"].items():
        path = folder / name
        try:
            if path.stat().st_size != expected["bytes"] or (full and _sha256(path) != expected["sha256"]):
                damaged.append(name)
        except FileNotFoundError:
            damaged.append(name)
    return damaged


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as data:
        while block := data.read(2**22):
            digest.update(block)
    return digest.hexdigest()


class _BuildGone(Exception):
    """The manifest's build folder vanished under us: a concurrent rebuild replaced it."""


class LocalIndex:
    """A loaded local index (the `Index` protocol). Arrays are memory-mapped; chunks are parsed when
    touched; the embedder is loaded on first use, so lexical search never pays for it."""

    def __init__(self, index_dir: Path, manifest: dict, chunks: "ChunkTable", vectors: np.ndarray,
                 lexical: LexicalIndex, embedder: Embedder | None = None):
        self.index_dir = Path(index_dir)
        self.cache_dir = self.index_dir
        self.location = str(index_dir)
        self.manifest = manifest
        self.chunks = chunks
        self.vectors = vectors  # (chunks, dim) float32, row i = chunks[i]
        self.lexical = lexical
        self._embedder = embedder
        self._missing: set[str] | None = None
        self._glossary = None
        self._characters: dict[str, int] | None = None

    def __len__(self) -> int:
        return len(self.chunks)

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            embedder = get_embedder(self.manifest["embedder"]["name"])
            if embedder.dim != self.vectors.shape[1]:  # the model behind the name changed (an st: folder replaced)
                raise NotebotError(
                    f"embedder {embedder.name!r} now gives {embedder.dim}-dimensional vectors, the index in "
                    f"{self.index_dir} holds {self.vectors.shape[1]}-dimensional ones",
                    "rebuild it with: notebot index --rebuild",
                )
            self._embedder = embedder
        return self._embedder

    @property
    def glossary(self) -> "Glossary":
        """The vault's glossary, as mined when the index was written (read on first use)."""
        if self._glossary is None:
            from ..glossary import Glossary

            try:
                data = json.loads((self.index_dir / self.manifest["build"] / GLOSSARY).read_text(encoding="utf-8"))
                self._glossary = Glossary.from_json(data)
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                raise self._damaged(self.index_dir, f"{GLOSSARY} cannot be read") from None
        return self._glossary

    @property
    def character_frequencies(self) -> dict[str, int]:
        """How many chunks hold each Chinese character, as counted when the index was written."""
        if self._characters is None:
            try:
                data = json.loads((self.index_dir / self.manifest["build"] / CHARACTERS).read_text(encoding="utf-8"))
                self._characters = {str(char): int(count) for char, count in data.items()}
            except (OSError, ValueError, KeyError, TypeError, AttributeError):
                raise self._damaged(self.index_dir, f"{CHARACTERS} cannot be read") from None
        return self._characters

    def vector_search(self, vector: np.ndarray, n: int) -> Scored:
        # Exact search for one query is a memory-bound matrix-vector product over the mapped array;
        # numpy does it without FAISS's ~1 s import in a cold process (benchmarks/README.md, "Scale").
        query = np.asarray(vector, dtype=np.float32).reshape(-1)
        # While embedding is incomplete, chunks still without a vector hold zeros: never a match.
        partial = not self.manifest.get("vectors", {}).get("complete", True)
        return self._top(self.vectors @ query, n, keep=(lambda score: score != 0.0) if partial else (lambda score: True))

    def missing_vectors(self) -> set[str]:
        """Ids of the chunks still without a vector (a first run embedding in rounds); empty once complete."""
        if self.manifest.get("vectors", {}).get("complete", True):
            return set()
        if self._missing is None:
            self._missing = {self.chunks[int(i)].id for i in np.flatnonzero(~np.asarray(self.vectors).any(axis=1))}
        return self._missing

    def _top(self, scores: np.ndarray, n: int, keep) -> Scored:
        n = min(n, len(scores))
        if n == 0:
            return []
        top = np.argpartition(-scores, n - 1)[:n]
        top = top[np.lexsort((top, -scores[top]))]  # by score, ties by chunk order: deterministic
        return [(self.chunks[int(i)], float(scores[i])) for i in top if keep(scores[i])]

    def lexical_search(self, query: str, n: int) -> Scored:
        return self._top(self.lexical.scores(query), n, keep=lambda score: score > 0)  # only chunks sharing a term

    def tokens(self, text: str) -> list[str]:
        return self.lexical.tokens(text)

    def document_frequencies(self, terms: list[str]) -> dict[str, int]:
        found = {t: self.lexical.document_frequency(t) for t in terms}
        return {t: df for t, df in found.items() if df}

    def next_chunk(self, chunk: Chunk) -> Chunk | None:
        return self._neighbour(chunk, +1)

    def previous_chunk(self, chunk: Chunk) -> Chunk | None:
        return self._neighbour(chunk, -1)

    def _neighbour(self, chunk: Chunk, step: int) -> Chunk | None:
        """The chunk `step` places away in corpus order, when it is in the same section."""
        i = self.chunks.position(chunk) + step
        if 0 <= i < len(self.chunks) and i - step >= 0:
            neighbour = self.chunks[i]
            if neighbour.file == chunk.file and neighbour.headings == chunk.headings:
                return neighbour
        return None

    @classmethod
    def load(cls, index_dir: Path, embedder: str | None = None) -> "LocalIndex":
        """Load and check an index; `embedder`, when given, must be the one it was built with."""
        index_dir = Path(index_dir)
        for _ in range(LOAD_ATTEMPTS):
            manifest = read_manifest(index_dir)
            built_with = manifest["embedder"]["name"]
            if embedder and embedder != built_with:
                raise NotebotError(
                    f"the index in {index_dir} was built with embedder {built_with!r}, not {embedder!r}",
                    f"rebuild it with: notebot index --embedder {embedder}   (or drop --embedder / NOTEBOT_EMBEDDER)",
                )
            try:
                return cls._open(index_dir, manifest)
            except _BuildGone:
                if _current_build(index_dir) == manifest["build"]:
                    raise cls._damaged(index_dir, "files are missing") from None
                # A rebuild swapped the manifest after we read it: read the new one.
        raise NotebotError(f"the index in {index_dir} keeps changing while it loads", "try again when the re-index has finished")

    @classmethod
    def _open(cls, index_dir: Path, manifest: dict, verified: bool = False) -> "LocalIndex":
        folder = index_dir / manifest["build"]
        if not folder.is_dir():
            raise _BuildGone
        total = sum(entry["bytes"] for entry in manifest["files"].values())
        damaged = [] if verified else damaged_files(index_dir, manifest, full=total <= VERIFY_AT_LOAD_BYTES)
        if damaged and (not folder.is_dir() or _current_build(index_dir) != manifest["build"]):
            raise _BuildGone  # a rebuild swapped the manifest and is removing this build's files: not damage
        if damaged:
            raise cls._damaged(index_dir, ", ".join(damaged) + (" differ from the manifest" if len(damaged) > 1 else " differs from the manifest"))
        try:
            count, dim = manifest["counts"]["chunks"], manifest["embedder"]["dim"]
            chunks = ChunkTable(folder / "chunks.jsonl", _load_array(folder / "chunk-offsets.npy"))
            vectors = _load_array(folder / "vectors.npy")
            lexical = LexicalIndex.open(folder, count, manifest["tokenizer"], _load_array)
        except FileNotFoundError:
            raise _BuildGone from None
        except (OSError, ValueError, KeyError, TypeError):
            if _current_build(index_dir) != manifest["build"]:
                raise _BuildGone from None
            raise cls._damaged(index_dir, "a data file cannot be read") from None
        if not (len(chunks) == count and vectors.shape == (count, dim) and vectors.dtype == np.float32 and lexical.check()):
            raise cls._damaged(index_dir, "its data files disagree with the manifest")
        return cls(index_dir, manifest, chunks, vectors, lexical)

    @staticmethod
    def _damaged(index_dir: Path, what: str) -> NotebotError:
        return NotebotError(f"the index in {index_dir} is damaged ({what})",
                            "repair it with: notebot index   (vectors come from the embedding cache)")


def _current_build(index_dir: Path) -> str | None:
    try:
        return json.loads((Path(index_dir) / MANIFEST).read_text(encoding="utf-8")).get("build")
    except (OSError, ValueError, AttributeError):
        return None


def _load_array(path: Path) -> np.ndarray:
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError:  # an empty array cannot be mapped; it costs nothing to read
        return np.load(path, allow_pickle=False)


class ChunkTable(Sequence[Chunk]):
    """The chunks of a build, parsed one line at a time when asked for (os.pread: thread-safe).
    An open descriptor keeps reading a build that a concurrent rebuild has since removed."""

    def __init__(self, path: Path, offsets: np.ndarray):
        self._descriptor = os.open(path, os.O_RDONLY)
        self._offsets = offsets
        self._positions: dict[str, int] = {}  # chunk id -> row, for chunks handed out

    def __len__(self) -> int:
        return len(self._offsets) - 1

    @property
    def offsets(self) -> np.ndarray:
        """Where each line starts (bytes), plus the end."""
        return self._offsets

    def raw(self, start: int, end: int) -> bytes:
        """Bytes start..end of the file (whole lines when both are offsets)."""
        data = os.pread(self._descriptor, end - start, start)
        if len(data) != end - start:
            raise OSError(errno.EIO, "the chunk file is shorter than its offsets")
        return data

    def __getitem__(self, i):
        return _lookup(i, len(self), self._row)

    def _row(self, i: int) -> Chunk:
        start, end = int(self._offsets[i]), int(self._offsets[i + 1])
        chunk = Chunk.from_json(json.loads(os.pread(self._descriptor, end - start, start)))
        self._positions[chunk.id] = i
        return chunk

    def __iter__(self) -> Iterator[Chunk]:
        with open(self._descriptor, encoding="utf-8", closefd=False) as lines:
            lines.seek(0)
            for line in lines:
                yield Chunk.from_json(json.loads(line))

    def position(self, chunk: Chunk) -> int:
        """The row of a chunk this table handed out, or -1."""
        return self._positions.get(chunk.id, -1)

    def __del__(self):
        try:
            os.close(self._descriptor)
        except (OSError, AttributeError):
            pass


class LocalStore:
    """The `local` backend as build.py and the commands see it (the `Store` protocol)."""

    name = "local"

    def __init__(self, settings):
        self.index_dir = Path(settings.index_dir)
        self.location = str(self.index_dir)

    def describe(self) -> str:
        return f"local  {self.index_dir}"

    def exists(self) -> bool:
        return (self.index_dir / MANIFEST).exists()

    def read_manifest(self) -> dict:
        return read_manifest(self.index_dir)

    def previous_manifest(self) -> dict | None:
        """The manifest being replaced; None when there is none or it is unreadable (a build fixes that)."""
        try:
            return read_manifest(self.index_dir) if self.exists() else None
        except NotebotError:
            return None

    def damage(self, manifest: dict) -> list[str]:
        return damaged_files(self.index_dir, manifest, full=True)

    def write(self, manifest: dict, chunks: list[Chunk], vectors: np.ndarray, previous: dict | None = None,
              rebuild: bool = False) -> None:
        write_index(self.index_dir, manifest, chunks, vectors)

    def open(self, embedder: str | None = None) -> LocalIndex:
        return LocalIndex.load(self.index_dir, embedder)

    def open_previous(self, manifest: dict) -> LocalIndex | None:
        """The build a new one may copy unchanged notes from (the writer lock is held, so it stays):
        None unless it is format 3 and passes the full check (a damaged build is never copied)."""
        if self.damage(manifest):
            return None
        try:
            index = LocalIndex._open(self.index_dir, manifest, verified=True)
        except (NotebotError, _BuildGone):
            return None
        return index if index.lexical.tfs is not None else None
