"""What the CLI shows a person: never a note's terminal escape sequences; --json stays exact JSON."""

import json

from test_cli import NOTES, assert_one_line_error, run

ESCAPES = "\x1b[2J\x1b[H\x1b]0;pwned\x07\x1b]52;c;cm0gLXJmIH4=\x07\x9b31m\x08\x0d"
HOSTILE = {"evil\x1b[2J.md": f"# Hostile{ESCAPES}\n\n## Lambda\n- Lambda 最长运行 15 分钟{ESCAPES}\n"}


def indexed(write_notes, tmp_path, notes):
    index_dir = tmp_path / "index"
    result = run("index", str(write_notes(notes)), "--index-dir", str(index_dir))
    assert result.returncode == 0, result.stderr
    return index_dir


def assert_no_control_characters(text: str):
    assert not [c for c in text if (ord(c) < 32 and c not in "\n\t") or 0x7f <= ord(c) <= 0x9f], repr(text)


def test_terminal_escapes_in_a_note_never_reach_the_terminal(write_notes, tmp_path):
    index_dir = indexed(write_notes, tmp_path, HOSTILE)
    for command in (["search", "Lambda 最长运行多久"], ["ask", "Lambda 最长运行多久？"], ["info"]):
        result = run(*command, "--index-dir", str(index_dir))
        assert result.returncode == 0, result.stderr
        assert "Lambda" in result.stdout or "evil" in result.stdout
        assert_no_control_characters(result.stdout + result.stderr)


def test_json_output_keeps_the_note_text_exactly(write_notes, tmp_path):
    index_dir = indexed(write_notes, tmp_path, HOSTILE)
    result = run("search", "Lambda", "--index-dir", str(index_dir), "--json")
    assert "\x1b" not in result.stdout, "json escapes control characters"
    assert ESCAPES in json.loads(result.stdout.splitlines()[0])["text"]


def test_empty_question_asks_for_a_question_without_pointing_to_search(write_notes, tmp_path):
    result = run("ask", "  ", "--index-dir", str(tmp_path / "index"))
    assert_one_line_error(result, "the question is empty", "notebot ask")
    assert "notebot search" not in result.stderr


def test_ask_json_citations_carry_the_passage_text_and_the_quoted_lines(write_notes, tmp_path):
    index_dir = indexed(write_notes, tmp_path, NOTES)
    result = run("ask", "DynamoDB 的 item 最大多大？", "--index-dir", str(index_dir), "--json")
    citation = json.loads(result.stdout)["citations"][0]
    assert citation["file"] == "aws.md" and "item 最大 400KB" in citation["text"]
    assert citation["quoted_lines"] == [3]
