"""`notebot mcp`: the notes as MCP tools, driven by the official SDK's client — in memory and over stdio."""

import json
import os
import subprocess
import sys
from pathlib import Path

import anyio
import pytest
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters

from notebot.apps.mcp import create_server
from notebot.settings import Settings

from conftest import SHIPPED_CORPUS

NOTES = {
    "aws.md": "# Database\n## DynamoDB\n- item 最大 400KB\n- 分区键决定数据分布\n## S3\n- Object最大5TB，超了要用 multi-part upload\n",
    "gcp/bigquery.md": "# BigQuery\n- 列式数据仓库，按扫描量计费\n- BigQuery charges by bytes scanned\n",
}


def call(server_or_params, *calls):
    """Run tool calls [(name, arguments)] in one client session; returns the CallToolResults."""

    async def session():
        async with Client(server_or_params) as client:
            return [await client.call_tool(name, arguments) for name, arguments in calls]

    return anyio.run(session)


def payload(result) -> dict:
    assert not result.is_error, result.content[0].text
    return json.loads(result.content[0].text)


@pytest.fixture(scope="module")
def real_server(real_index):
    return create_server(Settings.load(environ={}, corpus_dir=SHIPPED_CORPUS, index_dir=real_index.index_dir))


def test_lists_the_three_tools(real_server):
    async def names():
        async with Client(real_server) as client:
            return {tool.name: tool for tool in (await client.list_tools()).tools}

    tools = anyio.run(names)
    assert set(tools) == {"search_notes", "ask_notes", "read_note"}
    assert set(tools["search_notes"].input_schema["properties"]) == {"query", "k", "mode"}
    assert tools["read_note"].input_schema["required"] == ["path"]


def test_search_in_chinese_and_english_returns_cited_passages(real_server):
    chinese, english = call(real_server, ("search_notes", {"query": "DynamoDB 的 item 最大多大？", "k": 3}),
                            ("search_notes", {"query": "Can Kinesis Data Firehose store data?", "k": 3, "mode": "hybrid"}))
    top = payload(chinese)["passages"][0]
    assert top["file"] == "aws-with-dataengineer.md" and "400KB" in top["text"]
    first, last = top["lines"]
    assert first <= 253 <= last and "DynamoDB" in top["heading_path"]
    assert len(payload(chinese)["passages"]) == 3
    assert any("Firehose" in p["text"] for p in payload(english)["passages"])


def test_ask_answers_with_citations_and_refuses_offtopic(real_server):
    answered, refused = call(real_server, ("ask_notes", {"question": "DynamoDB 的 item 最大多大？"}),
                             ("ask_notes", {"question": "How do I configure a self-hosted integration runtime in Azure Data Factory?"}))
    answer = payload(answered)
    assert not answer["refused"] and "400KB" in answer["answer"] and "[1]" in answer["answer"]
    assert answer["citations"][0]["file"] == "aws-with-dataengineer.md" and "text" in answer["citations"][0]
    assert payload(refused)["refused"] is True


def test_ask_takes_history_for_a_follow_up(real_server):
    (result,) = call(real_server, ("ask_notes", {"question": "那它的最大大小呢？",
                                                 "history": [{"question": "DynamoDB 是什么？", "answer": "一种 NoSQL 数据库"}]}))
    answer = payload(result)
    assert "DynamoDB" in answer["search_query"] and "400KB" in answer["answer"]


def test_read_note_returns_the_exact_lines(real_server):
    (result,) = call(real_server, ("read_note", {"path": "aws-with-dataengineer.md", "start_line": 253, "end_line": 253}))
    read = payload(result)
    assert read["text"] == SHIPPED_CORPUS.joinpath("aws-with-dataengineer.md").read_text(encoding="utf-8").splitlines()[252]
    assert (read["start_line"], read["end_line"]) == (253, 253) and read["total_lines"] > 1000


@pytest.fixture
def hash_server(write_notes, hash_settings):
    from notebot.store.build import build_index

    settings = hash_settings(write_notes(NOTES))
    build_index(settings)
    return create_server(settings), settings


@pytest.mark.parametrize("path", ["../../etc/passwd", "/etc/passwd", "gcp/../../outside.md", ".obsidian/workspace.md", ""])
def test_read_note_refuses_paths_outside_the_corpus(hash_server, path):
    (result,) = call(hash_server[0], ("read_note", {"path": path}))
    assert result.is_error and "is not a note in the corpus" in result.content[0].text


