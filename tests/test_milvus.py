"""The `milvus` store, for real: Milvus Lite inside the test process (no mocks of pymilvus)."""

import shutil
import subprocess
import sys
import threading
import time
from dataclasses import replace

import pytest

from notebot.errors import NotebotError
from notebot.search import search
from notebot.search.coverage import weigh_slots
from notebot.settings import Settings
from notebot.store import get_store, open_index
from notebot.store.build import build_index
from notebot.store.local import CACHE_FILE
from tests.conftest import SHIPPED_CORPUS

NOTES = {"aws.md": "# S3\n对象最大 5TB。\n# DynamoDB\nitem 最大 400KB。\n", "gcp.md": "# BigQuery\n列式数据仓库。\n"}


@pytest.fixture
def milvus_settings(hash_settings):
    def make(corpus, **overrides):
        return hash_settings(corpus, store="milvus", **overrides)

    return make


def stored_rows(settings) -> dict[str, str]:
    """chunk id -> file, as the collection holds them."""
    index = open_index(replace(settings, store=""))
    return {c.id: c.file for c in index.chunks}


@pytest.fixture(scope="module")
def shipped_milvus_index(real_index, tmp_path_factory):
    """The shipped notes in Milvus Lite with e5-small-q4, vectors taken from the real index's cache."""
    index_dir = tmp_path_factory.mktemp("milvus-index")
    shutil.copy(real_index.index_dir / CACHE_FILE, index_dir / CACHE_FILE)
    settings = Settings.load(environ={}, corpus_dir=SHIPPED_CORPUS, index_dir=index_dir, store="milvus")
    assert build_index(settings)["embedded"] == 0
    return open_index(Settings.load(environ={}, index_dir=index_dir))


def test_a_chinese_question_finds_its_passage_in_milvus(shipped_milvus_index):
    hits = search(shipped_milvus_index, "DynamoDB 的 item 最大多大？", k=5)
    assert any("400KB" in hit.chunk.text for hit in hits)
    assert hits[0].chunk.heading_path.endswith("DynamoDB")


def test_an_english_question_finds_its_chinese_passage_in_milvus(shipped_milvus_index):
    hits = search(shipped_milvus_index, "What is the maximum size of a single S3 object?", k=5)
    assert any("5TB" in hit.chunk.text for hit in hits)


@pytest.mark.parametrize("mode", ["vector", "lexical"])
def test_each_mode_ranks_by_its_own_search_in_milvus(shipped_milvus_index, mode):
    hits = search(shipped_milvus_index, "Kinesis Firehose", k=3, mode=mode)
    assert [h.rank for h in hits] == [1, 2, 3] and "Kinesis" in hits[0].chunk.embed_text


