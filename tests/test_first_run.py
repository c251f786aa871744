"""A big vault on the first run: keyword search at once, vectors in batches, nothing embedded is ever lost."""

import json

import pytest

from notebot.answer import ask
from notebot.apps.cli import main
from notebot.apps.watch import IndexKeeper
from notebot.search import search
from notebot.store import read_manifest
from notebot.store.build import build_index
from notebot.store.cache import EmbeddingCache
from notebot.store.local import CACHE_FILE, LocalIndex

SERVICES = ["S3", "DynamoDB", "Kinesis", "Redshift", "Glue", "Athena", "EMR", "Lambda"]
VAULT = {f"{name.lower()}.md": "".join(f"# {name} {n}\n- {name} 第 {n} 条笔记 note{n}\n\n" for n in range(5)) for name in SERVICES}
CHUNKS = 40


@pytest.fixture
def settings(write_notes, hash_settings):
    return hash_settings(write_notes(VAULT))


def test_a_keyword_index_comes_first_and_says_it_is_incomplete(settings, capsys):
    report = build_index(settings, max_new_embeddings=0)
    assert (report["embedded"], report["missing_vectors"], report["chunks"]) == (0, CHUNKS, CHUNKS)
    index = LocalIndex.load(settings.index_dir)
    assert index.manifest["vectors"] == {"embedded": 0, "total": CHUNKS, "complete": False}
    assert search(index, "Kinesis note3", 1, "hybrid")[0].chunk.file == "kinesis.md"
    assert search(index, "Kinesis note3", 5, "vector") == []
    answer = ask(index, "Kinesis 第 3 条笔记", settings)
    assert "still embedding (0 of 40 chunks)" in answer.notice
    assert main(["info", "--index-dir", str(settings.index_dir)]) == 0
    assert "embedded 0 of 40 chunks" in capsys.readouterr().out


def test_batches_add_vectors_and_a_later_build_embeds_only_the_rest(settings):
    assert build_index(settings, max_new_embeddings=15)["embedded"] == 15
    assert read_manifest(settings)["vectors"] == {"embedded": 15, "total": CHUNKS, "complete": False}
    second = build_index(settings)
    assert (second["embedded"], second["reused"], second["missing_vectors"]) == (CHUNKS - 15, 15, 0)
    assert read_manifest(settings)["vectors"]["complete"] is True
    assert build_index(settings)["up_to_date"]


def test_ctrl_c_mid_embedding_keeps_the_old_index_and_every_finished_batch(settings):
    build_index(settings, max_new_embeddings=0)
    before = read_manifest(settings)

    def interrupt_after_first_batch(stage, done, total):
        if stage == "embed" and done >= 16:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_index(settings, progress=interrupt_after_first_batch)
    assert read_manifest(settings) == before, "the keyword index is still the one served"
    cache = EmbeddingCache(settings.index_dir / CACHE_FILE)
    assert len(cache._db.execute("SELECT key FROM vectors").fetchall()) == 16
    cache.close()
    assert build_index(settings)["embedded"] == CHUNKS - 16


def test_the_keeper_finishes_embedding_in_rounds_and_matches_a_full_build(settings, tmp_path):
    build_index(settings, max_new_embeddings=0)
    changes = []
    keeper = IndexKeeper(lambda **options: build_index(settings, **options), lambda: read_manifest(settings),
                         on_change=changes.append, embed_round=12).start()
    try:
        assert keeper.wait_idle(60)
    finally:
        keeper.stop()
    assert keeper.rounds == 4  # 12 + 12 + 12 + 4
    assert [c.vectors["embedded"] for c in changes] == [12, 24, 36, 40]
    assert changes[0].summary() == "12 chunks embedded, embedded 12 of 40 chunks"
    full = settings.__class__.load(environ={}, corpus_dir=settings.corpus_dir, index_dir=tmp_path / "full", embedder="hash")
    build_index(full)
    kept, direct = LocalIndex.load(settings.index_dir), LocalIndex.load(full.index_dir)
    query = "Redshift 第 2 条笔记"
    assert [h.chunk.id for h in search(kept, query, 5, "hybrid")] == [h.chunk.id for h in search(direct, query, 5, "hybrid")]
    assert json.dumps(kept.manifest["vectors"]) == json.dumps(direct.manifest["vectors"])


def test_part_way_a_note_not_yet_embedded_still_ranks_as_its_keywords_say(settings):
    build_index(settings, max_new_embeddings=10)  # s3.md … only the first notes have vectors
    index = LocalIndex.load(settings.index_dir)
    assert len(index.missing_vectors()) == CHUNKS - 10
    for query in ["Redshift 第 2 条笔记 note2", "Lambda note4"]:
        expected = [h.chunk.id for h in search(index, query, 3, "lexical")]
        assert [h.chunk.id for h in search(index, query, 3, "hybrid")][0] == expected[0], query


def test_a_keyword_only_e5_index_answers_what_the_notes_hold_and_refuses_what_they_dont(tmp_path):
    from notebot.settings import Settings

    from conftest import SHIPPED_CORPUS

    settings = Settings.load(environ={}, corpus_dir=SHIPPED_CORPUS, index_dir=tmp_path / "index", embedder="e5-small-q4")
    build_index(settings, max_new_embeddings=0)  # no vector yet: the best cosine says nothing, it must not refuse
    index = LocalIndex.load(settings.index_dir)
    answer = ask(index, "DynamoDB 的 item 最大多大？", settings)
    assert not answer.refused and "400" in answer.hits[0].chunk.text and "still embedding" in answer.notice
    assert ask(index, "火星上的奥林匹斯山有多高？", settings).refused
