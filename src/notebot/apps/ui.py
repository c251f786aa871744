"""The web UI (Gradio): chat with streamed, cited answers; the passages beside it; the index panel.

gradio is imported only here, inside functions, so the CLI's other commands never pay for it.
"""

from __future__ import annotations

import html
import importlib
import logging
import os
import re
import sys
import tempfile
import threading
import time
from collections.abc import Callable
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
MAX_API_K = 20
MODE_HELP = ("hybrid（推荐）：语义 + 关键词 · meaning and keywords together (recommended); vector：只看语义，能跨语言找同义表达 · "
             "meaning only, finds paraphrases across languages; lexical：只看关键词 (BM25) · exact words only")
RELEVANCE_HELP = ("相关度：与本次最相关段落相比 · relevance compared with the best passage for this question "
                  "(raw scores differ by retrieval mode, so only the comparison within one answer means something)")
# Gradio phones home unless told not to (analytics, a version check, HF telemetry); nothing leaves
# the machine unless an LLM endpoint is configured.
OFFLINE_ENV = {"GRADIO_ANALYTICS_ENABLED": "False", "HF_HUB_OFFLINE": "1", "HF_HUB_DISABLE_TELEMETRY": "1",
               "GRADIO_SSR_MODE": "False"}


SMALL_VAULT_CHUNKS = 64  # a first run embeds this many chunks at once: ~4 s of e5 on 2 cores, hidden by gradio's import


