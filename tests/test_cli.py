"""The notebot command as a user runs it: real processes, stdout for data, one-line errors."""

import json
import os
import re
import subprocess
import sys

import pytest

from notebot.search.line_ranking import VECTORS_FILE

NOTES = {
    "aws.md": "# Database\n## DynamoDB\n- item 最大 400KB\n- 分区键决定数据分布\n## S3\n- Object最大5TB，超了要用 multi-part upload\n",
    "gcp.md": "# BigQuery\n- 列式数据仓库，按扫描量计费\n",
}


def run(*args, env=None, cwd=None):
    environment = {**os.environ, "NOTEBOT_EMBEDDER": "hash", **(env or {})}
    return subprocess.run([sys.executable, "-m", "notebot", *args], capture_output=True, text=True, env=environment, cwd=cwd, timeout=120)


@pytest.fixture
def indexed(write_notes, tmp_path):
    corpus = write_notes(NOTES)
    index_dir = tmp_path / "index"
    result = run("index", str(corpus), "--index-dir", str(index_dir))
    assert result.returncode == 0, result.stderr
    return index_dir


def assert_one_line_error(result, *fragments):
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr
    for fragment in fragments:
        assert fragment in lines[0]


def test_index_reports_what_it_did_on_stderr(write_notes, tmp_path):
    result = run("index", str(write_notes(NOTES)), "--index-dir", str(tmp_path / "ix"))
    assert result.stdout == ""
    assert "indexed 2 files, 3 chunks" in result.stderr


def test_search_prints_file_heading_lines_score_and_snippet(indexed):
    result = run("search", "DynamoDB item 最大", "--index-dir", str(indexed), "-k", "2")
    assert result.returncode == 0, result.stderr
    first = result.stdout.splitlines()[0]
    assert first.startswith("1. aws.md › Database > DynamoDB › lines 2-4") and "score" in first
    assert "400KB" in result.stdout


def test_search_json_is_one_object_per_line(indexed):
    result = run("search", "BigQuery", "--index-dir", str(indexed), "--json", "--mode", "lexical")
    rows = [json.loads(line) for line in result.stdout.splitlines()]
    assert rows[0]["file"] == "gcp.md" and rows[0]["rank"] == 1
    assert set(rows[0]) >= {"heading_path", "lines", "chunk_id", "score", "text"}


def test_settings_come_from_environment_variables(indexed):
    result = run("search", "BigQuery", "--json", env={"NOTEBOT_INDEX_DIR": str(indexed), "NOTEBOT_K": "1"})
    assert len(result.stdout.splitlines()) == 1


def test_info_describes_the_index(indexed):
    result = run("info", "--index-dir", str(indexed))
    assert "hash (256 dims)" in result.stdout and "2 files, 3 chunks" in result.stdout


def test_index_lines_embeds_every_line_once_and_info_says_so(write_notes, tmp_path):
    corpus, index_dir = write_notes(NOTES), tmp_path / "ix"
    assert "not all embedded yet" in (run("index", str(corpus), "--index-dir", str(index_dir)) and run("info", "--index-dir", str(index_dir))).stdout
    first = run("index", str(corpus), "--index-dir", str(index_dir), "--lines")
    assert first.returncode == 0, first.stderr
    embedded = re.search(r"embedded (\d+) note lines .*; (\d+) lines ready", first.stderr)
    assert embedded and int(embedded.group(1)) > 0 and embedded.group(1) == embedded.group(2)
    again = run("index", str(corpus), "--index-dir", str(index_dir), "--lines")
    assert "embedded 0 note lines" in again.stderr and f"{embedded.group(2)} lines ready" in again.stderr
    assert "every line embedded" in run("info", "--index-dir", str(index_dir)).stdout


