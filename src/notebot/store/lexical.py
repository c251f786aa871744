"""BM25 over the chunks' tokens, stored as plain JSON postings (no pickle)."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np

from ..tokenize import TOKENIZER_NAME, tokenize


class BM25:
    def __init__(self, postings: dict[str, tuple[list[int], list[int]]], doc_lengths: list[int], k1: float = 1.2, b: float = 0.75,
                 tokenizer: str = TOKENIZER_NAME):
        self.tokenizer = tokenizer
        self.postings = postings
        self.doc_lengths = np.asarray(doc_lengths, dtype=np.float32)
        self.k1, self.b = k1, b
        self.avg_length = float(self.doc_lengths.mean()) if len(doc_lengths) else 0.0

    def tokens(self, text: str) -> list[str]:
        return tokenize(text, self.tokenizer)

    @classmethod
    def build(cls, texts: list[str], tokenizer: str = TOKENIZER_NAME) -> "BM25":
        postings: dict[str, tuple[list[int], list[int]]] = {}
        lengths = []
        for doc_id, text in enumerate(texts):
            counts = Counter(tokenize(text, tokenizer))
            lengths.append(sum(counts.values()))
            for term, tf in counts.items():
                ids, tfs = postings.setdefault(term, ([], []))
                ids.append(doc_id)
                tfs.append(tf)
        return cls(postings, lengths, tokenizer=tokenizer)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk for the query (0 where no term matches)."""
        scores = np.zeros(len(self.doc_lengths), dtype=np.float32)
        n_docs = len(self.doc_lengths)
        for term, weight in Counter(self.tokens(query)).items():
            if term not in self.postings:
                continue
            ids, tfs = self.postings[term]
            ids = np.asarray(ids)
            tf = np.asarray(tfs, dtype=np.float32)
            idf = math.log(1 + (n_docs - len(ids) + 0.5) / (len(ids) + 0.5))
            norm = self.k1 * (1 - self.b + self.b * self.doc_lengths[ids] / max(self.avg_length, 1e-9))
            scores[ids] += weight * idf * tf * (self.k1 + 1) / (tf + norm)
        return scores

    def to_json(self) -> dict:
        return {
            "tokenizer": self.tokenizer,
            "k1": self.k1,
            "b": self.b,
            "doc_lengths": self.doc_lengths.astype(int).tolist(),
            "postings": {term: [ids, tfs] for term, (ids, tfs) in self.postings.items()},
        }

    @classmethod
    def from_json(cls, data: dict) -> "BM25":
        postings = {term: (ids, tfs) for term, (ids, tfs) in data["postings"].items()}
        return cls(postings, data["doc_lengths"], data["k1"], data["b"], data["tokenizer"])
