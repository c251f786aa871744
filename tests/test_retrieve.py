import pytest

from notebot.errors import NotebotError
from notebot.store.build import build_index
from notebot.store.local import LocalIndex as Index
from notebot.search import search
from notebot.search.retrieve import COVERAGE_DEPTH, LINE_DEPTH, UNRANKED_LINE_DEPTH, by_best_line
from notebot.question_words import without_note_talk
from notebot.tokenize import tokenize

from conftest import cached_vectors


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


def test_the_words_that_speak_of_the_notes_do_not_steer_the_question_vector(write_notes, hash_settings):
    notes = "# 我的笔记\n笔记里记的笔记，我记的笔记本\n# S3\nS3 加密方式：SSE-S3、SSE-KMS、SSE-C\n"
    settings = hash_settings(write_notes({"a.md": notes}))
    build_index(settings)
    index = Index.load(settings.index_dir)
    hits = search(index, "我记的笔记里，S3 有哪些加密方式？", k=1, mode="vector")
    assert "SSE-KMS" in hits[0].chunk.text


def test_note_talk_is_left_out_in_english_and_chinese_but_never_the_whole_question():
    assert without_note_talk("What do my word embedding notes say about the dimension?") == \
        "What do my word embedding say about the dimension?"
    assert without_note_talk("According to the notes, how big can an S3 object be?") == ", how big can an S3 object be?"
    assert without_note_talk("笔记里提到的 S3 加密方式有哪些？") == "提到的 S3 加密方式有哪些？"
    assert without_note_talk("my notes?") == "my notes?"
    assert without_note_talk("SageMaker 的笔记本实例怎么停止？") == "SageMaker 的笔记本实例怎么停止？"


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


def indexed(write_notes, hash_settings, notes: dict[str, str]):
    """The notes indexed with the hash embedder: the loaded index and its chunks in note order."""
    settings = hash_settings(write_notes(notes))
    build_index(settings)
    index = Index.load(settings.index_dir)
    return index, sorted(index.chunks, key=lambda chunk: (chunk.file, chunk.line_start))


def by_coverage_alone(index, query: str, ranked) -> list:
    """The chunks in the order plain search's re-rank gives them: line coverage over the first five, no line vectors."""
    return [chunk for chunk, _ in by_best_line(index, query, ranked, None, depth=0, coverage_depth=5)]


def test_the_passage_holding_the_answering_line_is_ranked_first(write_notes, hash_settings):
    notes = {"tcp.md": "# TCP\n- 可靠传输，面向连接\n- 流量控制与拥塞控制\n"
                       "# Handshake\n- 报文段有序号\n- three-way handshake: SYN, SYN-ACK, ACK\n"}
    index, (overview, handshake) = indexed(write_notes, hash_settings, notes)
    question = index.embedder.embed_queries(["three-way handshake: SYN, SYN-ACK, ACK"])[0]
    # The fused ranking put the overview first by a hair; the handshake passage holds the line.
    reranked = by_best_line(index, "three-way handshake", [(overview, 0.30), (handshake, 0.29)], question)
    assert [chunk for chunk, _ in reranked] == [handshake, overview]
    assert reranked[0][1] > 0.29 and reranked[1][1] > 0.30  # both gain a line vote; the order changes


def test_a_sibling_whose_line_holds_the_whole_question_overtakes_one_that_only_names_its_subject(
        write_notes, hash_settings, monkeypatch):
    from notebot.search import retrieve

    notes = {"patterns.md": "# Observer Pattern\n观察者模式：主题状态变化时通知所有观察者。\n"
                            "# Observer Pattern\n缺点：\n- 观察者很多时通知慢\n- 通知的顺序不保证\n"}
    index, (overview, drawbacks) = indexed(write_notes, hash_settings, notes)
    query = "Observer pattern 有哪些缺点？"
    question = index.embedder.embed_queries([query])[0]
    ranked = [(overview, 0.30), (drawbacks, 0.27)]  # the whole overview looks nearer the question
    assert [chunk for chunk, _ in by_best_line(index, query, ranked, question)] == [drawbacks, overview]
    # Plain search reads no line vectors (depth 0, no query vector): the coverage alone closes a smaller gap.
    close = [(overview, 0.30), (drawbacks, 0.29)]
    assert by_coverage_alone(index, query, close) == [drawbacks, overview]
    monkeypatch.setattr(retrieve, "LINE_COVERAGE_WEIGHT", 0.0)  # by line cosines alone the gap holds
    assert [chunk for chunk, _ in by_best_line(index, query, ranked, question)] == [overview, drawbacks]


