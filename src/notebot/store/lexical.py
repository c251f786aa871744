"""BM25 over the chunks' tokens, as plain numpy arrays that are memory-mapped, never parsed.

    lexical-terms.npy     uint8   every distinct term, UTF-8, sorted by bytes, concatenated
    lexical-offsets.npy   int64   (terms + 1, 2): where term i starts in terms / in docs+weights
    lexical-docs.npy      int32   posting lists: the chunk rows holding each term
    lexical-weights.npy   float32 BM25's term-frequency part for each posting (k1, b applied)
    lexical-tfs.npy       int32   the term's count in the chunk, for each posting
    lexical-lengths.npy   int32   each chunk's length in tokens

A term is found by binary search over the sorted terms (about 20 byte compares), so a cold
process reads only the pages it touches. IDF is computed at query time from the posting length.
The raw counts (tfs, lengths) let the next build keep an unchanged chunk's postings as they are and
tokenise only the chunks that changed (`update_lexical`): a re-index after a one-note edit costs a
few numpy passes over the postings, not a re-tokenisation of the vault.
`.npy` is a versioned, non-pickle format (`allow_pickle=False` when loading).
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..tokenize import tokenize

K1, B = 1.2, 0.75
FILES = ("lexical-terms.npy", "lexical-offsets.npy", "lexical-docs.npy", "lexical-weights.npy")
COUNT_FILES = ("lexical-tfs.npy", "lexical-lengths.npy")  # format 3: what an incremental build reuses


def build_lexical(texts: list[str], tokenizer: str) -> dict[str, np.ndarray]:
    """The arrays (named as their files) for these chunk texts, row i = text i."""
    return update_lexical(None, [texts], tokenizer)


def update_lexical(previous: "LexicalIndex | None", parts: Sequence[range | Sequence[str]], tokenizer: str) -> dict[str, np.ndarray]:
    """The arrays of a new build whose rows are `parts` in order: a `range` is rows of `previous`, kept
    with their postings as they are (never re-tokenised); a list of texts is new chunks, tokenised here.
    Only new chunks' terms are looked up in the previous vocabulary; BM25 weights are recomputed for
    all postings (the mean length moves), terms left without postings are dropped."""
    if any(isinstance(part, range) for part in parts) and (previous is None or previous.tfs is None):
        raise ValueError("rows of a previous build need its lexical counts (format 3)")
    counted = _count_rows(previous, parts, tokenizer)
    vocabulary = _merge_vocabulary(previous, list(counted.new_terms))
    rank, doc, tf = _merge_postings(previous, counted, vocabulary)
    blob, offsets, doc, tf = _group_by_term(vocabulary, rank, doc, tf)
    lengths = counted.lengths
    return {
        "lexical-terms.npy": blob,
        "lexical-offsets.npy": offsets,
        "lexical-docs.npy": doc,
        "lexical-weights.npy": bm25_weights(tf, lengths[doc] if len(doc) else np.zeros(0, np.int32), lengths),
        "lexical-tfs.npy": tf,
        "lexical-lengths.npy": lengths,
    }


@dataclass
class _Counted:
    """The new build's rows: each row's length, where each previous row went, the new chunks' postings."""

    lengths: np.ndarray  # int32, tokens per new row
    row_map: np.ndarray  # previous row -> new row (-1: gone)
    new_terms: dict[str, int]  # term -> local id, in order of first sight
    ids: np.ndarray  # int32 local term id of each new posting
    rows: np.ndarray  # int32 its new row
    counts: np.ndarray  # int32 its count


def _count_rows(previous: "LexicalIndex | None", parts: Sequence[range | Sequence[str]], tokenizer: str) -> _Counted:
    """Lay out the new rows and count the new chunks' (row, term, count) postings, chunk by chunk into
    flat 4-byte arrays: no list of every token (100k chunks hold ~30M tokens: gigabytes as strings)."""
    lengths = np.zeros(sum(len(part) for part in parts), np.int32)
    row_map = np.full(previous.n_docs if previous is not None else 0, -1, np.int64)
    new_terms: dict[str, int] = {}
    ids, rows, counts = array("i"), array("i"), array("i")
    at = 0
    for part in parts:
        if isinstance(part, range):
            row_map[part.start : part.stop] = np.arange(at, at + len(part))
            lengths[at : at + len(part)] = previous.lengths[part.start : part.stop]
        else:
            for i, text in enumerate(part):
                found = Counter(tokenize(text, tokenizer))
                lengths[at + i] = sum(found.values())
                ids.extend([new_terms.setdefault(term, len(new_terms)) for term in found])
                rows.extend([at + i] * len(found))
                counts.extend(found.values())
        at += len(part)
    as_int32 = lambda values: np.frombuffer(values, np.int32).copy() if values else np.zeros(0, np.int32)  # noqa: E731
    return _Counted(lengths, row_map, new_terms, as_int32(ids), as_int32(rows), as_int32(counts))


