"""A watched vault: a real watchdog watcher re-indexes after notes change, and the next answer shows it."""

import json
import time
from pathlib import Path

import pytest

from notebot.apps.ui import NotebotApp
from notebot.apps.watch import IndexKeeper, NoteWatcher, build_keyword_index_first, keep_app_index, keep_disk_index
from notebot.errors import OutdatedIndex
from notebot.search import search
from notebot.search.line_ranking import line_matrix
from notebot.search.lines import split_lines
from notebot.store.build import build_index
from notebot.store.local import LocalIndex as Index

from conftest import cached_vectors

NOTES = {
    "aws/dynamodb.md": "# DynamoDB\n- item 最大 400KB\n- 分区键决定数据分布\n",
    "gcp.md": "# BigQuery\n- 列式数据仓库，按扫描量计费\n",
}


def wait_for(condition, timeout=30.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    raise AssertionError(f"still not true after {timeout} s: {condition.__doc__ or condition}")


def files_found(app, query):
    return [hit.chunk.file for hit in search(app.index, query, 5, "lexical")]


@pytest.fixture
def watched(write_notes, hash_settings):
    """A vault served by the UI's app, kept fresh by a real watcher, as `notebot serve --watch` runs it."""
    corpus = write_notes(NOTES)
    app = NotebotApp(hash_settings(corpus))
    app.ensure_index()
    app.keeper = keep_app_index(app, watch=True)
    app.keeper.wait_idle()
    yield app, corpus
    app.keeper.stop()


def test_added_edited_renamed_and_deleted_notes_show_in_the_next_answer(watched):
    app, corpus = watched
    (corpus / "kinesis.md").write_text("# Kinesis\n- Firehose 可以把数据写入 S3\n", encoding="utf-8")
    wait_for(lambda: files_found(app, "Firehose") == ["kinesis.md"])
    answer = list(app.ask("Firehose 可以把数据写到哪里？", [], 3, "hybrid", "extractive"))[-1]
    assert not answer.refused and answer.hits[0].chunk.file == "kinesis.md"
    wait_for(lambda: "+1 file (1 chunk)" in app.live_status())  # the status follows the swap by a moment

    (corpus / "kinesis.md").write_text("# Kinesis\n- Data Streams 保留数据 24 小时到 365 天\n", encoding="utf-8")
    wait_for(lambda: files_found(app, "365") == ["kinesis.md"] and not files_found(app, "Firehose"))
    wait_for(lambda: "1 changed (kinesis.md)" in app.live_status())

    (corpus / "kinesis.md").rename(corpus / "aws" / "kinesis-streams.md")
    wait_for(lambda: files_found(app, "365") == ["aws/kinesis-streams.md"])

    (corpus / "aws" / "kinesis-streams.md").unlink()
    wait_for(lambda: not files_found(app, "365"))
    wait_for(lambda: "−1 file" in app.live_status())
    assert files_found(app, "400KB") == ["aws/dynamodb.md"], "the other notes are untouched"


def test_a_burst_of_50_saves_is_one_or_two_reindexes(watched):
    app, corpus = watched
    before = app.keeper.rounds
    note = corpus / "gcp.md"
    for n in range(50):
        note.write_text(f"# BigQuery\n- 列式数据仓库，按扫描量计费\n- 第 {n} 次保存 save{n}\n", encoding="utf-8")
        time.sleep(0.01)
    wait_for(lambda: files_found(app, "save49") == ["gcp.md"])
    time.sleep(1.0)  # any straggling round would have started by now
    app.keeper.wait_idle()
    assert 1 <= app.keeper.rounds - before <= 2


def test_hidden_folders_and_non_notes_never_trigger_a_reindex(watched):
    app, corpus = watched
    before = app.keeper.rounds
    (corpus / ".obsidian").mkdir()
    (corpus / ".obsidian" / "workspace.json").write_text("{}", encoding="utf-8")
    (corpus / ".trash").mkdir()
    (corpus / ".trash" / "old.md").write_text("# old\n", encoding="utf-8")
    attachments = corpus / "attachments"
    attachments.mkdir()
    for n in range(300):
        (attachments / f"image-{n}.png").write_bytes(b"\x89PNG\r\n")
    time.sleep(1.5)
    app.keeper.wait_idle()
    assert app.keeper.rounds == before
    assert not app.keeper.last_error


def test_a_half_written_note_and_a_vanishing_file_leave_the_watcher_running(watched):
    app, corpus = watched
    half = "# Redshift\n- Redshift 是列式数据仓库\n".encode()
    (corpus / "redshift.md").write_bytes(half[: half.index("列".encode()) + 1])  # cut inside a character
    flash = corpus / "flash.md"
    flash.write_text("# gone\n- appears and vanishes\n", encoding="utf-8")
    flash.unlink()
    time.sleep(1.0)
    (corpus / "redshift.md").write_bytes(half)  # the editor finishes saving
    wait_for(lambda: files_found(app, "Redshift") == ["redshift.md"])
    assert not files_found(app, "vanishes")
    assert app.keeper._thread.is_alive()


def test_polling_fallback_sees_changes_where_os_events_do_not_exist(write_notes, hash_settings):
    settings = hash_settings(write_notes(NOTES))
    build_index(settings)
    from notebot.store import read_manifest

    keeper = IndexKeeper(lambda **options: build_index(settings, **options), lambda: read_manifest(settings)).start()
    watcher = NoteWatcher(settings.corpus_dir, keeper, poll=True, poll_interval=0.2).start()
    try:
        assert watcher.kind == "PollingObserver"
        (settings.corpus_dir / "s3.md").write_text("# S3\n- Object 最大 5TB\n", encoding="utf-8")
        wait_for(lambda: any(f["path"] == "s3.md" for f in read_manifest(settings)["corpus"]["files"]))
    finally:
        watcher.stop()
        keeper.stop()


def test_a_failed_round_is_reported_and_the_next_change_recovers(write_notes, hash_settings):
    settings = hash_settings(write_notes(NOTES))
    build_index(settings)
    from notebot.store import read_manifest

    keeper = IndexKeeper(lambda **options: build_index(settings, **options), lambda: read_manifest(settings), debounce=0.05).start()
    try:
        for note in Path(settings.corpus_dir).rglob("*.md"):
            note.unlink()
        keeper.notify({"gcp.md"})
        wait_for(lambda: "no notes in" in keeper.status())
        (settings.corpus_dir / "back.md").write_text("# Back\n- notes again\n", encoding="utf-8")
        keeper.notify({"back.md"})
        wait_for(lambda: keeper.last_error == "" and keeper.rounds == 1)
        assert [f["path"] for f in read_manifest(settings)["corpus"]["files"]] == ["back.md"]
    finally:
        keeper.stop()


def test_notebot_watch_command_indexes_follows_changes_and_stops_cleanly(write_notes, tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import threading

    corpus, index_dir = write_notes(NOTES), tmp_path / "index"
    watcher = subprocess.Popen([sys.executable, "-m", "notebot", "watch", str(corpus), "--index-dir", str(index_dir)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "NOTEBOT_EMBEDDER": "hash"},
                               # Ctrl-C must reach it even when the suite runs as a background job (SIGINT ignored)
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    lines = []
    reader = threading.Thread(target=lambda: lines.extend(iter(watcher.stderr.readline, "")), daemon=True)
    reader.start()
    try:
        wait_for(lambda: any(line.startswith("watching ") for line in lines), timeout=60)
        (corpus / "s3.md").write_text("# S3\n- Object 最大 5TB\n- 加密方式 SSE-S3\n", encoding="utf-8")
        wait_for(lambda: any("re-indexed: +1 file (1 chunk)" in line for line in lines))
    finally:
        watcher.send_signal(signal.SIGINT)
        watcher.wait(timeout=30)
    reader.join(timeout=10)  # stderr belongs to the reader alone: communicate() would race it for the last lines
    out = watcher.stdout.read()
    assert watcher.returncode == 0 and out == ""
    assert lines[0].startswith("indexed 2 files, 2 chunks for keyword search")
    assert any(line.startswith("stopping") for line in lines) and not any("Traceback" in line for line in lines), lines


def test_a_served_index_gets_its_lines_embedded_once_nothing_else_is_to_do(watched):
    app, corpus = watched
    wait_for(lambda: app.keeper.lines_warm)
    cached = cached_vectors(app.settings.index_dir)
    assert cached == 2 + 3  # two notes of one chunk each, three quotable lines
    assert len(line_matrix(app.index).owners) == 3  # gathered: search ranks passages by their best line
    (corpus / "gcp.md").write_text("# BigQuery\n- 列式数据仓库\n- 支持 BI Engine\n", encoding="utf-8")
    wait_for(lambda: "gcp.md" in files_found(app, "BI Engine"))
    wait_for(lambda: app.keeper.lines_warm and line_matrix(app.index) is not None)
    assert cached_vectors(app.settings.index_dir) > cached  # the edited note's lines too
    assert len(line_matrix(app.index).owners) == sum(len(split_lines(c.text)) for c in app.index.chunks)  # gathered again, new build


def test_the_disk_keeper_of_watch_and_mcp_warms_the_index_folders_line_cache(write_notes, hash_settings):
    settings = hash_settings(write_notes(NOTES))
    build_index(settings)
    before = cached_vectors(settings.index_dir)
    keeper, _ = keep_disk_index(settings, watch=False)
    try:
        wait_for(lambda: keeper.lines_warm)
    finally:
        keeper.stop()
    assert cached_vectors(settings.index_dir) == before + 3  # the three note lines
    assert line_matrix(Index.load(settings.index_dir)) is not None  # gathered in the build folder, for every reader


def test_the_long_running_apps_rewrite_an_index_an_older_notebot_wrote(write_notes, hash_settings):
    settings = hash_settings(write_notes(NOTES))
    for start in (lambda: NotebotApp(settings).ensure_index(), lambda: build_keyword_index_first(settings)):  # serve; mcp and watch
        build_index(settings)
        manifest_path = settings.index_dir / "manifest.json"
        manifest_path.write_text(json.dumps({**json.loads(manifest_path.read_text()), "format_version": 3}))
        with pytest.raises(OutdatedIndex):
            Index.load(settings.index_dir)
        start()
        index = Index.load(settings.index_dir)
        assert index.manifest["format_version"] == 4 and index.manifest["vectors"].get("complete", True)
        assert search(index, "列式数据仓库", 1)[0].chunk.file == "gcp.md"
