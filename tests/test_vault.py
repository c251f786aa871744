"""Retrieval across a vault of notes: the glossary the notes write down, and note-level evidence."""

from notebot.search import search, search_text
from notebot.glossary import mine_glossary
from notebot.search.notes import vault_evidence
from notebot.store.build import build_index
from notebot.store.local import LocalIndex as Index


def test_glossary_pairs_terms_glossed_in_either_direction():
    glossary = mine_glossary(["注意力（Attention）机制让模型关注重点", "先介绍 Segment Tree（段树）的构造"])
    assert glossary.expand("How does the attention mechanism work?") == ["注意力"]
    assert glossary.expand("段树怎么构造") == ["segment tree"]


def test_glossary_keeps_the_term_not_the_sentence_before_it():
    glossary = mine_glossary(["人人都知道的哈希表（Hash Table）也称为哈希映射（Hash Map）"])
    assert glossary.expand("hash table vs hash map") == ["哈希表", "哈希映射"]


def test_glossary_ignores_stopwords_numbers_and_unglossed_text():
    glossary = mine_glossary(["见下文（the）", "版本（2）", "普通的括号（没有英文）", "plain (english only)"])
    assert len(glossary) == 0
    assert glossary.expand("the 2 english") == []


def test_glossary_is_mined_from_every_note_of_the_vault_at_build_time(write_notes, hash_settings):
    settings = hash_settings(write_notes({"a.md": "# A\n缓存（Cache）放在内存里\n", "b.md": "# B\n驱逐策略（Eviction Policy）\n"}))
    build_index(settings)
    glossary = Index.load(settings.index_dir).glossary  # mined when the index was written
    assert glossary.expand("cache eviction policy") == ["缓存", "驱逐策略"]


def test_an_english_question_reaches_a_chinese_passage_through_the_vaults_glossary(write_notes, hash_settings):
    notes = {
        "glossary.md": "# 术语表\n- 驱逐策略（Eviction Policy）\n",
        "cache.md": "# 缓存\n常见的驱逐策略有 LRU 和 LFU。\n",
        "office.md": "# 办公\n每天九点上班，周五下午开会。\n",
    }
    settings = hash_settings(write_notes(notes))
    build_index(settings)
    files = [hit.chunk.file for hit in search(Index.load(settings.index_dir), "Which eviction policy options exist?", k=3)]
    assert files.index("cache.md") < files.index("office.md")


def test_a_note_whose_title_names_the_topic_lifts_its_passages(write_notes, hash_settings):
    filler = "\n".join(f"## 第{i}节\n这里记录了一些其他的内容，编号 {i}。\n" for i in range(6))
    notes = {
        "transport-layer.md": "# 概述\n报头里有源端口、目标端口、长度和校验和。\n",
        "diary.md": f"# 日记\n{filler}",
        "recipes.md": f"# 菜谱\n{filler}",
    }
    settings = hash_settings(write_notes(notes))
    build_index(settings)
    hits = search(Index.load(settings.index_dir), "transport layer 报头有哪些字段", k=3)
    assert hits[0].chunk.file == "transport-layer.md"


def test_a_single_note_ranks_as_before_without_note_votes(write_notes, hash_settings):
    settings = hash_settings(write_notes({"a.md": "# A\nalpha beta\n# B\ngamma delta\n"}))
    build_index(settings)
    index = Index.load(settings.index_dir)
    evidence = vault_evidence(index)
    assert evidence.notes == 1
    assert [hit.chunk.headings for hit in search(index, "gamma", k=2)] == [("B",), ("A",)]


def test_the_vectors_read_a_question_with_the_chinese_words_for_its_english_terms(write_notes, hash_settings):
    notes = {"glossary.md": "# 术语表\n- 驱逐策略（Eviction Policy）\n", "chips.md": "# 芯片\n晶体管的数量每两年翻一番。\n"}
    settings = hash_settings(write_notes(notes))
    build_index(settings)
    index = Index.load(settings.index_dir)
    assert search_text(index, "Which eviction policy options exist?") == "Which eviction policy options exist? 驱逐策略"
    assert "晶体管" in search_text(index, "How fast does the transistor count grow?")  # the dictionary's, as the notes write it
    assert search_text(index, "晶体管的数量多久翻一番？") == "晶体管的数量多久翻一番？"  # no English senses appended
    assert search_text(index, "eviction policy 是什么？") == "eviction policy 是什么？ 驱逐策略"  # a mixed question too
    assert search_text(index, "驱逐策略 eviction policy 是什么？") == "驱逐策略 eviction policy 是什么？"  # nothing new to add


def test_hybrid_search_also_reads_an_english_question_with_its_chinese_words(write_notes, hash_settings):
    notes = {"glossary.md": "# 术语表\n- 驱逐策略（Eviction Policy）\n", "cache.md": "# 缓存\n常见的驱逐策略有最近最少使用。\n"}
    settings = hash_settings(write_notes(notes))
    build_index(settings)
    index = Index.load(settings.index_dir)
    embedded = []
    embed_queries = index.embedder.embed_queries
    index.embedder.embed_queries = lambda texts: embedded.extend(texts) or embed_queries(texts)
    search(index, "Which eviction policy options exist?", k=1)
    assert embedded == ["Which eviction policy options exist?", "Which eviction policy options exist? 驱逐策略"]
    embedded.clear()
    search(index, "驱逐策略有哪些？", k=1)
    assert embedded == ["驱逐策略有哪些？"]  # nothing to add: read once
