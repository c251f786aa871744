"""Hybrid retrieval: BM25 and vector search, fused by reciprocal rank."""

from __future__ import annotations

from typing import Protocol

import numpy as np

from .errors import NotebotError
from .index import Index
from .records import Hit
from .settings import MODES

MAX_QUERY_CHARS = 2000  # e5 reads 512 tokens; the rest of a pasted essay only adds noise
RRF_K = 5  # measured on the dev set with and without distractors (benchmarks/README.md)
CANDIDATES = 50


class Retriever(Protocol):
    """One retrieval mode: the best n (chunk position, score) pairs for a query, best first."""

    def __call__(self, index: Index, query: str, n: int) -> list[tuple[int, float]]: ...


def search(index: Index, query: str, k: int = 5, mode: str = "hybrid") -> list[Hit]:
    """The k best chunks for the query, best first."""
    query = clean_query(query)
    if mode not in MODES:
        raise NotebotError(f"unknown retrieval mode {mode!r}", f"use one of: {', '.join(MODES)}")
    if k < 1:
        raise NotebotError(f"-k {k} asks for no passages", "ask for at least 1")
    k = min(k, len(index.chunks))
    ranked = RETRIEVERS[mode](index, query, max(k, CANDIDATES))
    return [Hit(index.chunks[i], float(score), rank) for rank, (i, score) in enumerate(ranked[:k], start=1)]


def clean_query(query: str) -> str:
    query = " ".join((query or "").split())
    if not query:
        raise NotebotError("the question is empty", "type a question, e.g. notebot search \"S3 对象最大多大\"")
    return query[:MAX_QUERY_CHARS]


def _vector(index: Index, query: str, n: int) -> list[tuple[int, float]]:
    vector = index.embedder.embed_queries([query])
    scores, ids = index.vectors.search(np.ascontiguousarray(vector, dtype=np.float32), min(n, index.vectors.ntotal))
    return [(int(i), float(s)) for i, s in zip(ids[0], scores[0]) if i >= 0]


def _lexical(index: Index, query: str, n: int) -> list[tuple[int, float]]:
    scores = index.lexical.scores(query)
    n = min(n, len(scores))
    top = np.argpartition(-scores, n - 1)[:n]
    top = top[np.lexsort((top, -scores[top]))]  # by score, ties by chunk order: deterministic
    return [(int(i), float(scores[i])) for i in top if scores[i] > 0]


def _hybrid(index: Index, query: str, n: int) -> list[tuple[int, float]]:
    """Reciprocal-rank fusion. Rank sums tie often (1st + 3rd = 3rd + 1st), so ties go to the
    chunk with the higher sum of scores, each scaled by its list's best score."""
    fused: dict[int, float] = {}
    strength: dict[int, float] = {}
    for ranking in (_vector(index, query, n), _lexical(index, query, n)):
        best = max((score for _, score in ranking), default=1.0) or 1.0
        for rank, (i, score) in enumerate(ranking, start=1):
            fused[i] = fused.get(i, 0.0) + 1.0 / (RRF_K + rank)
            strength[i] = strength.get(i, 0.0) + score / best
    return sorted(fused.items(), key=lambda item: (-item[1], -strength[item[0]], item[0]))


RETRIEVERS: dict[str, Retriever] = {"hybrid": _hybrid, "vector": _vector, "lexical": _lexical}