def test_the_first_place_goes_to_the_line_evidence_and_the_rest_keep_the_fused_order(write_notes, hash_settings, monkeypatch):
    from notebot.search import retrieve

    notes = {"patterns.md": "# Observer Pattern\n观察者模式：主题状态变化时通知所有观察者。\n"
                            "# Observer Pattern\n缺点：\n- 观察者很多时通知慢\n- 通知的顺序不保证\n"
                            "# Singleton Pattern\n单例模式：一个类只有一个实例。\n"}
    index, (overview, drawbacks, singleton) = indexed(write_notes, hash_settings, notes)
    query = "Observer pattern 有哪些缺点？"
    question = index.embedder.embed_queries([query])[0]
    # a gap in the fused scores the line votes at their usual weights leave, but not at the first place's
    ranked = [(overview, 0.30), (singleton, 0.25), (drawbacks, 0.19)]
    reranked = by_best_line(index, query, ranked, question, stronger_first=True)
    assert [chunk for chunk, _ in reranked] == [drawbacks, overview, singleton]
    assert [score for _, score in reranked] == sorted((score for _, score in reranked), reverse=True)
    plain = by_best_line(index, query, ranked, question, depth=0, stronger_first=True)  # plain search reads no lines
    assert plain[0][0] == overview
    # once the line ranking is part of the fusion, the line evidence has had its say there
    assert [chunk for chunk, _ in by_best_line(index, query, ranked, question)] == [overview, drawbacks, singleton]
    monkeypatch.setattr(retrieve, "FIRST_LINE_WEIGHT", retrieve.LINE_WEIGHT)
    monkeypatch.setattr(retrieve, "FIRST_COVERAGE_WEIGHT", retrieve.LINE_COVERAGE_WEIGHT)
    assert [chunk for chunk, _ in by_best_line(index, query, ranked, question, stronger_first=True)][0] == overview


def test_a_number_question_ranks_the_sibling_stating_the_number_over_the_introduction(write_notes, hash_settings):
    notes = {"gcp.md": "# Cloud Spanner\nCloud Spanner：全球分布式的关系型数据库，跨区域复制，高可用。\n"
                       "# Cloud Spanner\n- 计算和存储分离\n- 目前最多可对 4 个区域进行复制\n"}
    index, (introduction, numbers) = indexed(write_notes, hash_settings, notes)
    ranked = [(introduction, 0.30), (numbers, 0.29)]  # the introduction names more of the question
    assert by_coverage_alone(index, "Cloud Spanner 跨区域复制最多能覆盖几个区域？", ranked) == [numbers, introduction]
    assert by_coverage_alone(index, "Cloud Spanner 的跨区域复制是什么？", ranked) == [introduction, numbers]  # no number asked: the order holds


def test_an_english_superlative_asks_for_a_number_as_the_chinese_one_does(write_notes, hash_settings):
    notes = {"sqs.md": "# SQS\nSQS keeps each message in the queue until a consumer deletes the message.\n"
                       "# SQS\n- messages stay 4 days by default\n- at most 14 days\n"}
    index, (introduction, numbers) = indexed(write_notes, hash_settings, notes)
    ranked = [(introduction, 0.30), (numbers, 0.29)]
    assert by_coverage_alone(index, "What's the longest SQS keeps a message in the queue?", ranked) == [numbers, introduction]
    assert by_coverage_alone(index, "How does SQS keep a message in the queue?", ranked) == [introduction, numbers]


def test_a_passage_holding_none_of_the_question_gets_no_coverage_vote(write_notes, hash_settings):
    notes = {"aws.md": "# Kinesis\n- shards carry the records of a stream\n"
                       "# Lambda\n- functions run on demand\n"
                       "# SQS\n- the visibility timeout hides a message from other consumers\n"}
    index, (kinesis, lambda_, sqs) = indexed(write_notes, hash_settings, notes)
    ranked = [(kinesis, 0.30), (lambda_, 0.29), (sqs, 0.28)]  # vectors put two unrelated passages first
    assert by_coverage_alone(index, "How does the SQS visibility timeout work?", ranked) == [sqs, kinesis, lambda_]


