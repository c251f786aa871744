"""Retrieval modes over an Index: BM25, vectors, and their fusion by reciprocal rank."""

from __future__ import annotations

from typing import Protocol

from ..errors import NotebotError
from ..records import Hit
from ..settings import MODES
from ..store import Index, Scored

MAX_QUERY_CHARS = 2000  # e5 reads 512 tokens; the rest of a pasted essay only adds noise
RRF_K = 5  # measured on the dev set with and without distractors (benchmarks/README.md)
CANDIDATES = 50


class Retriever(Protocol):
    """One retrieval mode: the best n (chunk, score) pairs for a query, best first."""

    def __call__(self, index: Index, query: str, n: int) -> Scored: ...


def search(index: Index, query: str, k: int = 5, mode: str = "hybrid") -> list[Hit]:
    """The k best chunks for the query, best first."""
    query = clean_query(query)
    if mode not in MODES:
        raise NotebotError(f"unknown retrieval mode {mode!r}", f"use one of: {', '.join(MODES)}")
    if k < 1:
        raise NotebotError(f"-k {k} asks for no passages", "ask for at least 1")
    k = min(k, len(index))
    ranked = RETRIEVERS[mode](index, query, max(k, CANDIDATES))
    return [Hit(chunk, float(score), rank) for rank, (chunk, score) in enumerate(ranked[:k], start=1)]


def clean_query(query: str) -> str:
    query = " ".join((query or "").split())
    if not query:
        raise NotebotError("the question is empty", "type a question, e.g. notebot search \"S3 对象最大多大\"")
    return query[:MAX_QUERY_CHARS]


def vector(index: Index, query: str, n: int) -> Scored:
    if index.manifest.get("vectors", {}).get("embedded") == 0:
        return []  # a first run's keyword-only index (apps/watch.py): no model load for nothing
    return index.vector_search(index.embedder.embed_queries([query])[0], n)


def lexical(index: Index, query: str, n: int) -> Scored:
    return index.lexical_search(query, n)


def hybrid(index: Index, query: str, n: int) -> Scored:
    """Reciprocal-rank fusion. Rank sums tie often (1st + 3rd = 3rd + 1st), so ties go to the
    chunk with the higher sum of scores, each scaled by its list's best score; then corpus order.
    A store that fuses inside its engine (Milvus) does it there, with the same k."""
    if hasattr(index, "hybrid_search"):
        return index.hybrid_search(query, index.embedder.embed_queries([query])[0], n, RRF_K)
    fused: dict[str, float] = {}
    strength: dict[str, float] = {}
    chunks = {}
    keywords = lexical(index, query, n)
    # While a first run is still embedding, a chunk without a vector has no vector rank: it is credited
    # its keyword rank twice, so an unembedded answer is not buried under embedded near-misses.
    unembedded = index.missing_vectors() if hasattr(index, "missing_vectors") else set()
    stand_ins = [(chunk, score) if chunk.id in unembedded else None for chunk, score in keywords]
    for ranking, scale in ((vector(index, query, n), None), (keywords, None), (stand_ins, keywords)):
        best = max((pair[1] for pair in scale or ranking if pair), default=1.0) or 1.0
        for rank, pair in enumerate(ranking, start=1):
            if pair is None:
                continue
            chunk, score = pair
            chunks[chunk.id] = chunk
            fused[chunk.id] = fused.get(chunk.id, 0.0) + 1.0 / (RRF_K + rank)
            strength[chunk.id] = strength.get(chunk.id, 0.0) + score / best
    order = {chunk_id: position for position, chunk_id in enumerate(chunks)}
    ranked = sorted(fused, key=lambda cid: (-fused[cid], -strength[cid], order[cid]))
    return [(chunks[cid], fused[cid]) for cid in ranked]


RETRIEVERS: dict[str, Retriever] = {"hybrid": hybrid, "vector": vector, "lexical": lexical}
