"""The web UI (Gradio): chat with streamed, cited answers; the passages beside it; the index panel.

gradio is imported only here, inside functions, so the CLI's other commands never pay for it.
"""

from __future__ import annotations

import html
import logging
import re
import sys
import threading
from dataclasses import replace
from pathlib import Path

from ..errors import NotebotError
from ..settings import MODES, Settings

log = logging.getLogger("notebot.ui")

EXAMPLES = ["DynamoDB 的 item 最大多大？", "Can Kinesis Data Firehose store data?", "S3 有哪些加密方式？",
            "What is the difference between Kinesis Data Streams and SQS?"]
EMPTY_QUESTION = "请输入一个问题。Please type a question first."
FAILURE = "抱歉，出错了，请稍后再试。Sorry, something went wrong — please try again. (details are in the server log)"
CITATION = re.compile(r"\[(\d{1,3})\]")
LLM_SLOTS = 2  # LLM answers at once: of the queue's 4 workers, 2 always stay free for offline answers
LLM_BUSY = "the LLM is busy with other answers; this is the offline extractive answer"


class NotebotApp:
    """The app's state: the loaded index (swapped atomically after a re-index) and its settings."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._index = None
        self._swap = threading.Lock()
        self._building = threading.Lock()  # one re-index at a time
        self._llm_slots = threading.BoundedSemaphore(LLM_SLOTS)

    @property
    def index(self):
        with self._swap:
            if self._index is None:
                from ..store import open_index

                self._index = open_index(self.settings)
            return self._index

    def build(self, progress=None) -> dict:
        """Re-index incrementally, then swap the new index in; questions keep using the old one meanwhile."""
        from ..store import open_index
        from ..store.build import build_index

        if not self._building.acquire(blocking=False):
            raise NotebotError("a re-index is already running", "wait for it to finish")
        try:
            report = build_index(self.settings, progress=progress, warn=log.warning)
            fresh = open_index(self.settings)
            with self._swap:
                self._index = fresh
            return report
        finally:
            self._building.release()

    def ensure_index(self) -> None:
        """First run: build the index before serving, with progress on stderr."""
        from ..progress import ProgressBar
        from ..store import index_exists

        if not index_exists(self.settings):

            print(f"no index in {self.settings.index_dir}: building it from {self.settings.corpus_dir} …", file=sys.stderr)
            with ProgressBar() as progress:
                report = self.build(progress)
            print(f"indexed {report['files']} files, {report['chunks']} chunks", file=sys.stderr)

    def ask(self, question: str, history, k: int, mode: str, answerer: str):
        from ..answer import ask_stream

        settings = replace(self.settings, k=int(k), mode=mode, answerer=answerer)
        if answerer != "llm":
            yield from ask_stream(self.index, question, settings, history)
        elif self._llm_slots.acquire(blocking=False):
            try:
                yield from ask_stream(self.index, question, settings, history)
            finally:
                self._llm_slots.release()
        else:  # never queue behind slow LLM answers
            *_, answer = ask_stream(self.index, question, replace(settings, answerer="extractive"), history)
            answer.notice = "; ".join(filter(None, [LLM_BUSY, answer.notice]))
            yield answer

    def describe_index(self) -> str:
        try:
            manifest = self.index.manifest
        except NotebotError as problem:
            return f"⚠️ {problem}"
        files = "\n".join(f"- `{f['path']}` — {f['chunks']} chunks" for f in manifest["corpus"]["files"][:50])
        return (f"**{manifest['counts']['files']}** files · **{manifest['counts']['chunks']}** chunks · embedder "
                f"`{manifest['embedder']['name']}` · built {manifest['built_at']}\n\n{files}")

    def llm_label(self) -> str | None:
        if not (self.settings.llm_base_url and self.settings.llm_model):
            return None
        from ..answer.llm import LLMAnswerer

        return LLMAnswerer.from_settings(self.settings).describe()


# ---- rendering -----------------------------------------------------------------------------

def render_answer(answer) -> str:
    """Answer markdown with [n] turned into links to the passage panel."""
    text = CITATION.sub(lambda m: f"[[{m.group(1)}]](#src-{m.group(1)})" if int(m.group(1)) <= len(answer.hits) else m.group(0),
                        answer.text)
    if answer.notice:
        text += f"\n\n> ℹ️ {answer.notice}"
    return text


def render_sources(answer, query: str) -> str:
    from markdown_it import MarkdownIt

    markdown = MarkdownIt("commonmark", {"html": False}).enable("table")
    title = "相关段落 Related passages" if answer.refused else "来源 Sources"
    parts = [f"<h3>{title}</h3>"]
    terms = highlight_terms(query)
    for number, hit in enumerate(answer.hits, start=1):
        c = hit.chunk
        where = html.escape(f"{c.file} › {c.heading_path or '(top)'} › lines {c.line_start}-{c.line_end}")
        body = highlight(markdown.render(c.text), terms)
        parts.append(f'<div class="nb-source" id="src-{number}"><div class="nb-where"><b>[{number}]</b> {where}'
                     f' <span class="nb-score">score {hit.score:.3f}</span></div>{body}</div>')
    return "\n".join(parts)


def highlight_terms(query: str) -> list[str]:
    """Query words to mark: English/AWS words, and Chinese bigrams (adjacent marks read as one)."""
    from ..tokenize import tokenize

    terms = {t for t in tokenize(query) if len(t) >= 2}
    return sorted(terms, key=len, reverse=True)


def highlight(rendered: str, terms: list[str]) -> str:
    if not terms:
        return rendered
    pattern = re.compile("|".join(re.escape(html.escape(t)) for t in terms), re.IGNORECASE)
    # Mark only text between tags, never inside a tag or attribute.
    pieces = re.split(r"(<[^>]+>)", rendered)
    return "".join(p if p.startswith("<") else pattern.sub(lambda m: f"<mark>{m.group(0)}</mark>", p) for p in pieces)


CSS = """
.nb-source { border: 1px solid #ddd; border-radius: 8px; padding: 8px 12px; margin: 8px 0; scroll-margin-top: 12px; }
.nb-source:target { border-color: #f59e0b; box-shadow: 0 0 0 2px #fde68a; }
.nb-where { font-size: 0.9em; color: #555; margin-bottom: 4px; }
.nb-score { color: #999; font-size: 0.85em; margin-left: 6px; }
mark { background: #fde68a; padding: 0 1px; }
"""


# ---- the app -------------------------------------------------------------------------------

def build_app(settings: Settings, app: NotebotApp | None = None):
    import gradio as gr

    app = app or NotebotApp(settings)
    llm = app.llm_label()
    answerers = [("抽取式 Extractive (offline)", "extractive")] + ([(f"LLM: {llm}", "llm")] if llm else [])

    with gr.Blocks(title="notebot") as demo:
        gr.Markdown("## notebot — 向你的笔记提问 · Ask your notes")
        with gr.Row():
            with gr.Column(scale=3):
                chat = gr.Chatbot(label="对话 Chat", height=480, elem_id="nb-chat")
                question = gr.Textbox(label="提问 Ask", placeholder="用中文或英文提问 · Ask in Chinese or English", elem_id="nb-question")
                with gr.Row():
                    send = gr.Button("发送 Send", variant="primary", elem_id="nb-send")
                    retry = gr.Button("重试 Retry", elem_id="nb-retry")
                    clear = gr.Button("清空 Clear", elem_id="nb-clear")
                gr.Examples(EXAMPLES, inputs=question, label="示例 Examples")
                with gr.Accordion("设置 Settings", open=False):
                    k = gr.Slider(1, 10, value=settings.k, step=1, label="段落数 Passages (k)")
                    mode = gr.Radio(list(MODES), value=settings.mode, label="检索方式 Retrieval mode")
                    answerer = gr.Radio(answerers, value="llm" if llm and settings.answerer == "llm" else "extractive",
                                        label="回答方式 Answerer" + ("" if llm else " (set NOTEBOT_LLM_BASE_URL and NOTEBOT_LLM_MODEL for an LLM)"))
            with gr.Column(scale=2):
                sources = gr.HTML("<h3>来源 Sources</h3><p>提问后这里会显示引用的笔记段落。Passages appear here after you ask.</p>",
                                  elem_id="nb-sources")
        with gr.Accordion("索引 Index", open=False):
            index_info = gr.Markdown(app.describe_index(), elem_id="nb-index-info")
            with gr.Row():
                reindex = gr.Button("重新索引 Re-index", elem_id="nb-reindex")
                uploads = gr.File(label="添加笔记 Add notes (.md .markdown .txt)", file_count="multiple",
                                  file_types=[".md", ".markdown", ".txt"], elem_id="nb-upload")
            index_status = gr.Markdown("", elem_id="nb-index-status")

        handlers = Handlers(app)
        inputs = [question, chat, k, mode, answerer]
        send.click(handlers.respond, inputs, [chat, question, sources], api_visibility="private")
        question.submit(handlers.respond, inputs, [chat, question, sources], api_visibility="private")
        retry.click(handlers.retry, [chat, k, mode, answerer], [chat, question, sources], api_visibility="private")
        clear.click(lambda: ([], "", "<h3>来源 Sources</h3>"), None, [chat, question, sources], api_visibility="private")

        def reindex_with_progress(progress=gr.Progress()):  # gradio fills in progress through this default
            return handlers.reindex(progress)

        def add_notes_with_progress(files, progress=gr.Progress()):
            return handlers.add_notes(files, progress)

        reindex.click(reindex_with_progress, None, [index_status, index_info], api_visibility="private")
        uploads.upload(add_notes_with_progress, uploads, [index_status, index_info], api_visibility="private")
        gr.api(handlers.ask_api, api_name="ask")
    return demo


class Handlers:
    """What the UI's events do. Errors become a friendly bilingual message; details go to the log."""

    def __init__(self, app: NotebotApp):
        self.app = app

    def respond(self, message, history, k, mode, answerer):
        import gradio as gr

        history = history or []
        message = (message or "").strip()
        if not message:
            yield history + [{"role": "assistant", "content": EMPTY_QUESTION}], "", gr.update()
            return
        turns = _turns(history)
        history = history + [{"role": "user", "content": message}]
        try:
            for answer in self.app.ask(message, turns, k, mode, answerer):
                yield history + [{"role": "assistant", "content": render_answer(answer)}], "", gr.update()
            yield history + [{"role": "assistant", "content": render_answer(answer)}], "", render_sources(answer, answer.search_query)
        except NotebotError as problem:
            yield history + [{"role": "assistant", "content": f"⚠️ {problem}"}], "", gr.update()
        except Exception:
            log.exception("answering %r failed", message)
            yield history + [{"role": "assistant", "content": FAILURE}], "", gr.update()

    def retry(self, history, k, mode, answerer):
        import gradio as gr

        history = history or []
        last = next((i for i in range(len(history) - 1, -1, -1) if history[i]["role"] == "user"), None)
        if last is None:
            yield history, "", gr.update()
            return
        yield from self.respond(_text(history[last]["content"]), history[:last], k, mode, answerer)

    def reindex(self, progress):
        try:
            report = self.app.build(lambda stage, done, total: progress((done, total), desc=stage) if total else None)
        except NotebotError as problem:
            return f"⚠️ {problem}", self.app.describe_index()
        except Exception:
            log.exception("re-index failed")
            return FAILURE, self.app.describe_index()
        state = "已是最新 up to date" if report["up_to_date"] else f"embedded {report['embedded']}, reused {report['reused']}"
        return f"✅ 索引完成 Indexed {report['files']} files, {report['chunks']} chunks ({state})", self.app.describe_index()

    def add_notes(self, files, progress):
        from .upload import save_upload

        if not files:
            return "", self.app.describe_index()
        lines = [save_upload(Path(f), Path(f).name, self.app.settings.corpus_dir) for f in files]
        status, info = self.reindex(progress)
        return "\n".join(f"- {line}" for line in lines) + "\n\n" + status, info

    def ask_api(self, question: str, k: int = 5, mode: str = "hybrid") -> dict:
        """Answer a question from the notes: the answer text, whether it refused, and its citations."""
        answer = None
        for answer in self.app.ask(question, [], k, mode, "extractive"):
            pass
        return answer.to_json()



def _turns(messages: list[dict]) -> list[tuple[str, str]]:
    """Chat messages -> (question, answer) pairs for ask()."""
    turns, pending = [], None
    for message in messages:
        if message["role"] == "user":
            pending = _text(message["content"])
        elif pending is not None:
            turns.append((pending, _text(message["content"])))
            pending = None
    return turns


def _text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def serve(settings: Settings) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = NotebotApp(settings)
    app.ensure_index()
    demo = build_app(settings, app)
    # 10 people asking at once: answers take tens of milliseconds, so a few workers drain the queue.
    demo.queue(default_concurrency_limit=4, max_size=100)
    auth = tuple(settings.auth.split(":", 1)) if settings.auth else None
    demo.launch(server_name=settings.host, server_port=settings.port, auth=auth, show_error=False,
                footer_links=["api"], css=CSS, max_file_size="5mb")


def configure_parser(parser) -> None:
    parser.add_argument("--corpus-dir", type=Path, help="notes folder to index and add uploads to (default: corpus)")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1; NOTEBOT_HOST)")
    parser.add_argument("--port", type=int, help="port (default 7860; NOTEBOT_PORT)")


def run(args, settings: Settings) -> int:
    serve(settings)
    return 0