def test_read_note_refuses_a_symlink_that_leads_out(hash_server, tmp_path):
    secret = tmp_path / "secret.md"
    secret.write_text("# private\n", encoding="utf-8")
    (hash_server[1].corpus_dir / "link.md").symlink_to(secret)
    (result,) = call(hash_server[0], ("read_note", {"path": "link.md"}))
    assert result.is_error and "not a note in the corpus" in result.content[0].text


def test_wrong_argument_types_and_unknown_tools_are_clear_errors(hash_server):
    wrong_type, bad_mode, out_of_range, unknown, past_end = call(
        hash_server[0],
        ("search_notes", {"query": "S3", "k": "many"}),
        ("search_notes", {"query": "S3", "mode": "fuzzy"}),
        ("read_note", {"path": "aws.md", "start_line": 99}),
        ("delete_notes", {}),
        ("search_notes", {"query": "   "}),
    )
    assert wrong_type.is_error and "k" in wrong_type.content[0].text and "integer" in wrong_type.content[0].text
    assert bad_mode.is_error and "hybrid" in bad_mode.content[0].text
    assert out_of_range.is_error and "past the end of aws.md (6 lines)" in out_of_range.content[0].text
    assert unknown.is_error and "Unknown tool: delete_notes" in unknown.content[0].text
    assert past_end.is_error and "the question is empty" in past_end.content[0].text


def test_a_new_index_is_picked_up_without_restarting(hash_server):
    from notebot.store.build import build_index

    server, settings = hash_server
    (settings.corpus_dir / "new.md").write_text("# Redshift\n- Redshift 是列式数据仓库 columnar warehouse\n", encoding="utf-8")

    async def before_and_after():
        async with Client(server) as client:
            before = await client.call_tool("search_notes", {"query": "Redshift", "mode": "lexical"})
            build_index(settings)
            after = await client.call_tool("search_notes", {"query": "Redshift", "mode": "lexical"})
            return before, after

    before, after = anyio.run(before_and_after)
    assert payload(before)["passages"] == []
    assert payload(after)["passages"][0]["file"] == "new.md"


def _server_command(corpus: Path, index_dir: Path) -> tuple[list[str], dict]:
    env = {"NOTEBOT_EMBEDDER": "hash", "PYTHONPATH": os.environ.get("PYTHONPATH", "")}
    return [sys.executable, "-m", "notebot", "mcp", "--corpus-dir", str(corpus), "--index-dir", str(index_dir)], env


def test_a_real_stdio_subprocess_builds_its_index_and_serves(write_notes, tmp_path):
    command, env = _server_command(write_notes(NOTES), tmp_path / "index")
    params = StdioServerParameters(command=command[0], args=command[1:], env=env)

    async def session():
        async with Client(params) as client:
            tools = await client.list_tools()
            results = [await client.call_tool(name, arguments) for name, arguments in [
                ("search_notes", {"query": "分区键", "k": 2}),
                ("search_notes", {"query": "charges by bytes scanned", "k": 2}),
                ("ask_notes", {"question": "DynamoDB item 最大多大"}),
                ("read_note", {"path": "aws.md", "start_line": 2, "end_line": 3}),
                ("read_note", {"path": "../../etc/passwd"}),
            ]]
            return tools, results

    tools, (chinese, english, asked, read, escape) = anyio.run(session)
    assert {tool.name for tool in tools.tools} == {"search_notes", "ask_notes", "read_note"}
    assert payload(chinese)["passages"][0]["file"] == "aws.md"
    assert payload(english)["passages"][0]["file"] == "gcp/bigquery.md"
    assert "400KB" in payload(asked)["answer"]
    assert payload(read)["text"] == "## DynamoDB\n- item 最大 400KB"
    assert escape.is_error
    assert (tmp_path / "index" / "manifest.json").exists()


def test_stdout_carries_only_protocol_even_while_the_first_index_builds(write_notes, tmp_path):
    command, env = _server_command(write_notes(NOTES), tmp_path / "index")
    messages = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize",
         "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "test", "version": "0"}}},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "search_notes", "arguments": {"query": "S3"}}},
    ]
    server = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, **env, "NOTEBOT_PROGRESS": "1"})
    try:
        lines = []
        for message in messages:
            server.stdin.write(json.dumps(message) + "\n")
            server.stdin.flush()
            if "id" in message:
                lines.append(server.stdout.readline())
        server.stdin.close()
        lines += server.stdout.read().splitlines()  # anything else on stdout would be a stray print
        stderr = server.stderr.read()
    finally:
        server.wait(timeout=60)
    assert [json.loads(line)["id"] for line in lines] == [1, 2], lines
    assert "Object最大5TB" in json.loads(lines[1])["result"]["content"][0]["text"]
    assert "built a keyword index" in stderr
