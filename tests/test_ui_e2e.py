"""The web UI in a real headless Chromium: ask in Chinese and English, upload a note, empty question."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="needs Debian chromium (scripts/test.sh installs it)")
REPO = Path(__file__).resolve().parent.parent
SCREENSHOT = REPO / "docs" / "screenshot.png"

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
    port = free_port()
    env = {**os.environ, "NOTEBOT_CORPUS_DIR": str(corpus), "NOTEBOT_INDEX_DIR": str(root / "index"), "NOTEBOT_PORT": str(port)}
    env.pop("NOTEBOT_EMBEDDER", None)
    log = open(root / "server.log", "w")
    process = subprocess.Popen([sys.executable, str(REPO / "app.py")], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    url = f"http://127.0.0.1:{port}/"
    deadline = time.time() + 120  # the first run builds the index before serving
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
    yield {"url": url, "corpus": corpus, "root": root}
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
    page.goto(server["url"], wait_until="domcontentloaded")
    page.locator("#nb-question textarea").wait_for(timeout=30_000)
    yield page
    page.close()


def ask(page, question: str) -> None:
    box = page.locator("#nb-question textarea")
    box.fill(question)
    page.locator("#nb-send").click()


def last_answer(page, containing: str):
    bot = page.locator("#nb-chat [data-testid='bot']").last
    bot.filter(has_text=containing).wait_for(timeout=30_000)
    return bot.inner_text()


def test_chinese_question_gets_the_fact_and_the_source_heading(page):
    ask(page, "DynamoDB 的 item 最大多大？")
    assert "400KB" in last_answer(page, "400KB")
    sources = page.locator("#nb-sources")
    sources.filter(has_text="Database > DynamoDB").wait_for(timeout=10_000)
    assert sources.locator("mark").count() > 0, "the query's terms are highlighted"
    page.screenshot(path=str(SCREENSHOT), full_page=False)


def test_english_question_gets_the_fact_and_the_source_heading(page):
    ask(page, "Can Kinesis Data Firehose store data?")
    assert "不能存储数据" in last_answer(page, "不能存储数据")
    page.locator("#nb-sources").filter(has_text="Analytics > Kinesis").wait_for(timeout=10_000)


def test_clicking_a_citation_brings_its_passage_into_view(page):
    ask(page, "DynamoDB 的 item 最大多大？")
    last_answer(page, "400KB")
    page.locator("#nb-chat a[href='#src-1']").last.click()
    page.wait_for_function("location.hash === '#src-1'", timeout=5_000)
    assert page.locator("#src-1").is_visible()


def test_empty_question_gets_a_gentle_message(page):
    page.locator("#nb-send").click()
    assert "Please type a question" in last_answer(page, "Please type a question")


def test_uploaded_note_is_found_after_the_reindex(page, server, tmp_path):
    note = tmp_path / "glue.md"
    note.write_text("# Glue\n\n## DataBrew\n\n- DataBrew 通过创建 Recipes 来进行可视化数据清洗\n", encoding="utf-8")
    page.get_by_text("索引 Index").first.click()
    page.locator("#nb-upload input[type='file']").set_input_files(str(note))
    page.locator("#nb-index-status").filter(has_text="Indexed 2 files").wait_for(timeout=90_000)
    assert (server["corpus"] / "glue.md").exists()
    ask(page, "Glue DataBrew 用什么做数据清洗？")
    assert "Recipes" in last_answer(page, "Recipes")
