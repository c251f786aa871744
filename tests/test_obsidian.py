"""An Obsidian vault reads as its author means it: frontmatter as context, links as text, exact lines."""

from notebot.ingest.chunk import chunk_document
from notebot.ingest.load import load_corpus
from notebot.ingest.markdown import read_markdown, resolve_line
from notebot.records import Document
from notebot.search import search
from notebot.store.build import build_index
from notebot.store.local import LocalIndex

S3_NOTE = """---
title: S3 学习笔记
aliases: [对象存储, Simple Storage Service]
tags:
  - aws/storage
  - 考试
---
# Buckets

> [!note] 命名规则
> bucket 名全局唯一，3 到 63 个字符。

单个 object 最大 5TB，见 [[DynamoDB|数据库笔记]] 和 [[Kinesis#Firehose 投递]]。
![[bucket-diagram.png]]
#exam-tip 上传超过 100MB 用 multipart upload。
"""

VAULT = {
    "aws/s3.md": S3_NOTE,
    "aws/dynamodb.md": "---\naliases: 键值数据库, key-value store\n---\n# DynamoDB\n- item 最大 400KB\n",
    "broken.md": "---\ntitle: [unclosed\naliases: oops: : :\n---\n# 还能搜到\n- Glacier 是归档存储\n",
    "plain.md": "# Plain\nno frontmatter here, a [[Missing Note]] link.\n",
    ".obsidian/workspace.md": "# workspace\nsecret layout\n",
    ".trash/old.md": "# deleted\nthrown-away words\n",
    "attachments/bucket-diagram.png": b"\x89PNG\r\n\x1a\n\x00\x00",
    "Board.canvas": '{"nodes": []}',
}


def load(write_notes, warnings=None):
    return {doc.path: doc for doc in load_corpus(write_notes(VAULT), (warnings if warnings is not None else []).append)}


def test_hidden_folders_and_attachments_are_never_indexed(write_notes):
    assert sorted(load(write_notes)) == ["aws/dynamodb.md", "aws/s3.md", "broken.md", "plain.md"]


def test_frontmatter_is_never_quoted_but_its_title_aliases_and_tags_are_context(write_notes):
    chunks = chunk_document(load(write_notes)["aws/s3.md"])
    assert not any("aliases" in chunk.text or "---" in chunk.text for chunk in chunks)
    assert chunks[0].context == "S3 学习笔记 · 对象存储 · Simple Storage Service · aws/storage · 考试"
    assert all("对象存储" in chunk.embed_text.splitlines()[0] for chunk in chunks)


def test_citations_still_point_at_the_real_lines(write_notes):
    (chunk,) = chunk_document(load(write_notes)["aws/s3.md"])
    real = S3_NOTE.splitlines()
    assert (chunk.line_start, chunk.line_end) == (8, 15)
    assert real[chunk.line_start - 1] == "# Buckets" and real[chunk.line_end - 1].startswith("#exam-tip")


def test_links_embeds_tags_and_callouts_read_as_text(write_notes):
    text = load(write_notes)["aws/s3.md"].text
    assert "> 命名规则" in text and "[!note]" not in text
    assert "见 数据库笔记 和 Kinesis > Firehose 投递。" in text
    assert "bucket-diagram" not in text and "![[" not in text
    assert "exam-tip 上传超过" in text
    assert len(text.splitlines()) == len(S3_NOTE.splitlines())


def test_a_link_to_a_missing_note_is_just_its_text(write_notes):
    assert "a Missing Note link." in load(write_notes)["plain.md"].text


def test_code_is_left_exactly_as_written():
    assert resolve_line("run `grep '#tag [[x]]'` now #ok\n") == "run `grep '#tag [[x]]'` now ok\n"
    fenced = "# T\n```\n#include [[x]]\n> [!note]\n```\n"
    assert read_markdown(Document("c.md", fenced, "utf-8")).text == fenced


def test_bracketed_data_is_not_a_link():
    assert resolve_line("[[[1, 2], [5, 6]], [[1, 3]]]") == "[[[1, 2], [5, 6]], [[1, 3]]]"


def test_invalid_yaml_is_a_warning_naming_the_file_and_the_note_is_still_indexed(write_notes):
    warnings = []
    notes = load(write_notes, warnings)
    assert [w for w in warnings if "broken.md" in w and "invalid YAML frontmatter" in w]
    (chunk,) = chunk_document(notes["broken.md"])
    assert chunk.context == "" and "Glacier" in chunk.text and chunk.line_start == 5


def test_notes_without_frontmatter_embed_exactly_as_before():
    doc = read_markdown(Document("plain.md", "# Plain\nplain words\n", "utf-8"))
    assert chunk_document(doc)[0].embed_text == "plain > Plain\n# Plain\nplain words"


def test_an_alias_in_either_language_finds_the_note(write_notes, hash_settings):
    settings = hash_settings(write_notes(VAULT))
    build_index(settings)
    index = LocalIndex.load(settings.index_dir)
    for alias, file in [("对象存储", "aws/s3.md"), ("Simple Storage Service", "aws/s3.md"),
                        ("键值数据库", "aws/dynamodb.md"), ("key-value store", "aws/dynamodb.md")]:
        assert search(index, alias, 1, "lexical")[0].chunk.file == file, alias
    assert not search(index, "secret layout", 5, "lexical") and not search(index, "thrown-away", 5, "lexical")