def test_index_lines_that_cannot_be_written_is_a_one_line_error(indexed):
    build = json.loads((indexed / "manifest.json").read_text(encoding="utf-8"))["build"]
    (indexed / build / VECTORS_FILE).mkdir()  # in the way of the atomic rename, even for root
    result = run("index", str(indexed.parent / "corpus"), "--index-dir", str(indexed), "--lines")
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1 and lines[-1].startswith("error: could not write the line vectors"), result.stderr
    assert "Traceback" not in result.stderr
    assert run("search", "BigQuery", "--index-dir", str(indexed)).returncode == 0  # the index itself is fine


def test_ask_json_carries_answer_citations_and_timings(indexed):
    result = run("ask", "DynamoDB 的 item 最大多大？", "--index-dir", str(indexed), "--json")
    answer = json.loads(result.stdout)
    assert "400KB" in answer["answer"] and answer["lang"] == "mixed" and answer["refused"] is False
    assert answer["citations"][0]["heading_path"] == "Database > DynamoDB"
    assert set(answer["timings"]) >= {"retrieve_ms", "total_ms"}


def test_missing_index_is_a_one_line_error_with_the_fix(tmp_path):
    assert_one_line_error(run("search", "S3", "--index-dir", str(tmp_path / "none")), "no index in", "notebot index")


def test_empty_query_is_a_one_line_error(indexed):
    assert_one_line_error(run("search", "   ", "--index-dir", str(indexed)), "the question is empty")


@pytest.mark.parametrize("k", ["0", "100000"])
def test_out_of_range_k_is_a_one_line_error(indexed, k):
    assert_one_line_error(run("search", "S3", "-k", k, "--index-dir", str(indexed)), f"-k {k}")


def test_index_built_with_another_embedder_is_refused(indexed):
    result = run("search", "S3", "--index-dir", str(indexed), "--embedder", "e5-small-q4")
    assert_one_line_error(result, "built with embedder 'hash'", "notebot index --embedder e5-small-q4")


def test_missing_or_empty_corpus_folder_is_a_one_line_error(tmp_path):
    assert_one_line_error(run("index", str(tmp_path / "nope"), "--index-dir", str(tmp_path / "ix")), "does not exist")
    (tmp_path / "empty").mkdir()
    assert_one_line_error(run("index", str(tmp_path / "empty"), "--index-dir", str(tmp_path / "ix")), "no notes in")


def test_bad_setting_in_environment_names_the_variable(indexed):
    assert_one_line_error(run("search", "S3", "--index-dir", str(indexed), env={"NOTEBOT_K": "many"}), "NOTEBOT_K")


def test_usage_errors_exit_2(indexed):
    assert run("search", "S3", "--mode", "fuzzy").returncode == 2


def test_search_imports_neither_gradio_nor_torch(indexed):
    code = (
        "import sys; from notebot.apps.cli import main; "
        f"main(['search', 'S3', '--index-dir', {str(indexed)!r}]); "
        "print(sorted(m for m in ('gradio', 'torch', 'sentence_transformers', 'matplotlib') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**os.environ, "NOTEBOT_EMBEDDER": "hash"})
    assert result.stdout.strip().splitlines()[-1] == "[]", result.stderr


def test_index_dir_pointing_at_a_file_is_a_one_line_error(write_notes, tmp_path):
    corpus, not_a_folder = write_notes(NOTES), tmp_path / "index.txt"
    not_a_folder.write_text("my notes about indexes\n")
    assert_one_line_error(run("index", str(corpus), "--index-dir", str(not_a_folder)), "is a file")
    assert_one_line_error(run("search", "S3", "--index-dir", str(not_a_folder)), "is a file")
    assert not_a_folder.read_text() == "my notes about indexes\n"


def test_an_embedder_whose_dimension_changed_is_a_one_line_error(indexed, monkeypatch, capsys):
    from notebot.apps.cli import main
    from notebot.embed.hashing import HashingEmbedder

    monkeypatch.setattr(HashingEmbedder, "dim", 128)  # the model behind the index's embedder name changed
    monkeypatch.setenv("NOTEBOT_EMBEDDER", "hash")
    assert main(["search", "S3", "--index-dir", str(indexed), "--mode", "vector"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "128-dimensional" in err[0] and "256-dimensional" in err[0] and "--rebuild" in err[0]
