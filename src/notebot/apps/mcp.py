"""`notebot mcp`: the notes as a Model Context Protocol server over stdio (the official `mcp` SDK, 2.x).

Three tools: search_notes, ask_notes, read_note. On stdio, stdout carries only protocol: the SDK
points fd 1 at stderr while it serves, and anything printed before that (the first index build)
is sent to stderr too. Logs go to stderr. The index is reloaded when its manifest changes, so a
`notebot watch` or `notebot index` beside the server is picked up by the next call.
"""

# No `from __future__ import annotations`: the SDK reads the tools' annotations, and Turn is local.

import contextlib
import logging
import sys
import threading
from pathlib import Path
from typing import Literal

from .. import __version__
from ..errors import NotebotError
from ..settings import Settings

log = logging.getLogger("notebot.mcp")

MAX_READ_LINES = 500  # one read_note answer; an agent pages through longer notes
INSTRUCTIONS = """notebot answers from the user's own markdown notes (Chinese and English).
search_notes finds passages (file, heading path, line range, text); ask_notes answers a question
with [n] citations, or says the notes don't cover it; read_note reads exact lines of a note.
Quote the file and line range when you use a passage."""


class NotesService:
    """What the tools do, without the protocol: the loaded index (reloaded when it changes) and the corpus."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self._index = None
        self._stamp = None
        self._lock = threading.Lock()

    @property
    def index(self):
        from ..store import open_index
        from ..store.local import MANIFEST

        manifest = Path(self.settings.index_dir) / MANIFEST
        try:
            stat = manifest.stat()
            stamp = (stat.st_mtime_ns, stat.st_size)
        except OSError:
            stamp = None
        with self._lock:
            if self._index is None or stamp != self._stamp:
                self._index, self._stamp = open_index(self.settings), stamp
            return self._index

    def search_notes(self, query: str, k: int, mode: str) -> dict:
        from ..search import search

        settings = Settings.load(environ={}, **{**_fields(self.settings), "k": k, "mode": mode})
        hits = search(self.index, query, settings.k, settings.mode)
        coverage = self._coverage() if mode != "lexical" else {}
        return {"query": query, "mode": mode, "passages": [_passage(hit) for hit in hits], **coverage}

    def ask_notes(self, question: str, history: list[tuple[str, str]]) -> dict:
        from ..answer import ask

        answer = ask(self.index, question, self.settings, history)
        result = answer.to_json()
        result.pop("timings", None)
        for citation, hit in zip(result["citations"], answer.hits):
            citation["text"] = hit.chunk.text
        return result

    def read_note(self, path: str, start_line: int, end_line: int | None) -> dict:
        from ..ingest.load import NOTE_SUFFIXES, decode_note

        file = self.resolve_note(path, NOTE_SUFFIXES)
        try:
            text, _ = decode_note(file.read_bytes())
        except (OSError, UnicodeDecodeError) as problem:
            raise NotebotError(f"cannot read {path}: {problem}", "check the file, or search_notes for another passage") from None
        lines = text.splitlines()
        if start_line < 1:
            raise NotebotError(f"start_line {start_line} is before the first line", "lines are numbered from 1")
        if lines and start_line > len(lines):
            raise NotebotError(f"start_line {start_line} is past the end of {path} ({len(lines)} lines)",
                               f"ask for lines 1 to {len(lines)}")
        last = len(lines) if end_line is None else min(end_line, len(lines))
        if last < start_line and lines:
            raise NotebotError(f"end_line {end_line} is before start_line {start_line}", "give end_line >= start_line")
        last = min(last, start_line + MAX_READ_LINES - 1)
        return {"path": path, "start_line": start_line, "end_line": last, "total_lines": len(lines),
                "text": "\n".join(lines[start_line - 1 : last])}

    def resolve_note(self, path: str, suffixes: tuple[str, ...]) -> Path:
        """A note file inside the corpus; absolute paths, `..` and symlinks that lead out are refused."""
        refused = NotebotError(f"{path!r} is not a note in the corpus",
                               "pass a path relative to the notes folder, as search_notes returns it")
        if not path or Path(path).is_absolute() or "\\" in path or "\0" in path:
            raise refused
        corpus = Path(self.settings.corpus_dir).resolve()
        relative = Path(path)
        if any(part.startswith(".") for part in relative.parts):  # `..`, and hidden folders are never notes
            raise refused
        file = (corpus / relative).resolve()
        if not file.is_relative_to(corpus) or file.suffix.lower() not in suffixes:
            raise refused
        if not file.is_file():
            raise NotebotError(f"no note {path!r} in the corpus", "use a path that search_notes returned")
        return file

    def _coverage(self) -> dict:
        """While the index is still being embedded, say so (as answers do)."""
        from ..answer.ask import partial_vectors_notice

        notice = partial_vectors_notice(self.index.manifest)
        return {"notice": notice} if notice else {}


def _passage(hit) -> dict:
    citation = hit.citation()
    return {"rank": hit.rank, "file": citation["file"], "heading_path": citation["heading_path"],
            "lines": citation["lines"], "score": citation["score"], "text": hit.chunk.text}


def _fields(settings: Settings) -> dict:
    from dataclasses import fields

    return {f.name: getattr(settings, f.name) for f in fields(settings)}


def create_server(settings: Settings, service: NotesService | None = None):
    """The MCP server with its three tools; errors reach the client as tool errors with our one-line message."""
    from mcp.server import MCPServer
    from mcp.server.mcpserver.exceptions import ToolError
    from pydantic import BaseModel, Field

    class Turn(BaseModel):
        """One earlier exchange, for follow-up questions ("那它的吞吐量呢？")."""

        question: str
        answer: str = ""

    service = service or NotesService(settings)
    server = MCPServer("notebot", instructions=INSTRUCTIONS, version=__version__)

    def guarded(call):
        try:
            return call()
        except NotebotError as problem:
            raise ToolError(str(problem)) from None

    @server.tool(description="Find the passages of the user's notes that best match a query (Chinese or English). "
                             "Each passage has its file, heading path, line range [first, last], score and text.")
    def search_notes(query: str = Field(description="keywords or a question"),
                     k: int = Field(5, ge=1, le=50, description="how many passages"),
                     mode: Literal["hybrid", "vector", "lexical"] = Field("hybrid", description="retrieval mode")) -> dict:
        return guarded(lambda: service.search_notes(query, k, mode))

    @server.tool(description="Answer a question from the user's notes with [n] citations (file, heading path, lines). "
                             "When the notes don't cover it, `refused` is true and the passages are only related.")
    def ask_notes(question: str = Field(description="the question, Chinese or English"),
                  history: list[Turn] = Field(default_factory=list, description="earlier turns, oldest first, for follow-ups")) -> dict:
        return guarded(lambda: service.ask_notes(question, [(turn.question, turn.answer) for turn in history]))

    @server.tool(description="Read lines of a note in the corpus (path relative to the notes folder, as search results give it). "
                             "Lines are numbered from 1; end_line is inclusive; at most 500 lines per call.")
    def read_note(path: str = Field(description="e.g. aws-with-dataengineer.md"),
                  start_line: int = Field(1, description="first line, from 1"),
                  end_line: int | None = Field(None, description="last line (inclusive); omit for the rest")) -> dict:
        return guarded(lambda: service.read_note(path, start_line, end_line))

    return server


def configure_parser(parser) -> None:
    parser.add_argument("--corpus-dir", type=Path, help="notes folder (default: corpus; NOTEBOT_CORPUS_DIR)")
    parser.add_argument("--watch", action="store_true", help="also re-index whenever notes change")
    parser.add_argument("--poll", action="store_true", help="with --watch: poll instead of OS file events")


def run(args, settings: Settings) -> int:
    from .watch import build_keyword_index_first, keep_disk_index

    logging.basicConfig(level=logging.INFO, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    with contextlib.redirect_stdout(sys.stderr):  # nothing but protocol on stdout, even from a first build
        if build_keyword_index_first(settings):
            log.info("no index in %s (or one an older notebot wrote): built a keyword index of %s; vectors follow in the background",
                     settings.index_dir, settings.corpus_dir)
        service = NotesService(settings)
        keeper, watcher = keep_disk_index(settings, watch=args.watch, poll=args.poll, index=lambda: service.index)
    server = create_server(settings, service)
    log.info("notebot MCP server on stdio: index %s, notes %s", settings.index_dir, settings.corpus_dir)
    sys.stdout.flush()
    try:
        server.run("stdio")
    finally:
        if watcher:
            watcher.stop()
        keeper.stop(timeout=5)
    return 0