def test_the_index_remembers_its_store_and_info_names_it(write_notes, milvus_settings):
    settings = milvus_settings(write_notes(NOTES))
    build_index(settings)
    plain = replace(settings, store="")
    assert get_store(plain).name == "milvus"
    get_store(settings).close()  # one process per Lite file: the CLI below needs it
    run = subprocess.run([sys.executable, "-m", "notebot", "info", "--index-dir", str(settings.index_dir)],
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert "milvus" in run.stdout and "milvus.db" in run.stdout and "3 chunks" in run.stdout


def test_editing_a_note_changes_only_its_chunks(write_notes, milvus_settings):
    corpus = write_notes(NOTES)
    settings = milvus_settings(corpus)
    build_index(settings)
    collection = get_store(settings).read_manifest()["collection"]
    before = stored_rows(settings)
    (corpus / "gcp.md").write_text("# BigQuery\n列式数据仓库，按扫描量计费。\n", encoding="utf-8")
    report = build_index(settings)
    after = stored_rows(settings)
    assert report["embedded"] == 1
    assert get_store(settings).read_manifest()["collection"] == collection  # updated in place, not rebuilt
    assert {i for i, f in before.items() if f == "aws.md"} == {i for i, f in after.items() if f == "aws.md"}
    assert {i for i, f in before.items() if f == "gcp.md"}.isdisjoint(after)
    assert "按扫描量计费" in search(open_index(settings), "按扫描量计费", k=1, mode="lexical")[0].chunk.text


def test_deleting_a_note_removes_its_chunks(write_notes, milvus_settings):
    corpus = write_notes(NOTES)
    settings = milvus_settings(corpus)
    build_index(settings)
    (corpus / "gcp.md").unlink()
    build_index(settings)
    assert set(stored_rows(settings).values()) == {"aws.md"}
    assert all(h.chunk.file == "aws.md" for h in search(open_index(settings), "BigQuery 列式数据仓库", k=5))


def test_both_stores_fuse_hybrid_alike_with_the_vaults_glossary(write_notes, hash_settings):
    notes = {"glossary.md": "# 术语表\n- 驱逐策略（Eviction Policy）\n", "cache.md": "# 缓存\n常见的驱逐策略有 LRU 和 LFU。\n",
             "office.md": "# 办公\n每天九点上班，周五下午开会。\n"}
    corpus = write_notes(notes)
    local = hash_settings(corpus)
    milvus = replace(local, store="milvus", index_dir=corpus.parent / "milvus-index")
    build_index(local), build_index(milvus)
    indexes = [open_index(local), open_index(milvus)]
    assert [i.glossary.expand("eviction policy") for i in indexes] == [["驱逐策略"], ["驱逐策略"]]
    ranked = [[h.chunk.file for h in search(i, "Which eviction policy options exist?", k=3)] for i in indexes]
    assert ranked[0] == ranked[1] and ranked[1].index("cache.md") < ranked[1].index("office.md")


def test_both_stores_count_chinese_characters_alike_and_a_question_reads_no_chunk_for_them(write_notes, hash_settings):
    corpus = write_notes(NOTES)
    local = hash_settings(corpus)
    milvus = replace(local, store="milvus", index_dir=corpus.parent / "milvus-index")
    build_index(local), build_index(milvus)
    (corpus / "gcp.md").write_text("# BigQuery\n列式数据仓库，最大按扫描量计费。\n", encoding="utf-8")
    build_index(local), build_index(milvus)  # Milvus updates the collection in place, with its counts
    counted = [open_index(local).character_frequencies, open_index(milvus).character_frequencies]
    assert counted[0] == counted[1] and (counted[1]["最"], counted[1]["列"]) == (3, 1)
    # A cluster of millions of chunks: weighing a question's characters must not fetch every chunk.
    weighed = weigh_slots("列式对象最大多大？", WithoutChunks(open_index(milvus)))
    assert weighed.char_frequencies == {"列": 1, "式": 1, "象": 1}


def test_milvus_counts_each_terms_documents_as_the_local_index_does_as_notes_change(write_notes, hash_settings):
    corpus = write_notes(NOTES)
    local = hash_settings(corpus)
    milvus = replace(local, store="milvus", index_dir=corpus.parent / "milvus-index")
    terms = ["最大", "s3", "dynamodb", "bigquery", "列式", "扫描", "计费", "从未出现"]
    for edit in ("# BigQuery\n列式数据仓库，按扫描量计费。\n", None):  # a note changed, then one deleted
        build_index(local), build_index(milvus)
        counted = [open_index(local).document_frequencies(terms), open_index(milvus).document_frequencies(terms)]
        assert counted[0] == counted[1] and "从未出现" not in counted[1]
        if edit:
            (corpus / "gcp.md").write_text(edit, encoding="utf-8")
    (corpus / "gcp.md").unlink()
    build_index(local), build_index(milvus)
    counted = [open_index(local).document_frequencies(terms), open_index(milvus).document_frequencies(terms)]
    assert counted[0] == counted[1] == {"最大": 2, "s3": 1, "dynamodb": 1}


class WithoutChunks:
    """An index whose every chunk cannot be read: what a query may not need from a large cluster."""

    def __init__(self, index):
        self._index = index

    def __getattr__(self, name):
        if name == "chunks":
            raise AssertionError("a query read every chunk")
        return getattr(self._index, name)

    def __len__(self):
        return len(self._index)


def test_a_rebuild_switches_the_alias_while_queries_keep_answering(write_notes, milvus_settings):
    settings = milvus_settings(write_notes(NOTES))
    build_index(settings)
    old = get_store(settings).read_manifest()["collection"]
    index = open_index(settings)
    answers, failures = [], []

    def ask_meanwhile():
        while not done.is_set():
            try:
                # an answer also weighs its terms, in the build's terms collection that the rebuild drops
                answers.append((search(index, "DynamoDB item", k=1)[0].chunk.headings, index.document_frequencies(["dynamodb"])))
            except Exception as problem:  # noqa: BLE001 - any failure fails the test
                failures.append(problem)

    done = threading.Event()
    asker = threading.Thread(target=ask_meanwhile)
    asker.start()
    try:
        build_index(settings, rebuild=True)
        time.sleep(0.2)
    finally:
        done.set()
        asker.join()
    store = get_store(settings)
    assert store.read_manifest()["collection"] != old and old not in store.client.list_collections()
    assert not failures and answers and {(headings, str(counts)) for headings, counts in answers} == {(("DynamoDB",), "{'dynamodb': 1}")}


def test_an_index_built_with_another_embedder_is_refused(write_notes, milvus_settings):
    settings = milvus_settings(write_notes(NOTES))
    build_index(settings)
    with pytest.raises(NotebotError, match="built with embedder 'hash', not 'e5-small-q4'.*--embedder e5-small-q4"):
        open_index(replace(settings, embedder="e5-small-q4"))


def test_an_unreachable_server_is_one_line_naming_the_uri(tmp_path):
    uri = "http://127.0.0.1:9"
    started = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "notebot", "search", "S3", "--store", "milvus", "--milvus-uri", uri,
                          "--index-dir", str(tmp_path / "index")], capture_output=True, text=True, timeout=60)
    assert run.returncode == 1 and time.perf_counter() - started < 30
    assert run.stderr.startswith(f"error: cannot reach Milvus at {uri}") and len(run.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("uri, message", [("ftp://host:19530", "not a file path or http"), ("notes.sqlite", "does not end in .db")])
def test_a_malformed_milvus_uri_is_refused(tmp_path, uri, message):
    with pytest.raises(NotebotError, match=message):
        get_store(Settings.load(environ={}, index_dir=tmp_path, store="milvus", milvus_uri=uri))


def test_an_unknown_store_is_refused():
    with pytest.raises(NotebotError, match="unknown store 'elastic'.*local, milvus"):
        Settings.load(environ={}, store="elastic")