@dataclass
class _Vocabulary:
    """The merged vocabulary, sorted by bytes: the previous terms (already sorted) with the new ones slotted in."""

    blob: np.ndarray  # uint8, every merged term concatenated
    term_bytes: np.ndarray  # int64 length of each merged term
    old_rank: np.ndarray  # previous term -> merged rank
    local_rank: np.ndarray  # new term local id -> merged rank
    old_offsets: np.ndarray  # the previous build's offsets (a (1, 2) zero array for none)


def _merge_vocabulary(previous: "LexicalIndex | None", new_terms: list[str]) -> _Vocabulary:
    old_offsets = np.asarray(previous.offsets) if previous is not None else np.zeros((1, 2), np.int64)
    old_blob = np.asarray(previous.terms) if previous is not None else np.zeros(0, np.uint8)
    n_old = len(old_offsets) - 1
    encoded = [term.encode("utf-8") for term in new_terms]
    local_rank = np.empty(len(encoded), np.int64)
    added: list[tuple[bytes, int, int]] = []  # (term, local id, insert position) of terms the previous build never saw
    found_old = np.full(len(encoded), -1, np.int64)
    old_bytes, old_starts = (old_blob.tobytes(), old_offsets[:, 0].tolist()) if encoded and n_old else (b"", [0])
    for local, term in enumerate(encoded):
        row, insert_at = _search(old_bytes, old_starts, term) if n_old else (-1, 0)
        if row >= 0:
            found_old[local] = row
        else:
            added.append((term, local, insert_at))
    added.sort()
    inserts = np.asarray([insert_at for _, _, insert_at in added], np.int64)
    old_rank = np.arange(n_old, dtype=np.int64) + np.searchsorted(inserts, np.arange(n_old), side="right")
    for j, (_, local, insert_at) in enumerate(added):
        local_rank[local] = insert_at + j
    known = found_old >= 0
    local_rank[known] = old_rank[found_old[known]]
    term_bytes = np.zeros(n_old + len(added), np.int64)
    term_bytes[old_rank] = np.diff(old_offsets[:, 0])
    for j, (term, _, insert_at) in enumerate(added):
        term_bytes[insert_at + j] = len(term)
    pieces, cursor = [], 0
    for term, _, insert_at in added:
        if insert_at > cursor:
            pieces.append(old_blob[old_offsets[cursor, 0] : old_offsets[insert_at, 0]].tobytes())
        pieces.append(term)
        cursor = insert_at
    pieces.append(old_blob[old_offsets[cursor, 0] :].tobytes())
    return _Vocabulary(np.frombuffer(b"".join(pieces), np.uint8), term_bytes, old_rank, local_rank, old_offsets)


def _merge_postings(previous: "LexicalIndex | None", counted: _Counted,
                    vocabulary: _Vocabulary) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(merged term rank, new row, count) of every posting: the previous build's for the rows kept
    (re-numbered), then the new chunks' (taken out of `counted`). 4-byte integers throughout (a
    100k-chunk build holds ~13M postings), each temporary freed as it goes."""
    ranks, docs, tfs = [], [], []
    if previous is not None and len(previous.docs):
        old_offsets = vocabulary.old_offsets
        old_term = np.repeat(np.arange(len(old_offsets) - 1, dtype=np.int32), np.diff(old_offsets[:, 1]))
        old_doc = counted.row_map[np.asarray(previous.docs)]
        keep = old_doc >= 0
        ranks.append(vocabulary.old_rank[old_term[keep]].astype(np.int32))
        docs.append(old_doc[keep].astype(np.int32))
        tfs.append(np.asarray(previous.tfs)[keep])
        del old_term, old_doc, keep
    if len(counted.ids):
        ranks.append(vocabulary.local_rank[counted.ids].astype(np.int32))
        docs.append(counted.rows)
        tfs.append(counted.counts)
        empty = np.zeros(0, np.int32)
        counted.ids = counted.rows = counted.counts = empty  # handed over: freed once joined
    return _joined(ranks, np.int32), _joined(docs, np.int32), _joined(tfs, np.int32)


def _group_by_term(vocabulary: _Vocabulary, rank: np.ndarray, doc: np.ndarray,
                   tf: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Drop terms no chunk holds any more, then group postings by term (docs ascending): (terms blob,
    offsets, docs, tfs)."""
    per_term = np.bincount(rank, minlength=len(vocabulary.term_bytes))
    held = per_term > 0
    final = (np.cumsum(held) - 1).astype(np.int32)
    blob = vocabulary.blob[np.repeat(held, vocabulary.term_bytes)]
    order = np.lexsort((doc, final[rank]))
    offsets = np.zeros((int(held.sum()) + 1, 2), np.int64)
    offsets[1:, 0] = np.cumsum(vocabulary.term_bytes[held])
    offsets[1:, 1] = np.cumsum(per_term[held])
    return blob.astype(np.uint8), offsets, doc[order], tf[order]


