import json

import pytest

from notebot.errors import NotebotError
from notebot.store.build import build_index
from notebot.store.local import MANIFEST, read_manifest
from notebot.store.local import LocalIndex as Index

NOTES = {"aws.md": "# S3\n对象最大 5TB。\n# DynamoDB\nitem 最大 400KB。\n", "gcp.md": "# BigQuery\n列式数据仓库。\n"}


def test_manifest_describes_the_index(write_notes, hash_settings):
    settings = hash_settings(write_notes(NOTES))
    build_index(settings)
    manifest = read_manifest(settings.index_dir)
    assert manifest["format_version"] == 1
    assert manifest["embedder"] == {"name": "hash", "dim": 256}
    assert manifest["counts"] == {"files": 2, "chunks": 3}
    assert manifest["chunker"]["max_chars"] > 0 and manifest["tokenizer"]
    assert len(manifest["corpus"]["fingerprint"]) == 64
    assert all((settings.index_dir / name).exists() for name in manifest["files"].values())


def test_reindex_after_editing_one_note_embeds_only_the_changed_chunk(write_notes, hash_settings):
    corpus = write_notes(NOTES)
    settings = hash_settings(corpus)
    assert build_index(settings)["embedded"] == 3
    assert build_index(settings)["up_to_date"] is True
    (corpus / "gcp.md").write_text("# BigQuery\n列式数据仓库，按扫描量计费。\n", encoding="utf-8")
    report = build_index(settings)
    assert (report["embedded"], report["reused"]) == (1, 2)
    assert "按扫描量计费" in Index.load(settings.index_dir).chunks[-1].text


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
    assert len(index.chunks) == 3 and index.vectors.ntotal == 3


def test_stale_files_of_earlier_builds_are_removed(write_notes, hash_settings):
    corpus = write_notes(NOTES)
    settings = hash_settings(corpus)
    build_index(settings)
    (corpus / "aws.md").write_text("# S3\nchanged\n", encoding="utf-8")
    build_index(settings)
    data_files = [p.name for p in settings.index_dir.iterdir() if p.suffix in (".jsonl", ".faiss", ".json") and p.name != MANIFEST]
    assert len(data_files) == 3


def test_missing_index_says_how_to_build_one(tmp_path):
    with pytest.raises(NotebotError, match="no index in .*notebot index"):
        Index.load(tmp_path / "nothing")


def test_index_from_another_embedder_is_refused_with_the_fix(write_notes, hash_settings):
    settings = hash_settings(write_notes(NOTES))
    build_index(settings)
    with pytest.raises(NotebotError, match="built with embedder 'hash', not 'e5-small-q4'.*--embedder e5-small-q4"):
        Index.load(settings.index_dir, embedder="e5-small-q4")


@pytest.mark.parametrize("damage", ["truncate-vectors", "garbage-manifest", "delete-chunks", "drop-chunk-line", "old-format"])
def test_damaged_index_files_are_detected(write_notes, hash_settings, damage):
    settings = hash_settings(write_notes(NOTES))
    build_index(settings)
    manifest_path = settings.index_dir / MANIFEST
    manifest = json.loads(manifest_path.read_text())
    files = {k: settings.index_dir / v for k, v in manifest["files"].items()}
    if damage == "truncate-vectors":
        files["vectors"].write_bytes(files["vectors"].read_bytes()[:100])
    elif damage == "garbage-manifest":
        manifest_path.write_text("{not json")
    elif damage == "delete-chunks":
        files["chunks"].unlink()
    elif damage == "drop-chunk-line":
        files["chunks"].write_text("".join(files["chunks"].read_text().splitlines(True)[:-1]))
    else:
        manifest_path.write_text(json.dumps({**manifest, "format_version": 0}))
    with pytest.raises(NotebotError, match="rebuild it with: notebot index --rebuild"):
        Index.load(settings.index_dir)


@pytest.mark.parametrize("damage", ["garbage-manifest", "truncate-vectors"])
def test_rebuilding_repairs_a_damaged_index(write_notes, hash_settings, damage):
    settings = hash_settings(write_notes(NOTES))
    build_index(settings)
    manifest_path = settings.index_dir / MANIFEST
    if damage == "garbage-manifest":
        manifest_path.write_text("{not json")
    else:
        vectors = settings.index_dir / json.loads(manifest_path.read_text())["files"]["vectors"]
        vectors.write_bytes(vectors.read_bytes()[:100])
    build_index(settings, rebuild=True)
    assert len(Index.load(settings.index_dir).chunks) == 3


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