class NotebotApp:
    """The app's state: the loaded index (swapped atomically after a re-index) and its settings."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._index = None
        self._swap = threading.Lock()
        self._building = threading.Lock()  # one re-index at a time
        self._llm_slots = threading.BoundedSemaphore(LLM_SLOTS)
        self.keeper = None  # apps/watch.py's IndexKeeper when the index is kept fresh in the background

    @property
    def index(self):
        with self._swap:
            if self._index is None:
                from ..store import open_index

                self._index = open_index(self.settings)
            return self._index

    def build(self, progress=None, wait: bool = False, **options) -> dict:
        """Re-index incrementally, then swap the new index in; questions keep using the old one meanwhile."""
        from ..store import open_index
        from ..store.build import build_index

        # With a keeper re-indexing in the background, a click waits for its round (then finds little to do).
        if not self._building.acquire(blocking=wait or self.keeper is not None):
            raise NotebotError("a re-index is already running", "wait for it to finish")
        try:
            report = build_index(self.settings, progress=progress, warn=log.warning, **options)
            fresh = open_index(self.settings)
            with self._swap:
                self._index = fresh
            return report
        finally:
            self._building.release()

    def ensure_index(self, meanwhile: Callable[[], None] = lambda: None) -> None:
        """First run: a keyword index at once (seconds); vectors follow in the background (apps/watch.py).

        `meanwhile` runs while that index is built — in a forked child where the OS has fork, so two
        cores share the start (`serve` imports gradio meanwhile: each is about half of a first run's
        time to the first answer, benchmarks/README.md "First run")."""
        from ..store import index_exists, needs_build

        if not needs_build(self.settings):
            meanwhile()
            return
        print(f"the index in {self.settings.index_dir} was written by an older notebot: rewriting it from the embedding cache …"
              if index_exists(self.settings) else f"no index in {self.settings.index_dir}: building it from {self.settings.corpus_dir} …",
              file=sys.stderr)
        report = self._keyword_index_beside(meanwhile)
        print(f"indexed {report['files']} files, {report['chunks']} chunks" + (
              " for keyword search; embedding them in the background" if report["missing_vectors"] else ""), file=sys.stderr)

    def _keyword_index_beside(self, meanwhile: Callable[[], None]) -> dict:
        import multiprocessing

        from ..progress import ProgressBar

        def build() -> dict:
            with ProgressBar() as progress:  # a small vault is embedded at once (a few seconds, beside gradio's import)
                return self.build(progress, max_new_embeddings=0, embed_all_up_to=SMALL_VAULT_CHUNKS)

        if "fork" not in multiprocessing.get_all_start_methods():
            report = build()
            meanwhile()
            return report
        receive, send = multiprocessing.Pipe(duplex=False)
        child = multiprocessing.get_context("fork").Process(target=_send_result, args=(build, send), daemon=True)
        child.start()
        send.close()
        try:
            meanwhile()
            outcome = receive.recv()
        except EOFError:
            outcome = ("error", f"the keyword index build stopped (exit code {child.exitcode})", "run: notebot index")
        finally:
            child.join()
        if outcome[0] == "error":
            raise NotebotError(outcome[1], outcome[2])
        self._index = None  # built by the child: opened on first use
        return outcome[1]

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
                f"`{manifest['embedder']['name']}` · built {manifest['built_at']}\n\n{self.live_status()}\n\n{files}")

    def live_status(self) -> str:
        """Embedding progress and the last change, while the index is kept fresh in the background."""
        return self.keeper.status() if self.keeper else ""

    def llm_label(self) -> str | None:
        if not (self.settings.llm_base_url and self.settings.llm_model):
            return None
        from ..answer.llm import LLMAnswerer

        return LLMAnswerer.from_settings(self.settings).describe()


def _send_result(build: Callable[[], dict], send) -> None:
    """In the forked child: build, and send back the report or the error (one line for the user)."""
    try:
        send.send(("ok", build()))
    except NotebotError as problem:
        send.send(("error", problem.message, problem.hint))
    except BaseException as problem:  # noqa: BLE001 - the parent reports it
        send.send(("error", f"the keyword index build failed: {type(problem).__name__}: {problem}", "run: notebot index"))
    finally:
        send.close()


# ---- rendering -----------------------------------------------------------------------------

def render_answer(answer) -> str:
    """The answer as safe HTML: the quoted note text is markdown rendered with raw HTML escaped and no
    images (a note can hold a login form or remote media; the chat must never show them), and each
    [n] a link to its passage in the sources panel."""
    body = note_markdown().render(answer.text)
    body = CITATION.sub(lambda m: f'<a class="nb-cite" href="#src-{m.group(1)}">[{m.group(1)}]</a>'
                        if 1 <= int(m.group(1)) <= len(answer.hits) else m.group(0), body)
    if answer.notice:
        body += f'<blockquote><p>ℹ️ {html.escape(answer.notice)}</p></blockquote>'
    # One line, so the chat's markdown renderer takes it as a single HTML block (newlines inside <pre> kept).
    return '<div class="nb-answer">' + body.replace("\n", "&#10;") + "</div>"


def note_markdown():
    """CommonMark for note text: raw HTML shown as text, an image as its description (no remote media)."""
    from markdown_it import MarkdownIt

    markdown = MarkdownIt("commonmark", {"html": False}).enable("table")
    markdown.add_render_rule("image", lambda self, tokens, i, options, env: html.escape(f"[图片 image: {tokens[i].content}]"))
    return markdown


def render_sources(answer, query: str) -> str:
    markdown = note_markdown()
    title = "相关段落 Related passages" if answer.refused else "来源 Sources"
    parts = [f'<h3 data-answer="{time.monotonic_ns()}">{title}</h3>']  # a new value per answer: the page scrolls the panel to the top
    terms = highlight_terms(query)
    best = max((hit.score for hit in answer.hits), default=0.0)
    for number, hit in enumerate(answer.hits, start=1):
        c = hit.chunk
        where = html.escape(f"{c.file} › {c.heading_path or '(top)'} › lines {c.line_start}-{c.line_end}")
        quoted = answer.quoted.get(number, []) if not answer.refused else []
        body = highlight(mark_quoted(markdown.render(c.text), c, quoted, markdown), terms)
        if quoted:
            where += f' <span class="nb-quoted-lines">· quoted: line{"s" if len(quoted) > 1 else ""} {", ".join(map(str, quoted))}</span>'
        parts.append(f'<div class="nb-source" id="src-{number}"><div class="nb-where"><b>[{number}]</b> {where}</div>'
                     f'{relevance(hit.score, best)}{body}</div>')
    return "\n".join(parts)


def mark_quoted(rendered: str, chunk, line_numbers: list[int], markdown) -> str:
    """Mark the lines the answer quoted inside their rendered source card."""
    lines = chunk.text.splitlines()
    for number in line_numbers:
        offset = number - chunk.line_start
        if not 0 <= offset < len(lines):
            continue
        inline = markdown.renderInline(re.sub(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+", "", lines[offset]).strip())
        if inline and inline in rendered:
            rendered = rendered.replace(inline, f'<mark class="nb-quoted">{inline}</mark>', 1)
    return rendered


def relevance(score: float, best: float) -> str:
    """A bar a learner can read: this passage's score as a share of the best one's."""
    share = max(0.0, min(1.0, score / best)) if best > 0 else 0.0
    label = "最相关 best match" if share >= 0.999 else "很相关 close" if share >= 0.8 else "相关 related" if share >= 0.5 else "较弱 weak"
    return (f'<div class="nb-relevance" title="{html.escape(RELEVANCE_HELP)}"><span class="nb-bar"><span style="width:{share * 100:.0f}%">'
            f'</span></span> {label}</div>')


def highlight_terms(query: str) -> list[str]:
    """Query words to mark: its content terms (question_words.py) of two characters or more — English
    and AWS words, Chinese words and bigrams, never 怎么 or 的数 (adjacent marks read as one)."""
    from ..question_words import content_text, is_content_term
    from ..search.dictionary import load_dictionary
    from ..tokenize import tokenize

    terms = {t for t in tokenize(content_text(query)) if len(t) >= 2 and is_content_term(t, load_dictionary().is_word)}
    return sorted(terms, key=len, reverse=True)


def highlight(rendered: str, terms: list[str]) -> str:
    if not terms:
        return rendered
    pattern = re.compile("|".join(re.escape(html.escape(t)) for t in terms), re.IGNORECASE)
    # Mark only text between tags, never inside a tag, an attribute or an entity (&amp; …).
    pieces = re.split(r"(<[^>]+>|&#?\w+;)", rendered)
    return "".join(p if p.startswith(("<", "&")) else pattern.sub(lambda m: f"<mark>{m.group(0)}</mark>", p) for p in pieces)


CSS = """
#nb-sources { max-height: 640px !important; overflow-y: auto !important; overflow-anchor: none; padding-right: 4px; }
.nb-source { border: 1px solid #ddd; border-radius: 8px; padding: 8px 12px; margin: 8px 0; }
.nb-source.nb-active { border-color: #f59e0b; box-shadow: 0 0 0 2px #fde68a; }
.nb-source :is(h1, h2, h3, h4, h5, h6) { font-size: 1em; margin: 4px 0; }
.nb-where { font-size: 0.9em; color: #555; margin-bottom: 2px; }
.nb-relevance { font-size: 0.8em; color: #777; margin-bottom: 4px; }
.nb-bar { display: inline-block; width: 64px; height: 6px; background: #eee; border-radius: 3px; vertical-align: middle; }
.nb-bar > span { display: block; height: 100%; background: #22c55e; border-radius: 3px; }
mark { background: #fde68a; padding: 0 1px; }
mark.nb-quoted { background: #dbeafe; border-left: 3px solid #3b82f6; padding-left: 4px; }
.nb-quoted-lines { color: #3b82f6; }
"""

# Clicking [n] scrolls only the sources panel to that passage and marks it; the chat stays put.
# A new answer's passages start at the top of the panel.
HEAD = """<script>
new MutationObserver((changes) => {
  const panel = document.getElementById("nb-sources");
  const fresh = (node) => node.nodeType === 1 && (node.matches("[data-answer]") || node.querySelector("[data-answer]"));
  if (panel && changes.some((change) => change.type === "attributes" || [...change.addedNodes].some(fresh))) panel.scrollTop = 0;
}).observe(document.documentElement, {childList: true, subtree: true, attributes: true, attributeFilter: ["data-answer"]});
document.addEventListener("click", (event) => {
  const link = event.target.closest && event.target.closest("a[href^='#src-']");
  if (!link) return;
  const target = document.getElementById(link.getAttribute("href").slice(1));
  if (!target) return;
  event.preventDefault();
  event.stopPropagation();
  const panel = document.getElementById("nb-sources");
  panel.scrollTop += target.getBoundingClientRect().top - panel.getBoundingClientRect().top - 8;
  panel.querySelectorAll(".nb-active").forEach((old) => old.classList.remove("nb-active"));
  target.classList.add("nb-active");
}, true);
</script>"""


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
                    mode = gr.Radio(list(MODES), value=settings.mode, label="检索方式 Retrieval mode", info=MODE_HELP)
                    answerer = gr.Radio(answerers, value="llm" if llm and settings.answerer == "llm" else "extractive",
                                        label="回答方式 Answerer" + ("" if llm else " (set NOTEBOT_LLM_BASE_URL and NOTEBOT_LLM_MODEL for an LLM)"))
            with gr.Column(scale=2):
                sources = gr.HTML("<h3>来源 Sources</h3><p>提问后这里会显示引用的笔记段落。Passages appear here after you ask.</p>",
                                  elem_id="nb-sources")
        live = gr.Markdown(app.live_status(), elem_id="nb-index-live")
        gr.Timer(2.0).tick(app.live_status, None, live, api_visibility="private", show_progress="hidden")
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
        # preprocess=False: the raw upload records (path + the user's file name); Gradio's own preprocessing
        # would leave an empty temp file behind for every upload.
        uploads.upload(add_notes_with_progress, uploads, [index_status, index_info, uploads], preprocess=False,
                       api_visibility="private")
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
            gr.Warning(EMPTY_QUESTION)
            yield history, "", gr.update()
            return
        turns = _turns(history)
        history = history + [{"role": "user", "content": message}]
        started = time.perf_counter()
        try:
            for answer in self.app.ask(message, turns, k, mode, answerer):
                yield history + [{"role": "assistant", "content": render_answer(answer)}], "", gr.update()
            log.info("question (%s, k=%s, %s): %s — %s in %.0f ms", mode, k, answer.answerer, _loggable(message),
                     "refused" if answer.refused else f"{len(answer.hits)} passages", (time.perf_counter() - started) * 1000)
            yield history + [{"role": "assistant", "content": render_answer(answer)}], "", render_sources(answer, answer.search_query)
        except NotebotError as problem:
            log.info("question %s — %s", _loggable(message), problem)
            yield history + [{"role": "assistant", "content": f"⚠️ {html.escape(str(problem))}"}], "", gr.update()
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
            log.info("re-index refused: %s", problem)
            return f"⚠️ {problem}", self.app.describe_index()
        except Exception:
            log.exception("re-index failed")
            return FAILURE, self.app.describe_index()
        state = "已是最新 up to date" if report["up_to_date"] else f"embedded {report['embedded']}, reused {report['reused']}"
        log.info("re-indexed %d files, %d chunks (%s) in %.1f s", report["files"], report["chunks"],
                 "up to date" if report["up_to_date"] else state, report["seconds"])
        return f"✅ 索引完成 Indexed {report['files']} files, {report['chunks']} chunks ({state})", self.app.describe_index()

    def add_notes(self, files, progress):
        """files: Gradio's upload records ({"path": temp file, "orig_name": the user's name}); the temp
        files are removed once copied. Returns the status, the index description, and None to clear the box."""
        from .upload import save_uploads

        files = [(Path(f["path"]), f.get("orig_name") or Path(f["path"]).name) for f in files or []]
        if not files:
            return "", self.app.describe_index(), None
        settings = self.app.settings
        try:
            lines = save_uploads(files, settings.corpus_dir, settings.upload_max_mb, settings.corpus_max_mb)
        finally:
            for path, _ in files:
                _discard_upload(path)
        for line in lines:
            log.info("upload: %s", _loggable(line))
        report = "\n".join(f"- {html.escape(line)}" for line in lines)
        if not any(line.startswith("added") for line in lines):
            return report, self.app.describe_index(), None
        status, info = self.reindex(progress)
        return report + "\n\n" + status, info, None

    def ask_api(self, question: str, k: int = 5, mode: str = "hybrid") -> dict:
        """Answer a question from the notes: the answer text, whether it refused, and its citations
        (each with the passage text and the lines the answer quotes)."""
        import gradio as gr

        from ..answer.quoted import citations_with_passages

        problem = _api_input_problem(question, k, mode)
        if problem:
            raise gr.Error(problem, print_exception=False)
        started = time.perf_counter()
        try:
            answer = None
            for answer in self.app.ask(question, [], k, mode, "extractive"):
                pass
        except NotebotError as problem:
            raise gr.Error(str(problem), print_exception=False) from None
        except Exception:
            log.exception("answering %r through the API failed", question)
            raise gr.Error(FAILURE) from None
        log.info("api question (%s, k=%s): %s — %s in %.0f ms", mode, k, _loggable(question),
                 "refused" if answer.refused else f"{len(answer.hits)} passages", (time.perf_counter() - started) * 1000)
        return answer.to_json() | {"citations": citations_with_passages(answer)}


def _api_input_problem(question, k, mode) -> str:
    """What is wrong with an /ask call's inputs, as a message for the caller ("" when they are fine)."""
    if not isinstance(question, str) or not question.strip():
        return "question must be a non-empty string, e.g. \"DynamoDB 的 item 最大多大？\""
    if isinstance(k, bool) or not isinstance(k, (int, float)) or k != int(k) or not 1 <= k <= MAX_API_K:
        return f"k must be a whole number from 1 to {MAX_API_K} (passages to draw on), not {str(k)[:40]!r}"
    if mode not in MODES:
        return f"mode must be one of {', '.join(MODES)}, not {str(mode)[:40]!r}"
    return ""


def _discard_upload(path: Path) -> None:
    """Remove an uploaded file from Gradio's temp folder once it has been copied into the corpus."""
    temp_root = Path(os.environ.get("GRADIO_TEMP_DIR") or Path(tempfile.gettempdir()) / "gradio").resolve()
    path = path.resolve()
    if temp_root not in path.parents:
        return
    path.unlink(missing_ok=True)
    try:
        path.parent.rmdir()  # Gradio keeps each upload in a folder of its own
    except OSError:
        pass


def _loggable(text: str) -> str:
    from .terminal import printable

    return " ".join(printable(text).split())[:120]


def _turns(messages: list[dict]) -> list[tuple[str, str]]:
    """Chat messages -> (question, answer) pairs for ask()."""
    turns, pending = [], None
    for message in messages:
        if message["role"] == "user":
            pending = _text(message["content"])
        elif pending is not None:
            turns.append((pending, _plain(_text(message["content"]))))
            pending = None
    return turns


def _plain(rendered: str) -> str:
    """A rendered answer (render_answer's HTML) back as text."""
    return html.unescape(re.sub(r"<[^>]+>", "", rendered.replace("&#10;", "\n")))


def _text(content) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(part.get("text", "") for part in content if isinstance(part, dict))
    return str(content)


def serve(settings: Settings, watch: bool = False, poll: bool = False) -> None:
    from .login import LoginThrottle, login_notice

    for name, value in OFFLINE_ENV.items():
        os.environ.setdefault(name, value)
    configure_logging()
    app = NotebotApp(settings)
    app.ensure_index(meanwhile=lambda: importlib.import_module("gradio"))  # the slowest import, beside a first build
    from .watch import keep_app_index

    # Finishes a first run's vectors (at a lower CPU priority: gradio's start and every question come
    # first); with --watch, follows edits.
    app.keeper = keep_app_index(app, watch, poll)
    demo = build_app(settings, app)
    # 10 people asking at once: answers take tens of milliseconds, so a few workers drain the queue.
    demo.queue(default_concurrency_limit=4, max_size=100)
    auth = tuple(settings.auth.split(":", 1)) if settings.auth else None
    middleware = []
    if auth:
        from starlette.middleware import Middleware

        middleware = [Middleware(LoginThrottle, max_failures=settings.login_max_failures,
                                 lockout_seconds=settings.login_lockout_seconds)]
    demo.launch(server_name=settings.host, server_port=settings.port, auth=auth, show_error=False,
                auth_message=login_notice(settings.login_max_failures, settings.login_lockout_seconds) if auth else None,
                footer_links=["api"], css=CSS, head=HEAD, max_file_size="5mb", quiet=True, share=False,
                app_kwargs={"middleware": middleware}, prevent_thread_lock=True)
    print(f"notebot ready at http://{settings.host}:{demo.server_port}/" + (" (login required)" if auth else ""),
          file=sys.stderr, flush=True)
    try:
        demo.block_thread()
    except KeyboardInterrupt:
        pass


def configure_logging() -> None:
    """notebot's own events (questions, uploads, re-indexes) one line each on stderr; other libraries'
    chatter (faiss's loader, HTTP request logs) only when it is a warning."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("%(asctime)s %(message)s", datefmt="%H:%M:%S"))
    logging.basicConfig(level=logging.WARNING, handlers=[handler])
    logging.getLogger("notebot").setLevel(logging.INFO)


def configure_parser(parser) -> None:
    parser.add_argument("--corpus-dir", type=Path, help="notes folder to index and add uploads to (default: corpus)")
    parser.add_argument("--host", help="address to listen on (default 127.0.0.1; NOTEBOT_HOST)")
    parser.add_argument("--port", type=int, help="port (default 7860; NOTEBOT_PORT)")
    parser.add_argument("--watch", action="store_true", help="re-index whenever notes in the corpus folder change")
    parser.add_argument("--poll", action="store_true", help="with --watch: poll instead of OS file events (network drives)")


def run(args, settings: Settings) -> int:
    serve(settings, watch=args.watch, poll=args.poll)
    return 0
