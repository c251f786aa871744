"""Retrieval and fusion: the passages of an Index that best match a query."""

from .retrieve import RETRIEVERS, Retriever, clean_query, embed_queries, embed_query, search, search_text

__all__ = ["RETRIEVERS", "Retriever", "clean_query", "embed_queries", "embed_query", "search", "search_text"]
