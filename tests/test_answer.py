"""The offline extractive answerer on the real shipped notes."""

import re

from notebot.answer import ask, detect_lang, resolve_follow_up
from notebot.answer.extractive import split_lines
from notebot.answer.refusal import question_names, refusal_reason
from notebot.settings import Settings

SETTINGS = Settings.load(environ={})


def test_chinese_question_gets_the_fact_with_a_citation_to_the_right_heading(real_index):
    answer = ask(real_index, "DynamoDB 的 item 最大多大？", SETTINGS)
    assert not answer.refused and "400KB" in answer.text.replace(" ", "")
    assert answer.text.startswith("根据你的笔记")
    cited = {int(n) for n in re.findall(r"\[(\d+)\]", answer.text)}
    assert any(answer.hits[n - 1].chunk.heading_path.endswith("DynamoDB") for n in cited)


def test_english_question_gets_chinese_lines_quoted_with_english_framing(real_index):
    answer = ask(real_index, "What is the maximum size of a single S3 object?", SETTINGS)
    assert not answer.refused and answer.lang == "en"
    assert answer.text.startswith("From your notes") and "5TB" in answer.text
    assert answer.hits[0].chunk.heading_path.startswith("Storage > S3")


def test_question_the_notes_do_not_cover_is_refused_in_its_language(real_index):
    english = ask(real_index, "How do I configure a self-hosted integration runtime in Azure Data Factory?", SETTINGS)
    assert english.refused and english.text.startswith("Your notes don't seem to cover this")
    assert english.hits, "the nearest passages are still shown as related"
    chinese = ask(real_index, "Snowflake 的 Snowpipe Streaming 每秒延迟是多少毫秒？", SETTINGS)
    assert chinese.refused and chinese.text.startswith("笔记里没有找到")


def test_quoted_lines_are_whole_lines_of_the_note(real_index):
    answer = ask(real_index, "Kinesis Data Streams 的数据最多保留多久？", SETTINGS)
    sources = "\n".join(h.chunk.text for h in answer.hits)
    for line in answer.text.splitlines()[1:]:
        quoted = line.strip().removeprefix("- ").rsplit(" [", 1)[0]
        assert quoted in sources


def test_follow_up_carries_the_previous_question_over():
    history = [("DynamoDB 的 item 最大多大？", "…")]
    assert resolve_follow_up("那它的吞吐量呢？", history).startswith("DynamoDB 的 item 最大多大？")
    assert resolve_follow_up("and its max size?", [("What is Kinesis Firehose?", "…")]).startswith("What is Kinesis Firehose?")
    assert resolve_follow_up("Glue DataBrew 是做什么的？", history) == "Glue DataBrew 是做什么的？"


def test_follow_up_is_answered_about_the_previous_subject(real_index):
    history = [("Kinesis Data Firehose 是做什么的？", "…")]
    answer = ask(real_index, "那它能存储数据吗？", SETTINGS, history)
    assert "Kinesis" in answer.hits[0].chunk.heading_path


def test_language_detection():
    assert [detect_lang(q) for q in ("S3 是什么", "对象最大多大", "What is S3?")] == ["mixed", "zh", "en"]


def test_names_in_a_question_are_whole_phrases():
    assert question_names("How do I set up Azure Data Factory for S3?") == ["Azure Data Factory", "S3"]
    assert question_names("What is Firecracker?") == ["Firecracker"]
    assert question_names("Kinesis Data Streams 和 SQS 有什么区别？") == ["Kinesis Data Streams", "SQS"]
    assert question_names("Snowflake 的一个 credit 多少美元？") == ["Snowflake", "credit"], "in Chinese, Latin words are terms"


def test_price_question_without_a_price_in_the_passages_is_refused(real_index):
    from notebot.search import search

    hits = search(real_index, "How much does Lambda cost per month?")
    assert "price" in (refusal_reason("What is the price of Lambda per GB-second in US dollars?", hits) or "")


def test_split_lines_drops_headings_and_fences_and_keeps_indent():
    lines = split_lines("### H\n- a：\n  - b\n```\ncode\n```\n| x |\n|---|")
    assert [(line.text, line.indent) for line in lines] == [("a：", 0), ("b", 2), ("| x |", 0)]
