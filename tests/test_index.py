import json
import os
import time

import pytest

from notebot.errors import NotebotError
from notebot.settings import Settings
from notebot.store.build import build_index
from notebot.store.local import MANIFEST, read_manifest
from notebot.store.local import LocalIndex as Index

NOTES = {"aws.md": "# S3\n对象最大 5TB。\n# DynamoDB\nitem 最大 400KB。\n", "gcp.md": "# BigQuery\n列式数据仓库。\n"}


def test_manifest_describes_the_index(write_notes, hash_settings):
    settings = hash_settings(write_notes(NOTES))
    build_index(settings)
    manifest = read_manifest(settings.index_dir)
    assert manifest["format_version"] == 4 and manifest["store"] == "local"
    assert manifest["embedder"] == {"name": "hash", "dim": 256}
    assert manifest["counts"] == {"files": 2, "chunks": 3}
    assert manifest["chunker"]["max_chars"] > 0 and manifest["tokenizer"]
    assert len(manifest["corpus"]["fingerprint"]) == 64
    build = settings.index_dir / manifest["build"]
    assert all((build / name).stat().st_size == entry["bytes"] and len(entry["sha256"]) == 64
               for name, entry in manifest["files"].items())


def test_a_reindex_is_seen_by_the_same_process_though_manifests_are_parsed_once(write_notes, hash_settings):
    corpus = write_notes(NOTES)
    settings = hash_settings(corpus)
    build_index(settings)
    first = read_manifest(settings.index_dir)
    assert read_manifest(settings.index_dir) is first  # parsed once while the file is unchanged
    (corpus / "gcp.md").write_text("# BigQuery\n列式数据仓库。\n# Pub/Sub\n消息队列。\n", encoding="utf-8")
    build_index(settings)
    assert read_manifest(settings.index_dir)["counts"]["chunks"] == 4


def test_reindex_after_editing_one_note_embeds_only_the_changed_chunk(write_notes, hash_settings):
    corpus = write_notes(NOTES)
    settings = hash_settings(corpus)
    assert build_index(settings)["embedded"] == 3
    assert build_index(settings)["up_to_date"] is True
    (corpus / "gcp.md").write_text("# BigQuery\n列式数据仓库，按扫描量计费。\n", encoding="utf-8")
    report = build_index(settings)
    assert (report["embedded"], report["reused"]) == (1, 2)
    assert "按扫描量计费" in Index.load(settings.index_dir).chunks[-1].text


def _age(corpus, seconds: int = 3600) -> None:
    """Back-date every note, as notes saved long before the build are (the racy window is then closed)."""
    for path in corpus.rglob("*.md"):
        os.utime(path, ns=(time.time_ns() - seconds * 10**9,) * 2)


def _arrays(index_dir) -> dict:
    manifest = read_manifest(index_dir)
    folder = index_dir / manifest["build"]
    return {name: (folder / name).read_bytes() for name in manifest["files"]}


def test_an_incremental_build_reads_only_changed_notes_and_equals_a_fresh_build(write_notes, hash_settings, tmp_path):
    files = {**NOTES, "b/notes.md": "# Glacier\n归档存储。\n## Retrieval\nexpedited retrieval in minutes\n",
             "c.md": "# Lambda\n函数计算 15 分钟上限。\n"}
    corpus = write_notes(files)
    settings = hash_settings(corpus)
    _age(corpus)
    build_index(settings)
    (corpus / "gcp.md").write_text("# BigQuery\n列式数据仓库，按扫描量计费。\n# Spanner\n全球分布式。\n", encoding="utf-8")
    (corpus / "c.md").unlink()
    (corpus / "a-new.md").write_text("# New\nzebra 斑马\n", encoding="utf-8")
    report = build_index(settings)
    assert (report["notes_read"], report["embedded"]) == (2, 3)  # gcp.md and a-new.md; aws.md and b/ copied
    fresh = Settings.load(environ={}, corpus_dir=corpus, index_dir=tmp_path / "fresh", embedder="hash")
    build_index(fresh)
    assert _arrays(settings.index_dir) == _arrays(fresh.index_dir)  # byte for byte, every data file
    index = Index.load(settings.index_dir)
    assert index.lexical_search("斑马", 1)[0][0].file == "a-new.md" and not index.lexical_search("函数计算", 1)


