"""Login throttling for the web UI (NOTEBOT_AUTH): each wrong password from an address makes its
next try wait longer, and a run of them locks that address out for a while.

An ASGI middleware around Gradio's POST /login, so it needs no Gradio internals: it reads the
response status (200 logged in, anything else failed) and answers 429 while an address is locked.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from dataclasses import dataclass, field

log = logging.getLogger("notebot.ui")
DELAY_PER_FAILURE = 0.25  # seconds added to the next try per failure in a row: 5 failures ≈ 2.5 s in total


@dataclass
class Record:
    failures: int = 0
    last_failure: float = 0.0
    locked_until: float = 0.0
    turn: asyncio.Lock = field(default_factory=asyncio.Lock)  # one attempt at a time per address


class LoginThrottle:
    def __init__(self, app, max_failures: int = 5, lockout_seconds: float = 300.0):
        self.app = app
        self.max_failures = max_failures
        self.lockout_seconds = lockout_seconds
        self.records: dict[str, Record] = {}

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"].rstrip("/") != "/login":
            return await self.app(scope, receive, send)
        client = (scope.get("client") or ("unknown", 0))[0]
        record = self.records.setdefault(client, Record())
        async with record.turn:  # parallel guesses wait their turn, so they cannot outrun the count
            await self._attempt(record, client, scope, receive, send)

    async def _attempt(self, record: Record, client: str, scope, receive, send) -> None:
        now = time.monotonic()
        if now - record.last_failure > self.lockout_seconds:
            record.failures = 0  # an old typo is forgotten
        wait = record.locked_until - now
        if wait > 0:
            return await _refuse(send, f"too many wrong passwords from your address — try again in {_minutes(wait)}")
        await asyncio.sleep(DELAY_PER_FAILURE * record.failures)
        status = {}

        async def watch(message):
            if message["type"] == "http.response.start":
                status["code"] = message["status"]
            await send(message)

        await self.app(scope, receive, watch)
        if status.get("code") == 200:
            record.failures = 0
            return
        record.failures += 1
        record.last_failure = time.monotonic()
        if record.failures >= self.max_failures:
            record.failures, record.locked_until = 0, time.monotonic() + self.lockout_seconds
            log.warning("login: %s locked out for %s after %d wrong passwords", client, _minutes(self.lockout_seconds), self.max_failures)


def _minutes(seconds: float) -> str:
    return f"{max(1, round(seconds / 60))} min"


async def _refuse(send, message: str) -> None:
    body = json.dumps({"detail": message}, ensure_ascii=False).encode("utf-8")
    await send({"type": "http.response.start", "status": 429,
                "headers": [(b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def login_notice(max_failures: int, lockout_seconds: float) -> str:
    """Shown on the login page (whose own error text is a generic "Incorrect credentials")."""
    return (f"连续输错 {max_failures} 次密码将锁定 {_minutes(lockout_seconds)}。"
            f"{max_failures} wrong passwords in a row lock this address out for {_minutes(lockout_seconds)}.")
