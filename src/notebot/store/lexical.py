"""BM25 over the chunks' tokens, as four plain numpy arrays that are memory-mapped, never parsed.

    lexical-terms.npy     uint8   every distinct term, UTF-8, sorted by bytes, concatenated
    lexical-offsets.npy   int64   (terms + 1, 2): where term i starts in terms / in docs+weights
    lexical-docs.npy      int32   posting lists: the chunk rows holding each term
    lexical-weights.npy   float32 BM25's term-frequency part for each posting (k1, b applied)

A term is found by binary search over the sorted terms (about 20 byte compares), so a cold
process reads only the pages it touches. IDF is computed at query time from the posting length.
`.npy` is a versioned, non-pickle format (`allow_pickle=False` when loading).
"""

from __future__ import annotations

import math
from array import array
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from ..tokenize import tokenize

K1, B = 1.2, 0.75
FILES = ("lexical-terms.npy", "lexical-offsets.npy", "lexical-docs.npy", "lexical-weights.npy")


def build_lexical(texts: Iterable[str], tokenizer: str) -> dict[str, np.ndarray]:
    """The four arrays (named as their files) for these chunk texts, row i = text i.

    Postings accumulate in flat typed arrays (4 bytes per posting and field, not a Python object
    per chunk), and `texts` may be a generator: 100k chunks build in well under 1 GB
    (benchmarks/README.md, "Scale")."""
    term_ids: dict[str, int] = {}
    term_of, tfs, lengths, sizes = array("i"), array("f"), array("f"), array("i")
    for text in texts:
        counts = Counter(tokenize(text, tokenizer))
        lengths.append(sum(counts.values()))
        sizes.append(len(counts))
        term_of.extend([term_ids.setdefault(t, len(term_ids)) for t in counts])
        tfs.extend(counts.values())
    n_terms, n_docs = len(term_ids), len(lengths)
    term_of, tf = np.frombuffer(term_of, np.int32), np.frombuffer(tfs, np.float32)
    doc_of = np.repeat(np.arange(n_docs, dtype=np.int32), np.frombuffer(sizes, np.int32))
    lengths = np.frombuffer(lengths, np.float32)
    norm = K1 * (1 - B + B * lengths / max(float(lengths.mean()) if n_docs else 0.0, 1e-9))
    weight = (tf * np.float32(K1 + 1) / (tf + norm[doc_of].astype(np.float32))).astype(np.float32)
    del tf, tfs

    encoded = [term.encode("utf-8") for term in term_ids]  # insertion order = term id
    del term_ids
    by_bytes = sorted(range(n_terms), key=encoded.__getitem__)
    rank = np.empty(n_terms, np.int32)
    rank[by_bytes] = np.arange(n_terms, dtype=np.int32)
    key = rank[term_of]
    del term_of
    # doc_of ascends already, so a stable sort by term groups the postings with their docs ascending
    order = np.argsort(key, kind="stable")
    offsets = np.zeros((n_terms + 1, 2), np.int64)
    offsets[1:, 0] = np.cumsum([len(encoded[i]) for i in by_bytes])
    offsets[1:, 1] = np.cumsum(np.bincount(key, minlength=n_terms))
    del key
    return {
        "lexical-terms.npy": np.frombuffer(b"".join(encoded[i] for i in by_bytes), np.uint8),
        "lexical-offsets.npy": offsets,
        "lexical-docs.npy": doc_of[order],
        "lexical-weights.npy": weight[order],
    }


class LexicalIndex:
    """BM25 search over the memory-mapped arrays of one build."""

    def __init__(self, arrays: dict[str, np.ndarray], n_docs: int, tokenizer: str):
        self.terms = arrays["lexical-terms.npy"]
        self.offsets = arrays["lexical-offsets.npy"]
        self.docs = arrays["lexical-docs.npy"]
        self.weights = arrays["lexical-weights.npy"]
        self.n_docs = n_docs
        self.tokenizer = tokenizer

    @classmethod
    def open(cls, folder: Path, n_docs: int, tokenizer: str, load: Callable[[Path], np.ndarray]) -> "LexicalIndex":
        return cls({name: load(folder / name) for name in FILES}, n_docs, tokenizer)

    def check(self) -> bool:
        """The arrays agree with each other (a cheap shape check, not a checksum)."""
        return (self.offsets.ndim == 2 and self.offsets.shape[1] == 2 and len(self.docs) == len(self.weights)
                and int(self.offsets[-1, 0]) == len(self.terms) and int(self.offsets[-1, 1]) == len(self.docs))

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