def test_a_same_size_save_in_the_same_mtime_tick_as_the_build_is_still_seen(write_notes, hash_settings):
    corpus = write_notes(NOTES)
    settings = hash_settings(corpus)
    build_index(settings)  # the notes were written just now: inside the racy window
    note = corpus / "gcp.md"
    stat = note.stat()
    note.write_text(note.read_text(encoding="utf-8").replace("列式", "行式"), encoding="utf-8")
    os.utime(note, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # same size, same mtime
    assert build_index(settings)["up_to_date"] is False
    assert "行式" in Index.load(settings.index_dir).chunks[-1].text


def test_a_format_3_index_is_refused_with_the_fix_and_a_plain_index_upgrades_it(write_notes, hash_settings):
    settings = hash_settings(write_notes(NOTES))
    build_index(settings)
    manifest_path = settings.index_dir / MANIFEST
    manifest_path.write_text(json.dumps({**json.loads(manifest_path.read_text()), "format_version": 3}))
    with pytest.raises(NotebotError, match=r"format 3, this notebot reads format 4.*notebot index"):
        Index.load(settings.index_dir)
    report = build_index(settings)
    assert (report["up_to_date"], report["embedded"]) == (False, 0)  # vectors from the embedding cache
    assert Index.load(settings.index_dir).manifest["format_version"] == 4


def test_the_index_counts_each_chinese_character_once_per_chunk_when_written(write_notes, hash_settings):
    corpus = write_notes({"a.md": "# 存储\n列式存储，列存。\n", "b.md": "# 仓库\n行式存储。\n"})
    settings = hash_settings(corpus)
    build_index(settings)
    counts = Index.load(settings.index_dir).character_frequencies
    assert (counts["列"], counts["存"], counts["行"], counts.get("烧", 0)) == (1, 2, 1, 0)
    (corpus / "b.md").write_text("# 仓库\n行式存储，按列压缩。\n", encoding="utf-8")
    build_index(settings)  # the re-index copies a.md's chunk and counts again over every chunk
    assert Index.load(settings.index_dir).character_frequencies["列"] == 2


def test_a_crash_mid_build_leaves_the_previous_index_usable(write_notes, hash_settings, monkeypatch):
    corpus = write_notes(NOTES)
    settings = hash_settings(corpus)
    build_index(settings)
    (corpus / "new.md").write_text("# New\nfresh text\n", encoding="utf-8")

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("notebot.store.local.write_json_atomic", crash)  # dies just before the swap
    with pytest.raises(KeyboardInterrupt):
        build_index(settings)
    index = Index.load(settings.index_dir)
    assert len(index.chunks) == 3 and index.vectors.shape[0] == 3


def test_stale_files_of_earlier_builds_are_removed(write_notes, hash_settings):
    corpus = write_notes(NOTES)
    settings = hash_settings(corpus)
    build_index(settings)
    (corpus / "aws.md").write_text("# S3\nchanged\n", encoding="utf-8")
    build_index(settings)
    builds = [p.name for p in settings.index_dir.iterdir() if p.is_dir()]
    assert builds == [read_manifest(settings.index_dir)["build"]]


def test_missing_index_says_how_to_build_one(tmp_path):
    with pytest.raises(NotebotError, match="no index in .*notebot index"):
        Index.load(tmp_path / "nothing")


def test_index_from_another_embedder_is_refused_with_the_fix(write_notes, hash_settings):
    settings = hash_settings(write_notes(NOTES))
    build_index(settings)
    with pytest.raises(NotebotError, match="built with embedder 'hash', not 'e5-small-q4'.*--embedder e5-small-q4"):
        Index.load(settings.index_dir, embedder="e5-small-q4")


def _damage(settings, damage: str) -> None:
    manifest_path = settings.index_dir / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    build = settings.index_dir / manifest["build"]
    if damage == "truncate-vectors":
        (build / "vectors.npy").write_bytes((build / "vectors.npy").read_bytes()[:100])
    elif damage == "flip-a-vector-byte":  # silent corruption: same size, other scores
        data = bytearray((build / "vectors.npy").read_bytes())
        data[-5] ^= 0xFF
        (build / "vectors.npy").write_bytes(bytes(data))
    elif damage == "garbage-lexical":
        (build / "lexical-docs.npy").write_bytes(b"\0" * (build / "lexical-docs.npy").stat().st_size)
    elif damage == "garbage-manifest":
        manifest_path.write_text("{not json")
    elif damage == "delete-chunks":
        (build / "chunks.jsonl").unlink()
    elif damage == "drop-chunk-line":
        (build / "chunks.jsonl").write_text("".join((build / "chunks.jsonl").read_text().splitlines(True)[:-1]))
    elif damage == "old-format":
        manifest_path.write_text(json.dumps({**manifest, "format_version": 1}))


DAMAGE = ["truncate-vectors", "flip-a-vector-byte", "garbage-lexical", "garbage-manifest", "delete-chunks", "drop-chunk-line",
          "old-format"]


@pytest.mark.parametrize("damage", DAMAGE)
def test_damaged_index_files_are_detected_at_load_with_the_fix(write_notes, hash_settings, damage):
    settings = hash_settings(write_notes(NOTES))
    build_index(settings)
    _damage(settings, damage)
    with pytest.raises(NotebotError, match=r"(damaged|format 1).*notebot index"):
        Index.load(settings.index_dir)


@pytest.mark.parametrize("damage", DAMAGE)
def test_a_plain_index_run_repairs_damage_from_the_cache_without_re_embedding(write_notes, hash_settings, damage):
    settings = hash_settings(write_notes(NOTES))
    build_index(settings)
    _damage(settings, damage)
    report = build_index(settings)
    assert report["up_to_date"] is False and report["embedded"] == 0 and report["reused"] == 3
    index = Index.load(settings.index_dir)
    assert "对象最大 5TB。" in index.chunks[0].text
    assert index.lexical_search("BigQuery", 1)[0][0].file == "gcp.md"
    assert build_index(settings)["up_to_date"] is True


def test_a_reader_that_loses_the_race_with_a_rebuild_loads_the_new_index(write_notes, hash_settings, monkeypatch):
    corpus = write_notes(NOTES)
    settings = hash_settings(corpus)
    build_index(settings)
    real_read_manifest = read_manifest
    raced = []

    def read_then_lose_the_race(index_dir):
        manifest = real_read_manifest(index_dir)
        if not raced:  # between this reader's manifest read and its file opens, a rebuild lands
            raced.append(manifest["build"])
            (corpus / "new.md").write_text("# New\nfresh text\n", encoding="utf-8")
            build_index(settings)
        return manifest

    monkeypatch.setattr("notebot.store.local.read_manifest", read_then_lose_the_race)
    index = Index.load(settings.index_dir)
    assert raced and index.manifest["build"] != raced[0] and len(index) == 4


def test_an_open_index_keeps_answering_after_a_rebuild_removes_its_files(write_notes, hash_settings):
    corpus = write_notes(NOTES)
    settings = hash_settings(corpus)
    build_index(settings)
    index = Index.load(settings.index_dir)
    (corpus / "gcp.md").write_text("# BigQuery\nchanged\n", encoding="utf-8")
    build_index(settings)
    assert index.lexical_search("DynamoDB", 1)[0][0].headings == ("DynamoDB",)


def test_a_full_disk_gives_one_line_and_leaves_no_partial_files(write_notes, hash_settings):
    import resource
    import signal
    import subprocess
    import sys

    corpus = write_notes(NOTES)
    settings = hash_settings(corpus)
    big = "# Big\n" + "".join(f"- 第 {i} 条笔记 note {i}\n" for i in range(20000))
    (corpus / "big.md").write_text(big, encoding="utf-8")
    build_index(settings)  # the cache now holds the big note's vectors: the run below writes only index files
    (corpus / "big.md").unlink()
    build_index(settings)
    before = sorted(p.name for p in settings.index_dir.iterdir())
    (corpus / "big.md").write_text(big, encoding="utf-8")

    def small_files_only():  # the kernel refuses writes past 64 KB: "File too large", as a full disk would
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (64_000, 64_000))

    run = subprocess.run([sys.executable, "-m", "notebot", "index", str(corpus), "--index-dir", str(settings.index_dir),
                          "--embedder", "hash"], capture_output=True, text=True, preexec_fn=small_files_only)
    assert run.returncode == 1
    assert run.stderr.strip().startswith("error: could not write the index in") and "Traceback" not in run.stderr
    assert len(run.stderr.strip().splitlines()) == 1
    assert sorted(p.name for p in settings.index_dir.iterdir()) == before
    assert len(Index.load(settings.index_dir)) == 3


