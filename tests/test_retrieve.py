import pytest

from notebot.errors import NotebotError
from notebot.store.build import build_index
from notebot.store.local import LocalIndex as Index
from notebot.search import search
from notebot.tokenize import tokenize


def test_tokenizer_keeps_aws_terms_and_cuts_chinese_into_bigrams():
    tokens = tokenize("DynamoDB 的 RCU 和 S3 multi-part 上传")
    assert {"dynamodb", "rcu", "s3", "multi-part", "multi", "part", "multipart"} <= set(tokens)
    assert {"上传"} <= set(tokens)


def test_chinese_question_finds_the_dynamodb_item_size(real_index):
    hits = search(real_index, "DynamoDB 的 item 最大多大？", k=5)
    assert any("400KB" in hit.chunk.text for hit in hits)
    assert hits[0].chunk.heading_path.endswith("DynamoDB")


def test_english_question_finds_chinese_passage(real_index):
    hits = search(real_index, "What is the maximum size of a single S3 object?", k=5)
    assert any("5TB" in hit.chunk.text for hit in hits)


@pytest.mark.parametrize("mode", ["hybrid", "vector", "lexical"])
def test_every_mode_ranks_from_one(real_index, mode):
    hits = search(real_index, "Kinesis Firehose", k=3, mode=mode)
    assert [h.rank for h in hits] == [1, 2, 3]
    assert any("Kinesis" in h.chunk.heading_path for h in hits)


def test_empty_and_whitespace_queries_are_refused(real_index):
    for query in ("", "   \n\t"):
        with pytest.raises(NotebotError, match="the question is empty"):
            search(real_index, query)


def test_a_10000_character_query_still_answers(real_index):
    hits = search(real_index, "S3 " * 5000, k=2)
    assert len(hits) == 2


def test_k_is_capped_by_the_number_of_chunks(write_notes, hash_settings):
    settings = hash_settings(write_notes({"a.md": "# A\nalpha\n# B\nbeta"}))
    build_index(settings)
    index = Index.load(settings.index_dir)
    assert len(search(index, "alpha", k=100_000)) == 2
    with pytest.raises(NotebotError):
        search(index, "alpha", k=0)


def test_lexical_mode_never_loads_the_embedder(write_notes, hash_settings):
    settings = hash_settings(write_notes({"a.md": "# A\nalpha\n"}))
    build_index(settings)
    index = Index.load(settings.index_dir)
    search(index, "alpha", mode="lexical")
    assert index._embedder is None