def test_a_passage_holding_a_small_share_of_the_question_gets_a_small_coverage_vote(write_notes, hash_settings):
    notes = {"aws.md": "# Queues\n- SQS is a managed queue\n"
                       "# Timeouts\n- the SQS visibility timeout hides a message from other consumers\n"}
    index, (queues, timeouts) = indexed(write_notes, hash_settings, notes)
    ranked = [(queues, 0.30), (timeouts, 0.27)]  # both hold "SQS"; only one holds the rest of the question
    assert by_coverage_alone(index, "How does the SQS visibility timeout hide a message?", ranked) == [timeouts, queues]


def test_line_evidence_never_reorders_past_its_depth(write_notes, hash_settings):
    index, _ = indexed(write_notes, hash_settings, {"a.md": "".join(f"# H{i}\n- line {i} about topic {i}\n" for i in range(16))})
    ranked = [(chunk, 1.0 - i / 20) for i, chunk in enumerate(index.chunks)]
    question = index.embedder.embed_queries(["line 14 about topic 14"])[0]
    for depth in (LINE_DEPTH, UNRANKED_LINE_DEPTH):
        window = max(depth, COVERAGE_DEPTH)  # line coverage needs no vectors: it reads deeper on a warmed index
        reranked = by_best_line(index, "line 14 about topic 14", ranked, question, depth)
        assert reranked[window:] == ranked[window:]
        assert {chunk.id for chunk, _ in reranked[:window]} == {chunk.id for chunk, _ in ranked[:window]}


def test_before_lines_are_ranked_a_passage_just_below_the_first_five_joins_them_by_its_line(write_notes, hash_settings):
    index, _ = indexed(write_notes, hash_settings, {"a.md": "".join(f"# H{i}\n- line {i} about topic {i}\n" for i in range(10))})
    ranked = [(chunk, 0.30 - i / 200) for i, chunk in enumerate(index.chunks)]  # near-equal fused scores
    answering = index.chunks[7]
    question = index.embedder.embed_queries(["line 7 about topic 7"])[0]
    top_five = lambda reranked: [chunk.id for chunk, _ in reranked[:5]]  # noqa: E731
    assert answering.id not in top_five(by_best_line(index, "line 7 about topic 7", ranked, question, LINE_DEPTH))
    assert answering.id in top_five(by_best_line(index, "line 7 about topic 7", ranked, question, UNRANKED_LINE_DEPTH))


def test_plain_search_embeds_no_lines_and_answers_rank_by_lines(write_notes, hash_settings):
    notes = {"a.md": "# TCP\n- 可靠传输\n- 流量控制\n# UDP\n- 无连接\n- 头部 8 字节\n"}
    settings = hash_settings(write_notes(notes))
    build_index(settings)
    index = Index.load(settings.index_dir)

    before = cached_vectors(settings.index_dir)
    search(index, "UDP 头部多大", k=2)
    assert cached_vectors(settings.index_dir) == before  # `search` stays instant: no line is embedded
    search(index, "UDP 头部多大", k=2, line_evidence=True)
    assert cached_vectors(settings.index_dir) > before  # the lines of the top passages, kept for the next time


def test_warming_embeds_every_line_once_and_then_answers_embed_nothing(write_notes, hash_settings):
    from notebot.search.lines import warm_line_cache

    notes = {"a.md": "# TCP\n- 可靠传输\n- 流量控制\n# UDP\n- 无连接\n- 头部 8 字节\n", "b.md": "# DNS\n- 域名解析\n"}
    settings = hash_settings(write_notes(notes))
    build_index(settings)
    index = Index.load(settings.index_dir)

    assert warm_line_cache(index, should_stop=lambda: True) is None  # asked to stop before the first batch
    before = cached_vectors(settings.index_dir)
    assert warm_line_cache(index, should_stop=lambda: False, batch=2, pause=0) == 5
    assert cached_vectors(settings.index_dir) == before + 5
    assert warm_line_cache(index, should_stop=lambda: False) == 0
    search(index, "UDP 头部多大", k=2, line_evidence=True)
    assert cached_vectors(settings.index_dir) == before + 5  # every line an answer reads was already there


