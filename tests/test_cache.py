"""A damaged embedding cache costs re-embedding, never a build: it is set aside with a warning."""

import numpy as np
import pytest

from notebot.store.build import build_index
from notebot.store.cache import EmbeddingCache, cache_key
from notebot.store.local import CACHE_FILE
from notebot.store.local import LocalIndex as Index

PAGE = 4096


def notes(count: int) -> dict[str, str]:
    return {f"note{i:03d}.md": f"# 第 {i} 篇\n对象存储的第 {i} 条笔记，S3 bucket {i}。\n" for i in range(count)}


def damage_pages(path) -> None:
    """Overwrite every page after the first with garbage: the header and schema stay intact. The header's
    change counter moves on, as another writer's would, so an open connection re-reads the pages."""
    data = bytearray(path.read_bytes())
    assert len(data) > 8 * PAGE
    rng = np.random.default_rng(0)
    data[PAGE:] = rng.integers(0, 256, len(data) - PAGE, dtype=np.uint8).tobytes()
    data[24:28] = (int.from_bytes(data[24:28], "big") + 1).to_bytes(4, "big")
    path.write_bytes(bytes(data))


@pytest.mark.parametrize("rebuild", [False, True], ids=["index", "rebuild"])
def test_a_cache_with_bad_pages_is_set_aside_and_new_notes_still_get_indexed(write_notes, hash_settings, rebuild):
    corpus = write_notes(notes(60))
    settings = hash_settings(corpus)
    build_index(settings)
    cache = settings.index_dir / CACHE_FILE
    damage_pages(cache)
    (corpus / "new.md").write_text("# New\nfresh text about Glacier\n", encoding="utf-8")
    warnings = []
    report = build_index(settings, rebuild=rebuild, warn=warnings.append)
    # A plain index copies the unchanged notes' vectors from the previous build; --rebuild embeds all.
    assert report["chunks"] == 61 and report["embedded"] == (61 if rebuild else 1)
    assert any("embedding cache" in w and "damaged" in w and CACHE_FILE in w for w in warnings), warnings
    assert (settings.index_dir / (CACHE_FILE + ".damaged")).exists()
    assert any("Glacier" in c.text for c in Index.load(settings.index_dir).chunks)
    assert build_index(settings)["up_to_date"] and build_index(settings, rebuild=True)["embedded"] == 61


def test_a_cache_whose_header_is_garbage_is_set_aside_at_open(tmp_path):
    path = tmp_path / CACHE_FILE
    path.write_bytes(b"not a sqlite file at all" * 1000)
    warnings = []
    cache = EmbeddingCache(path, warnings.append)
    cache.put_many({"k": np.ones(4, np.float32)})
    assert list(cache.get_many(["k"])) == ["k"] and len(warnings) == 1
    cache.close()


def test_damage_found_at_write_keeps_what_this_run_already_read(tmp_path):
    path = tmp_path / CACHE_FILE
    cache = EmbeddingCache(path)
    old = {cache_key("hash", f"text {i}"): np.full(256, i, np.float32) for i in range(100)}
    cache.put_many(old)
    cache.close()
    warnings = []
    cache = EmbeddingCache(path, warnings.append)
    assert len(cache.get_many(list(old))) == 100
    damage_pages(path)  # the disk goes bad between this run's read and its write
    cache.put_many({"new": np.zeros(256, np.float32)})
    assert len(warnings) == 1
    cache.close()
    fresh = EmbeddingCache(path)
    assert len(fresh.get_many([*old, "new"])) == 101
    fresh.close()


def test_a_cache_that_cannot_grow_is_a_one_line_error_and_the_index_stays(write_notes, hash_settings):
    import os
    import resource
    import signal
    import subprocess
    import sys

    corpus = write_notes(notes(3))
    settings = hash_settings(corpus)
    build_index(settings)
    write_notes({f"more{i:03d}.md": f"# More {i}\nanother note {i}\n" for i in range(400)})

    def small_files():  # files may not grow past 200 KB: the cache's next batch hits the limit
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (200_000, 200_000))

    run = subprocess.run([sys.executable, "-m", "notebot", "index", str(corpus), "--index-dir", str(settings.index_dir)],
                         env={**os.environ, "NOTEBOT_EMBEDDER": "hash"}, preexec_fn=small_files,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 1 and "Traceback" not in run.stderr, run.stderr
    assert run.stderr.startswith("error: cannot write the embedding cache")
    assert len(Index.load(settings.index_dir).chunks) == 3