def _joined(arrays: list[np.ndarray], dtype) -> np.ndarray:
    """One array of these (no copy when there is one), emptying the list so its parts can be freed."""
    joined = arrays[0] if len(arrays) == 1 else np.concatenate(arrays) if arrays else np.zeros(0, dtype)
    arrays.clear()
    return joined.astype(dtype, copy=False)


def bm25_weights(tf: np.ndarray, doc_lengths: np.ndarray, lengths: np.ndarray) -> np.ndarray:
    """BM25's term-frequency part of each posting: tf (k1 + 1) / (tf + k1 (1 - b + b len / mean len))."""
    mean = max(float(lengths.mean()) if len(lengths) else 0.0, 1e-9)
    tf = tf.astype(np.float32)
    norm = (K1 * (1 - B + B * doc_lengths.astype(np.float32) / mean)).astype(np.float32)
    return (tf * (K1 + 1) / (tf + norm)).astype(np.float32)


def _search(blob: bytes, starts: list[int], key: bytes) -> tuple[int, int]:
    """(row of the term or -1, how many terms sort before it) by binary search over the sorted terms."""
    low, high = 0, len(starts) - 1
    while low < high:
        middle = (low + high) // 2
        if blob[starts[middle] : starts[middle + 1]] < key:
            low = middle + 1
        else:
            high = middle
    if low < len(starts) - 1 and blob[starts[low] : starts[low + 1]] == key:
        return low, low
    return -1, low


class LexicalIndex:
    """BM25 search over the memory-mapped arrays of one build."""

    def __init__(self, arrays: dict[str, np.ndarray], n_docs: int, tokenizer: str):
        self.terms = arrays["lexical-terms.npy"]
        self.offsets = arrays["lexical-offsets.npy"]
        self.docs = arrays["lexical-docs.npy"]
        self.weights = arrays["lexical-weights.npy"]
        self.tfs = arrays.get("lexical-tfs.npy")  # None in an index built for search only (note outlines)
        self.lengths = arrays.get("lexical-lengths.npy")
        self.n_docs = n_docs
        self.tokenizer = tokenizer

    @classmethod
    def open(cls, folder: Path, n_docs: int, tokenizer: str, load: Callable[[Path], np.ndarray]) -> "LexicalIndex":
        return cls({name: load(folder / name) for name in FILES + COUNT_FILES}, n_docs, tokenizer)

    def check(self) -> bool:
        """The arrays agree with each other (a cheap shape check, not a checksum)."""
        counts = self.tfs is None or (len(self.tfs) == len(self.docs) and len(self.lengths) == self.n_docs)
        return (self.offsets.ndim == 2 and self.offsets.shape[1] == 2 and len(self.docs) == len(self.weights)
                and int(self.offsets[-1, 0]) == len(self.terms) and int(self.offsets[-1, 1]) == len(self.docs) and counts)

    def tokens(self, text: str) -> list[str]:
        return tokenize(text, self.tokenizer)

    def _row(self, term: str) -> int:
        """Binary search for the term among the sorted terms; -1 when the index never saw it."""
        key = term.encode("utf-8")
        low, high = 0, len(self.offsets) - 2
        while low <= high:
            middle = (low + high) // 2
            start, end = self.offsets[middle, 0], self.offsets[middle + 1, 0]
            found = self.terms[start:end].tobytes()
            if found == key:
                return middle
            if found < key:
                low = middle + 1
            else:
                high = middle - 1
        return -1

    def postings(self, term: str) -> tuple[np.ndarray, np.ndarray]:
        row = self._row(term)
        if row < 0:
            return np.zeros(0, np.int32), np.zeros(0, np.float32)
        start, end = self.offsets[row, 1], self.offsets[row + 1, 1]
        return self.docs[start:end], self.weights[start:end]

    def document_frequency(self, term: str) -> int:
        row = self._row(term)
        return 0 if row < 0 else int(self.offsets[row + 1, 1] - self.offsets[row, 1])

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for the query (0 where no term matches)."""
        scores = np.zeros(self.n_docs, dtype=np.float32)
        for term, count in Counter(self.tokens(query)).items():
            docs, weights = self.postings(term)
            if len(docs):
                idf = math.log(1 + (self.n_docs - len(docs) + 0.5) / (len(docs) + 0.5))
                scores[docs] += np.float32(count * idf) * weights
        return scores
