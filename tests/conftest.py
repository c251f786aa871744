"""Shared fixtures: the real shipped corpus indexed once with the default embedder, and tiny corpora."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import pytest

from notebot.store.build import build_index
from notebot.store.local import CACHE_FILE
from notebot.store.local import LocalIndex as Index
from notebot.settings import Settings

REPO = Path(__file__).resolve().parent.parent
SHIPPED_CORPUS = REPO / "corpus"


@pytest.fixture(scope="session")
def real_index(tmp_path_factory) -> Index:
    """The shipped notes, indexed with the default e5-small-q4 embedder (about 20 s, once)."""
    index_dir = tmp_path_factory.mktemp("real-index")
    build_index(Settings.load(environ={}, corpus_dir=SHIPPED_CORPUS, index_dir=index_dir))
    if keep := os.environ.get("NOTEBOT_TEST_EMBED_CACHE"):  # scripts/test.sh hands it to the quality gate
        Path(keep).parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(index_dir / CACHE_FILE, keep)
    return Index.load(index_dir)


@pytest.fixture
def write_notes(tmp_path):
    """write_notes({"a.md": "# A\\ntext"}) -> a corpus folder holding those files."""

    def write(files: dict[str, str | bytes], folder: str = "corpus") -> Path:
        root = tmp_path / folder
        root.mkdir(exist_ok=True)
        for name, content in files.items():
            path = root / name
            path.parent.mkdir(parents=True, exist_ok=True)
            if isinstance(content, bytes):
                path.write_bytes(content)
            else:
                path.write_text(content, encoding="utf-8")
        return root

    return write


@pytest.fixture
def hash_settings(tmp_path):
    """Settings for a tiny corpus indexed with the fast deterministic `hash` embedder."""

    def make(corpus: Path, **overrides) -> Settings:
        return Settings.load(environ={}, corpus_dir=corpus, index_dir=tmp_path / "index", embedder="hash", **overrides)

    return make


def cached_vectors(index_dir: Path) -> int:
    """How many vectors (chunks and lines) an index folder's embedding cache holds."""
    with sqlite3.connect(Path(index_dir) / CACHE_FILE) as db:
        return db.execute("SELECT COUNT(*) FROM vectors").fetchone()[0]
