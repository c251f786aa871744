"""`notebot chat`: a conversation with your notes in the terminal.

Each question is read in the conversation so far (a follow-up like "那它的保留期呢？" is resolved
against the previous turns, answer/ask.py); the sources follow each answer. Line editing and the
up-arrow history come from the standard library's readline where the platform has it; the
question history is kept in ~/.notebot_history. Ctrl-D (or an empty line after "exit") leaves.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ..errors import NotebotError
from ..settings import ANSWERERS, MODES, Settings

HISTORY_FILE = Path.home() / ".notebot_history"
PROMPT = "? "
LEAVE = {"exit", "quit", ":q", "退出"}


def configure_parser(parser) -> None:
    parser.add_argument("-k", type=int, help="passages to draw on (default 5)")
    parser.add_argument("--mode", choices=MODES, help="retrieval mode (default hybrid)")
    parser.add_argument("--answerer", choices=ANSWERERS, help="extractive (default, offline) or llm")
    parser.add_argument("--llm-base-url", help="OpenAI-compatible endpoint, e.g. http://127.0.0.1:11434/v1")
    parser.add_argument("--llm-model", help="model name at that endpoint")


def run(args, settings: Settings, lines=None, out=None) -> int:
    """Read questions until end of input; `lines`/`out` replace stdin/stdout (tests)."""
    from ..answer import ask_stream, format_sources
    from ..answer.ask import check_question
    from ..store import open_index

    out = out or sys.stdout
    index = open_index(settings)
    interactive = lines is None and sys.stdin.isatty()
    if interactive:
        _enable_line_editing()
        print(f"notebot chat over {index.location} — ask in Chinese or English; Ctrl-D leaves.", file=out)
    turns: list[tuple[str, str]] = []
    for question in lines if lines is not None else _read(interactive):
        question = question.strip()
        if not question:
            continue
        if question.lower() in LEAVE:
            break
        try:
            check_question(question)
            answer = None
            for answer in ask_stream(index, question, settings, turns):
                pass
        except NotebotError as problem:
            print(f"error: {problem}", file=sys.stderr)
            continue
        print(answer.text, file=out)
        if answer.notice:
            print(f"note: {answer.notice}", file=out)
        print(format_sources(answer) + "\n", file=out)
        turns.append((question, answer.text))
    if interactive:
        _save_history()
    return 0


def _read(interactive: bool):
    while True:
        try:
            yield input(PROMPT) if interactive else next(sys.stdin)
        except (EOFError, StopIteration):
            if interactive:
                print()
            return


def _enable_line_editing() -> None:
    try:
        import readline
    except ImportError:  # Windows without pyreadline: plain input() still works
        return
    try:
        readline.read_history_file(HISTORY_FILE)
    except OSError:
        pass
    readline.set_history_length(1000)


def _save_history() -> None:
    try:
        import readline

        readline.write_history_file(HISTORY_FILE)
    except (ImportError, OSError):
        pass
