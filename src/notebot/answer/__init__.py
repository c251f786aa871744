"""Answers with citations: resolve a follow-up, retrieve, refuse what the notes don't hold, answer.

`ask()`/`ask_stream()` (answer/ask.py) serve the CLI, the web UI and the evaluation alike.
"""

from .ask import Answerer, ask, ask_stream, detect_lang, format_sources, resolve_follow_up

__all__ = ["Answerer", "ask", "ask_stream", "detect_lang", "format_sources", "resolve_follow_up"]
