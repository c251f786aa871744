"""The `notebot` command: index, search, info, ask, eval, serve, mcp, watch.

stdout carries data, stderr progress and warnings. Errors are one line; exit codes: 0 ok,
1 error, 2 bad usage. Note text shown to a person goes through printable() (no terminal escapes);
--json output is exact JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from .. import __version__
from ..errors import NotebotError
from ..progress import ProgressBar
from ..settings import ANSWERERS, MODES, Settings
from ..tokenize import TOKENIZERS
from .terminal import printable

EPILOG = """settings also come from environment variables: NOTEBOT_CORPUS_DIR, NOTEBOT_INDEX_DIR,
NOTEBOT_EMBEDDER, NOTEBOT_TOKENIZER, NOTEBOT_MODE, NOTEBOT_K, NOTEBOT_ANSWERER, NOTEBOT_LLM_BASE_URL, NOTEBOT_LLM_MODEL,
NOTEBOT_LLM_API_KEY, NOTEBOT_LLM_TIMEOUT (s per read, 60), NOTEBOT_LLM_DEADLINE (s per answer, 120),
NOTEBOT_LLM_MAX_TOKENS (1024), NOTEBOT_LLM_MAX_CHARS (8000), NOTEBOT_LLM_RETRIES (1), NOTEBOT_HOST, NOTEBOT_PORT,
NOTEBOT_AUTH, NOTEBOT_LOCK_TIMEOUT (s a second `index` waits for the one writing the index, 60),
NOTEBOT_UPLOAD_MAX_MB (10), NOTEBOT_CORPUS_MAX_MB (100), NOTEBOT_LOGIN_MAX_FAILURES (5),
NOTEBOT_LOGIN_LOCKOUT_SECONDS (300),
NOTEBOT_STORE, NOTEBOT_MILVUS_URI, NOTEBOT_MILVUS_TOKEN (flags win). Proxies: HTTPS_PROXY, HTTP_PROXY, NO_PROXY apply to the LLM endpoint."""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="notebot", description="Ask your markdown notes questions, in Chinese or English.", epilog=EPILOG)
    parser.add_argument("--version", action="version", version=f"notebot {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--index-dir", type=Path, help="index folder (default: index)")
    common.add_argument("--embedder", help="e5-small-q4 (default), st:<model name or path>, or hash")
    common.add_argument("--store", choices=("local", "milvus"),
                        help="where the index lives: local (default, files in --index-dir) or milvus; an index remembers its store")
    common.add_argument("--milvus-uri", metavar="URI",
                        help="a file path runs Milvus Lite, http(s)://host:19530 a Milvus server (default: INDEX_DIR/milvus.db)")

    index = commands.add_parser("index", parents=[common], help="index a folder of notes (incremental)",
                                description="Index .md/.markdown/.txt notes; unchanged text is never re-embedded. "
                                "One index run at a time per index folder: a second one waits NOTEBOT_LOCK_TIMEOUT seconds.")
    index.add_argument("corpus", nargs="?", type=Path, help="notes folder (default: corpus)")
    index.add_argument("--rebuild", action="store_true", help="re-embed everything, ignoring the cache")
    index.add_argument("--tokenizer", choices=TOKENIZERS, help="lexical tokenizer for Chinese (default cjk-bigram-v1)")
    index.add_argument("--lines", action="store_true",
                       help="then embed every note line (~40 ms each; serve/watch/mcp do it when idle): answers quote "
                       "at once and search also ranks passages by their best line; Ctrl-C stops it, the index stays usable")

    search = commands.add_parser("search", parents=[common], help="show the passages that best match a query")
    search.add_argument("query", help="the question or keywords, Chinese or English")
    search.add_argument("-k", type=int, help="number of passages (default 5)")
    search.add_argument("--mode", choices=MODES, help="retrieval mode (default hybrid)")
    search.add_argument("--json", action="store_true", help="one JSON object per passage, per line")

    info = commands.add_parser("info", parents=[common], help="what the index holds")
    info.add_argument("--json", action="store_true", help="print the manifest as JSON")

    ask = commands.add_parser("ask", parents=[common], help="answer a question with citations")
    ask.add_argument("question")
    ask.add_argument("-k", type=int, help="passages to draw on (default 5)")
    ask.add_argument("--mode", choices=MODES, help="retrieval mode (default hybrid)")
    ask.add_argument("--answerer", choices=ANSWERERS, help="extractive (default, offline) or llm")
    ask.add_argument("--llm-base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1")
    ask.add_argument("--llm-model", help="model name at that endpoint")
    ask.add_argument("--history", action="append", default=None, metavar="QUESTION",
                     help="a previous question of the conversation, oldest first (repeatable)")
    ask.add_argument("--json", action="store_true", help="print one JSON object (citations carry the passage text and quoted lines)")

    from ..evaluation import evaluate
    from . import chat, mcp, ui, watch

    chat.configure_parser(commands.add_parser("chat", parents=[common], help="a conversation in the terminal (Ctrl-D leaves)"))
    evaluate.configure_parser(commands.add_parser("eval", parents=[common], help="evaluate on a Q&A set (JSON lines)"))
    ui.configure_parser(commands.add_parser("serve", parents=[common], help="start the web UI"))
    mcp.configure_parser(commands.add_parser("mcp", parents=[common], help="serve the notes to AI assistants (MCP over stdio)",
                                             description="A Model Context Protocol server on stdin/stdout: tools search_notes, "
                                                         "ask_notes, read_note. Logs go to stderr."))
    watch.configure_parser(commands.add_parser("watch", parents=[common], help="re-index whenever notes change (Ctrl-C stops)",
                                               description="Index the notes, then re-index incrementally (debounced) whenever a "
                                                           "note is added, changed, renamed or deleted; hidden folders are ignored."))
    return parser


def settings_from(args: argparse.Namespace) -> Settings:
    flags = {
        "index_dir": args.index_dir, "embedder": args.embedder,
        "store": getattr(args, "store", None), "milvus_uri": getattr(args, "milvus_uri", None),
        "corpus_dir": getattr(args, "corpus", None) or getattr(args, "corpus_dir", None),
        "tokenizer": getattr(args, "tokenizer", None),
        "k": getattr(args, "k", None), "mode": None if getattr(args, "mode", None) == "all" else getattr(args, "mode", None),
        "answerer": getattr(args, "answerer", None),
        "llm_base_url": getattr(args, "llm_base_url", None), "llm_model": getattr(args, "llm_model", None),
        "host": getattr(args, "host", None), "port": getattr(args, "port", None),
    }
    return Settings.load(**flags)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        settings = settings_from(args)
        handler = {"index": cmd_index, "search": cmd_search, "info": cmd_info, "ask": cmd_ask}.get(args.command)
        if handler is None:
            from ..evaluation import evaluate
            from . import chat, mcp, ui, watch

            commands = {"eval": evaluate.run, "serve": ui.run, "chat": chat.run, "mcp": mcp.run, "watch": watch.run}
            return commands[args.command](args, settings)
        return handler(args, settings)
    except NotebotError as problem:
        print(f"error: {printable(str(problem))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("error: interrupted — the previous index (if any) is intact", file=sys.stderr)
        return 1
    except BrokenPipeError:
        return 0


def warn(message: str) -> None:
    print(f"warning: {printable(message)}", file=sys.stderr)


def cmd_index(args, settings: Settings) -> int:
    from ..store.build import build_index

    with ProgressBar() as progress:
        report = build_index(settings, progress=progress, rebuild=args.rebuild, warn=warn)
    state = "up to date" if report["up_to_date"] else f"embedded {report['embedded']}, reused {report['reused']}"
    if report.get("repaired"):
        state += f"; repaired {', '.join(report['repaired'])} from the embedding cache"
    print(f"indexed {report['files']} files, {report['chunks']} chunks ({state}) in {report['seconds']:.1f} s -> {settings.index_dir}",
          file=sys.stderr)
    return embed_every_line(settings) if args.lines else 0


def embed_every_line(settings: Settings) -> int:
    from ..search.line_ranking import line_matrix, warm_lines
    from ..store import open_index

    index = open_index(settings)
    if getattr(index, "index_dir", None) is None:
        warn("--lines: line vectors are kept only in a local index; skipped for the milvus store")
        return 0
    started = time.monotonic()
    try:
        with ProgressBar() as progress:
            embedded = warm_lines(index, should_stop=lambda: False, pause=0, progress=progress)
    except KeyboardInterrupt:
        print("stopped embedding lines: the index is ready, and the lines embedded so far are kept "
              "(notebot index --lines goes on from there)", file=sys.stderr)
        return 1
    matrix = line_matrix(index)
    if matrix is None:
        raise NotebotError(f"could not write the line vectors into {settings.index_dir}",
                           "make it writable; until then search does not rank passages by their best line")
    print(f"embedded {embedded} note lines in {time.monotonic() - started:.1f} s; {len(matrix.owners)} lines ready for search and quoting",
          file=sys.stderr)
    return 0


def cmd_search(args, settings: Settings) -> int:
    from ..search import search
    from ..store import open_index

    index = open_index(settings)
    hits = search(index, args.query, settings.k, settings.mode)
    if not hits:
        print("no passage matches", file=sys.stderr)
    for hit in hits:
        if args.json:
            print(json.dumps({"rank": hit.rank, **hit.citation(), "text": hit.chunk.text}, ensure_ascii=False))
        else:
            c = hit.chunk
            say(f"{hit.rank}. {c.file} › {c.heading_path or '(top)'} › lines {c.line_start}-{c.line_end}  (score {hit.score:.3f})")
            say(f"   {snippet(c.text, args.query)}\n")
    return 0


def cmd_info(args, settings: Settings) -> int:
    from ..store import get_store

    store = get_store(settings)
    manifest = store.read_manifest()
    if args.json:
        print(json.dumps(manifest, ensure_ascii=False, indent=2))
        return 0
    say(f"index      {settings.index_dir}")
    say(f"store      {store.describe()}")
    say(f"corpus     {manifest['corpus']['dir']}  ({manifest['counts']['files']} files, {manifest['counts']['chunks']} chunks)")
    say(f"embedder   {manifest['embedder']['name']} ({manifest['embedder']['dim']} dims)")
    vectors = manifest.get("vectors", {})
    if not vectors.get("complete", True):
        say(f"vectors    embedded {vectors['embedded']:,} of {vectors['total']:,} chunks "
            "(still embedding: keyword search is complete; `notebot index` or a running watch/serve finishes it)")
    if manifest.get("build"):  # a local index: its build folder holds the gathered line vectors, if any
        from ..search.line_ranking import lines_gathered

        say("lines      " + ("every line embedded: search also ranks passages by their best line"
                             if lines_gathered(settings.index_dir, manifest) else
                             "not all embedded yet (`notebot index --lines`, or serve/watch/mcp when idle)"))
    say(f"chunker    {manifest['chunker']}")
    say(f"tokenizer  {manifest['tokenizer']}")
    say(f"built      {manifest['built_at']} by notebot {manifest['notebot_version']} (format {manifest['format_version']})")
    for entry in manifest["corpus"]["files"]:
        say(f"  {entry['chunks']:5d} chunks  {entry['path']}" + ("" if entry["encoding"] == "utf-8" else f"  [{entry['encoding']}]"))
    return 0


def cmd_ask(args, settings: Settings) -> int:
    from ..answer import ask_stream, format_sources
    from ..answer.quoted import citations_with_passages
    from ..store import open_index

    from ..answer.ask import check_history, check_question

    if not args.question.strip():
        raise NotebotError("the question is empty", 'type a question, e.g. notebot ask "S3 对象最大多大？"')
    check_question(args.question)  # before loading anything: a bad question costs nothing
    history = check_history(args.history)
    index = open_index(settings)
    answer = None
    shown = 0
    for answer in ask_stream(index, args.question, settings, history):
        if not args.json and sys.stdout.isatty():
            text = printable(answer.text)
            sys.stdout.write(text[shown:])
            sys.stdout.flush()
            shown = len(text)
    if args.json:
        print(json.dumps(answer.to_json() | {"citations": citations_with_passages(answer)}, ensure_ascii=False))
        return 0
    say(printable(answer.text)[shown:])
    if answer.notice:
        print(f"note: {printable(answer.notice)}", file=sys.stderr)
    say(format_sources(answer))
    return 0


def say(text: str) -> None:
    """Print text meant for a person: whatever a note holds, no control characters reach the terminal."""
    print(printable(text))


def snippet(text: str, query: str, width: int = 160) -> str:
    """The window of the chunk with most query tokens, on one line."""
    from ..tokenize import normalize, tokenize

    flat = " ".join(text.split())
    if len(flat) <= width:
        return flat
    terms = set(tokenize(query))
    lowered = normalize(flat)
    best, best_count = 0, -1
    for start in range(0, len(flat) - width + 1, max(width // 4, 1)):
        count = sum(term in lowered[start : start + width] for term in terms)
        if count > best_count:
            best, best_count = start, count
    return ("…" if best else "") + flat[best : best + width] + ("…" if best + width < len(flat) else "")


if __name__ == "__main__":
    sys.exit(main())