def test_warmed_lines_are_gathered_for_search_and_a_new_build_starts_without_them(write_notes, hash_settings):
    from notebot.search.line_ranking import line_matrix, warm_lines
    from notebot.search.lines import line_text

    notes = {"a.md": "# TCP\n- 可靠传输\n- 流量控制\n# UDP\n- 无连接\n- 头部 8 字节\n", "b.md": "# DNS\n- 域名解析\n"}
    corpus = write_notes(notes)
    settings = hash_settings(corpus)
    build_index(settings)
    index = Index.load(settings.index_dir)
    assert line_matrix(index) is None  # nothing gathered yet: search fuses its three usual rankings
    assert warm_lines(index, should_stop=lambda: True) is None and line_matrix(index) is None

    assert warm_lines(index, should_stop=lambda: False) == 5
    matrix = line_matrix(Index.load(settings.index_dir))  # another process reads it from the build folder
    assert matrix is not None and matrix.vectors.shape == (5, index.embedder.dim)
    udp = next(chunk for chunk in index.chunks if chunk.heading_path.endswith("UDP"))
    query = index.embedder.embed_queries([line_text(udp.heading_path, "头部 8 字节")])[0]
    assert matrix.ranking(index, query, 2)[0][0].id == udp.id  # the chunk whose line is nearest comes first
    assert search(index, "UDP 头部多大", k=2)[0].chunk.id == udp.id

    (corpus / "b.md").write_text("# DNS\n- 域名解析\n- 递归查询\n", encoding="utf-8")
    build_index(settings)
    assert line_matrix(Index.load(settings.index_dir)) is None  # a new build: its lines are gathered again when warmed


def test_a_line_matrix_that_disagrees_with_its_index_is_ignored(write_notes, hash_settings):
    import numpy as np

    from notebot.search.line_ranking import OWNERS_FILE, line_matrix, warm_lines

    settings = hash_settings(write_notes({"a.md": "# TCP\n- 可靠传输\n- 流量控制\n"}))
    build_index(settings)
    index = Index.load(settings.index_dir)
    warm_lines(index, should_stop=lambda: False)
    np.save(settings.index_dir / index.manifest["build"] / OWNERS_FILE, np.zeros(7, np.int32))  # a torn or foreign write
    reloaded = Index.load(settings.index_dir)
    assert line_matrix(reloaded) is None
    assert search(reloaded, "流量控制", k=1)[0].chunk.text.startswith("# TCP")


def test_warming_embeds_code_lines_after_gathering_the_prose_lines_for_search(write_notes, hash_settings):
    from notebot.answer import ask
    from notebot.search.line_ranking import line_matrix, warm_lines

    notes = {"a.md": "# UDP\n- 头部 8 字节\n- 创建 UDP socket：\n```python\nsock = socket.socket(AF_INET, SOCK_DGRAM)\n```\n"}
    settings = hash_settings(write_notes(notes))
    build_index(settings)
    index = Index.load(settings.index_dir)
    assert warm_lines(index, should_stop=lambda: False) == 3  # two lines, one line of code
    assert len(line_matrix(index).owners) == 2, "search ranks chunks by their prose lines only"
    before = cached_vectors(settings.index_dir)
    answer = ask(index, "UDP socket 用 SOCK_DGRAM 怎么创建？", settings)
    assert "`sock = socket.socket(AF_INET, SOCK_DGRAM)`" in answer.text, answer.text
    assert cached_vectors(settings.index_dir) == before, "the code line an answer quotes was embedded by the warm-up"


def test_a_jieba_index_weighs_a_questions_words_as_the_default_index_does(write_notes, tmp_path):
    from notebot.search.coverage import weigh_slots
    from notebot.settings import Settings

    corpus = write_notes({"kinesis.md": "# Kinesis\n数据存留为1天到一年。\n\n# S3\nS3 支持 SSE-KMS 加密。\n",
                          "redshift.md": "# Redshift\n默认的 queue 并发是 5。\n"})
    weighed = {}
    for tokenizer in ("cjk-bigram-v1", "jieba-v1"):
        settings = Settings.load(environ={}, corpus_dir=corpus, index_dir=tmp_path / tokenizer, embedder="hash", tokenizer=tokenizer)
        build_index(settings)
        index = Index.load(settings.index_dir)
        weighed[tokenizer] = [weigh_slots(question, index) for question in ("Kinesis 的数据存留多久？", "红烧肉怎么做？")]
    assert [(w.weights, w.known) for w in weighed["jieba-v1"]] == [(w.weights, w.known) for w in weighed["cjk-bigram-v1"]]
    known, unknown = weighed["jieba-v1"]
    assert all(known.known) and not any(unknown.known)
