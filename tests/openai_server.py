"""A real, tiny OpenAI-protocol HTTP server for tests: POST /v1/chat/completions on 127.0.0.1.

It records every request (path, headers, JSON body) and answers with scripted replies, in order:
a streamed answer as Server-Sent Events (chunked transfer, like Ollama and vLLM), a plain JSON
completion, an HTTP error with a body, a delay longer than the client's timeout, or a stream that
never ends (content, or keep-alive comments only) — for at most `forever` seconds, so a client
without a deadline makes its test fail instead of hang.
"""

from __future__ import annotations

import json
import socket
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Reply:
    """One scripted answer. `chunks` set -> SSE stream; else `content` -> JSON completion;
    `status` >= 400 -> that error with `body`; `raw` -> these bytes as application/json, verbatim."""

    chunks: list[str] | None = None
    content: str | None = None
    status: int = 200
    body: str = ""
    raw: bytes | None = None
    delay: float = 0.0  # seconds before the status line
    chunk_delay: float = 0.0  # seconds before each streamed chunk
    sse_content_type: bool = True
    finish: str = "stop"  # the last chunk's finish_reason ("length": max_tokens reached)
    forever: float = 0.0  # > 0: repeat `chunks` (or, if empty, keep-alive comments) for this long
    hang_up: bool = False  # close the connection after the chunks, mid-stream (no finish, no [DONE])


def stream(*chunks: str, chunk_delay: float = 0.0) -> Reply:
    return Reply(chunks=list(chunks), chunk_delay=chunk_delay)


def endless(*chunks: str, chunk_delay: float = 0.01, limit: float = 10.0) -> Reply:
    """A stream that keeps sending `chunks` over and over; with no chunks, only ": keep-alive" comments,
    which keep every read short of its timeout while no token ever arrives."""
    return Reply(chunks=list(chunks), chunk_delay=chunk_delay, forever=limit)


def completion(content: str) -> Reply:
    return Reply(content=content)


def error(status: int, body: str) -> Reply:
    return Reply(status=status, body=body)


def slow(delay: float, then: Reply | None = None) -> Reply:
    reply = then or completion("too late")
    reply.delay = delay
    return reply


@dataclass
class Request:
    path: str
    headers: dict[str, str]  # lower-cased names
    body: dict

    @property
    def messages(self) -> list[dict]:
        return self.body.get("messages", [])

    @property
    def prompt_text(self) -> str:
        return "\n".join(m.get("content", "") for m in self.messages)


@dataclass
class OpenAIServer:
    requests: list[Request] = field(default_factory=list)
    replies: deque = field(default_factory=deque)

    def __post_init__(self):
        self._stop = threading.Event()
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                try:
                    body = json.loads(raw)
                except ValueError:
                    body = {"unparsed": raw.decode("utf-8", "replace")}
                headers = {k.lower(): v for k, v in self.headers.items()}
                server.requests.append(Request(self.path, headers, body))
                reply = server.replies.popleft() if server.replies else error(500, "no scripted reply left")
                try:
                    server._answer(self, reply, body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (timeout tests); nothing to do

            def log_message(self, *args):  # keep pytest output clean
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, args=(0.05,), daemon=True)

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_address[1]}/v1"

    def script(self, *replies: Reply) -> "OpenAIServer":
        self.replies.extend(replies)
        return self

    def __enter__(self) -> "OpenAIServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()  # wakes handlers sleeping in a delay
        self._httpd.shutdown()
        self._httpd.server_close()

    def _answer(self, handler: BaseHTTPRequestHandler, reply: Reply, body: dict) -> None:
        if reply.delay and self._stop.wait(reply.delay):
            return
        if reply.status >= 400:
            self._send(handler, reply.status, "application/json", reply.body.encode())
        elif reply.raw is not None:
            self._send(handler, 200, "application/json", reply.raw)
        elif reply.chunks is not None:
            self._send_stream(handler, reply, body.get("model", ""))
        else:
            data = {
                "id": "chatcmpl-test",
                "object": "chat.completion",
                "model": body.get("model", ""),
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": reply.content}, "finish_reason": "stop"}
                ],
            }
            self._send(handler, 200, "application/json", json.dumps(data).encode())

    @staticmethod
    def _send(handler: BaseHTTPRequestHandler, status: int, content_type: str, payload: bytes) -> None:
        handler.send_response(status)
        handler.send_header("Content-Type", content_type)
        handler.send_header("Content-Length", str(len(payload)))
        handler.send_header("Connection", "close")
        handler.end_headers()
        handler.wfile.write(payload)

    def _send_stream(self, handler: BaseHTTPRequestHandler, reply: Reply, model: str) -> None:
        handler.send_response(200)
        content_type = "text/event-stream; charset=utf-8" if reply.sse_content_type else "application/json"
        handler.send_header("Content-Type", content_type)
        handler.send_header("Transfer-Encoding", "chunked")
        handler.send_header("Connection", "close")
        handler.end_headers()

        def event(data: str) -> None:
            payload = f"data: {data}\n\n".encode()
            handler.wfile.write(b"%x\r\n%s\r\n" % (len(payload), payload))
            handler.wfile.flush()

        def chunk(delta: dict, finish: str | None = None) -> str:
            return json.dumps(
                {
                    "id": "chatcmpl-test",
                    "object": "chat.completion.chunk",
                    "model": model,
                    "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
                },
                ensure_ascii=False,
            )

        # Like real servers: a role-only first chunk, a keep-alive comment, content, a finish chunk.
        event(chunk({"role": "assistant"}))
        comment = b": keep-alive\n\n"
        handler.wfile.write(b"%x\r\n%s\r\n" % (len(comment), comment))
        for text in self._contents(reply):
            if reply.chunk_delay and self._stop.wait(reply.chunk_delay):
                return
            if text is None:
                handler.wfile.write(b"%x\r\n%s\r\n" % (len(comment), comment))
                handler.wfile.flush()
            else:
                event(chunk({"content": text}))
        if reply.hang_up:
            handler.close_connection = True
            handler.connection.shutdown(socket.SHUT_RDWR)
            return
        event(chunk({}, finish=reply.finish))
        event("[DONE]")
        handler.wfile.write(b"0\r\n\r\n")
        handler.wfile.flush()


    @staticmethod
    def _contents(reply: Reply):
        """The streamed contents; None stands for a keep-alive comment."""
        if not reply.forever:
            yield from reply.chunks
            return
        until = time.monotonic() + reply.forever
        while time.monotonic() < until:
            yield from reply.chunks or [None]


def closed_port_url() -> str:
    """A base URL where nothing listens: bind a free port, then release it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"
