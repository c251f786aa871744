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
    old_rows = [part for part in parts if isinstance(part, range)]
    if old_rows and (previous is None or previous.tfs is None):
        raise ValueError("rows of a previous build need its lexical counts (format 3)")
    n_rows = sum(len(part) for part in parts)
    lengths = np.zeros(n_rows, np.int32)
    # previous row -> new row (-1: gone)
    row_map = np.full(previous.n_docs if previous is not None else 0, -1, np.int64)
    # New chunks' (row, term, count) postings, counted chunk by chunk into flat 4-byte arrays: no list
    # of every token (100k chunks hold ~30M tokens: gigabytes as Python strings).
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
    new_ids, new_docs, new_tfs = [], [], []
    if ids:
        new_ids = [np.frombuffer(ids, np.int32).copy()]
        new_docs = [np.frombuffer(rows, np.int32).copy()]
        new_tfs = [np.frombuffer(counts, np.int32).copy()]
    del ids, rows, counts

    # The merged vocabulary, sorted by bytes: the previous terms (already sorted) with the new ones slotted in.
    old_offsets = np.asarray(previous.offsets) if previous is not None else np.zeros((1, 2), np.int64)
    old_blob = np.asarray(previous.terms) if previous is not None else np.zeros(0, np.uint8)
    n_old = len(old_offsets) - 1
    encoded = [term.encode("utf-8") for term in new_terms]
    local_rank = np.empty(len(encoded), np.int64)  # new term local id -> rank in the merged vocabulary
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
    n_merged = n_old + len(added)
    term_bytes = np.zeros(n_merged, np.int64)
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
    blob = np.frombuffer(b"".join(pieces), np.uint8)

    # Postings: the previous build's for the rows kept (re-numbered), then the new chunks'. 4-byte
    # integers throughout (a 100k-chunk build holds ~13M postings), each temporary freed as it goes.
    if previous is not None and len(previous.docs):
        old_term = np.repeat(np.arange(n_old, dtype=np.int32), np.diff(old_offsets[:, 1]))
        old_doc = row_map[np.asarray(previous.docs)]
        keep = old_doc >= 0
        ranks = [old_rank[old_term[keep]].astype(np.int32)]
        docs = [old_doc[keep].astype(np.int32)]
        tfs = [np.asarray(previous.tfs)[keep]]
        del old_term, old_doc, keep
    else:
        ranks, docs, tfs = [], [], []
    if new_ids:
        ranks.append(local_rank[new_ids.pop()].astype(np.int32))
        docs.append(new_docs.pop())
        tfs.append(new_tfs.pop())
    rank = _joined(ranks, np.int32)
    doc = _joined(docs, np.int32)
    tf = _joined(tfs, np.int32)

    # Drop terms no chunk holds any more, then group postings by term (docs ascending).
    per_term = np.bincount(rank, minlength=n_merged)
    held = per_term > 0
    final = (np.cumsum(held) - 1).astype(np.int32)
    blob = blob[np.repeat(held, term_bytes)]
    rank = final[rank]
    order = np.lexsort((doc, rank))
    del rank
    offsets = np.zeros((int(held.sum()) + 1, 2), np.int64)
    offsets[1:, 0] = np.cumsum(term_bytes[held])
    offsets[1:, 1] = np.cumsum(per_term[held])
    doc = doc[order]
    tf = tf[order]
    del order
    return {
        "lexical-terms.npy": blob.astype(np.uint8),
        "lexical-offsets.npy": offsets,
        "lexical-docs.npy": doc,
        "lexical-weights.npy": bm25_weights(tf, lengths[doc] if len(doc) else np.zeros(0, np.int32), lengths),
        "lexical-tfs.npy": tf,
        "lexical-lengths.npy": lengths,
    }


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
