from notebot.ingest.chunk import ChunkerConfig, chunk_document
from notebot.records import Document


def chunks_of(text, **config):
    return chunk_document(Document("notes/n.md", text, "utf-8"), ChunkerConfig(**config))


def test_each_chunk_carries_its_heading_path_and_exact_line_range():
    text = "# Storage\n\n## S3\n\n### 安全Security\n- SSE-S3\n- SSE-KMS\n\n## EBS\nvolume\n"
    chunks = chunks_of(text)
    assert [(c.heading_path, c.line_start, c.line_end) for c in chunks] == [
        ("Storage > S3 > 安全Security", 5, 7),
        ("Storage > EBS", 9, 10),
    ]
    lines = text.splitlines()
    for c in chunks:
        assert c.text == "\n".join(lines[c.line_start - 1 : c.line_end])


def test_embedded_text_starts_with_file_title_and_heading_path():
    [chunk] = chunks_of("# DynamoDB\nitem 最大 400KB")
    assert chunk.embed_text.startswith("n > DynamoDB\n")


def test_headings_inside_code_fences_are_not_headings_and_indentation_is_kept():
    text = "# Real\n```python\n# not a heading\n    indented()\n```\n"
    [chunk] = chunks_of(text)
    assert chunk.heading_path == "Real" and "    indented()" in chunk.text


def test_unclosed_fence_runs_to_the_end_without_losing_text():
    text = "# A\n```\ncode\n# B\nmore"
    [chunk] = chunks_of(text)
    assert chunk.text.endswith("# B\nmore")


def test_long_section_is_split_under_the_cap_without_cutting_a_code_block_or_table():
    code = "```sql\n" + "\n".join(f"SELECT {i};" for i in range(20)) + "\n```\n"
    table = "| a | b |\n|---|---|\n" + "".join(f"| {i} | 值{i} |\n" for i in range(15))
    items = "".join(f"- 第{i}条笔记，内容比较长，用来撑大这个小节的长度。\n" for i in range(30))
    chunks = chunks_of("# Big\n" + items + code + items + table, max_chars=300)
    assert len(chunks) > 3
    assert all(c.heading_path == "Big" for c in chunks)
    assert any(code.strip() in c.text for c in chunks)
    assert sum(c.text.count("| 值") for c in chunks) == 15 and any(c.text.count("| 值") == 15 for c in chunks)
    for c in chunks:
        if "```" not in c.text and "|" not in c.text:
            assert len(c.text) <= 300


def test_one_giant_line_is_cut_at_chinese_sentence_ends_with_its_line_number():
    line = "这是一句很长的话，讲的是数据工程。" * 200
    chunks = chunks_of(f"# G\n{line}\n", max_chars=300)
    assert len(chunks) > 5
    assert all(c.line_start == 2 and c.line_end == 2 for c in chunks)
    assert all(c.text.endswith("。") for c in chunks[:-1])


def test_tiny_sections_are_kept_and_bare_parent_headings_are_not_chunks():
    chunks = chunks_of("# Parent\n## Child\nx\n## Other\ny")
    assert [(c.heading_path, c.text.splitlines()[-1]) for c in chunks] == [("Parent > Child", "x"), ("Parent > Other", "y")]


def test_empty_and_heading_free_notes():
    assert chunks_of("") == []
    [chunk] = chunks_of("no headings here\nsecond line")
    assert chunk.headings == () and (chunk.line_start, chunk.line_end) == (1, 2)


def test_chunk_ids_are_stable_when_another_section_changes():
    before = {c.heading_path: c.id for c in chunks_of("# A\none\n# B\ntwo")}
    after = {c.heading_path: c.id for c in chunks_of("# A\none, edited\n# B\ntwo")}
    assert before["B"] == after["B"] and before["A"] != after["A"]


def test_a_longer_fence_holding_a_shorter_one_closes_only_at_its_own_length():
    text = ("# Markdown tips\n````markdown\n```python\n# inside the example\n```\n# still inside\n````\n"
            "## Tables\n| a | b |\n# Next\n~~~\n```\n# inside tildes\n~~~\ntext after\n")
    chunks = chunks_of(text)
    assert [(c.heading_path, c.line_start, c.line_end) for c in chunks] == [
        ("Markdown tips", 1, 7),
        ("Markdown tips > Tables", 8, 9),
        ("Next", 10, 15),
    ]
    assert "# still inside" in chunks[0].text and "# inside tildes" in chunks[2].text