def test_reindexing_keeps_the_index_embedder_unless_another_is_asked_for(write_notes, hash_settings):
    from dataclasses import replace

    corpus = write_notes(NOTES)
    settings = hash_settings(corpus)
    build_index(settings)
    (corpus / "gcp.md").write_text("# BigQuery\nchanged\n", encoding="utf-8")
    report = build_index(replace(settings, embedder=""))
    assert report["embedded"] == 1 and read_manifest(settings.index_dir)["embedder"]["name"] == "hash"


def test_empty_or_missing_corpus_is_an_error_and_keeps_the_existing_index(write_notes, hash_settings, tmp_path):
    settings = hash_settings(write_notes(NOTES))
    build_index(settings)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(NotebotError, match="no notes in"):
        build_index(hash_settings(empty))
    with pytest.raises(NotebotError, match="does not exist"):
        build_index(hash_settings(tmp_path / "missing"))
    assert len(Index.load(settings.index_dir).chunks) == 3


def test_a_20_mb_note_indexes(write_notes, hash_settings):
    section = "## 小节\n" + "- 一条关于 S3 的笔记，内容重复以撑大文件。\n" * 40
    big = "# Big\n" + section * 9000
    assert len(big.encode()) > 20_000_000
    settings = hash_settings(write_notes({"big.md": big}))
    report = build_index(settings)
    assert report["chunks"] > 1000


def test_the_web_uis_reindex_repairs_a_damaged_index(write_notes, hash_settings):
    from notebot.apps.ui import NotebotApp

    settings = hash_settings(write_notes(NOTES))
    build_index(settings)
    _damage(settings, "flip-a-vector-byte")
    app = NotebotApp(settings)
    assert "damaged" in app.describe_index()
    report = app.build()
    assert report["repaired"] == ["vectors.npy"] and report["embedded"] == 0
    assert "**3** chunks" in app.describe_index()
