"""One writer at a time per index folder: an flock on <index>/writer.lock.

The kernel drops an flock when its holder exits, however it exits (kill -9 included), so a lock
left by a dead writer is never in the way: there is no stale-lock guessing from pids or ages.
The holder writes who it is (pid, host, command, start time) into the file, for the message the
next writer shows. The file itself is never removed: unlinking a lock file lets two writers lock
two different files. fcntl is POSIX (Linux, macOS).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path

from ..errors import NotebotError

LOCK_FILE = "writer.lock"
POLL_SECONDS = 0.2


@contextmanager
def writer_lock(index_dir: Path, timeout: float, notice: Callable[[str], None] = lambda message: None) -> Iterator[None]:
    """Hold the index folder's writer lock; wait up to `timeout` seconds for another writer to finish."""
    import fcntl

    index_dir = Path(index_dir)
    path = index_dir / LOCK_FILE
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        handle = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    except OSError as problem:
        raise NotebotError(f"cannot write to the index folder {index_dir} ({problem.strerror})",
                           "make it writable, free some space, or pass another --index-dir") from None
    try:
        deadline = time.monotonic() + timeout
        waited = False
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                holder = describe_holder(path)
                if time.monotonic() >= deadline:
                    raise NotebotError(
                        f"the index in {index_dir} is being written by {holder}",
                        f"wait for it to finish and run again, or set NOTEBOT_LOCK_TIMEOUT to wait longer than {timeout:g} s",
                    ) from None
                if not waited:
                    notice(f"waiting up to {timeout:g} s for {holder} to finish writing {index_dir}")
                    waited = True
                time.sleep(POLL_SECONDS)
        _record_holder(handle)
        try:
            yield
        finally:
            os.ftruncate(handle, 0)  # no stale name for the next waiter to show
    finally:
        os.close(handle)  # closing the descriptor releases the lock


def _record_holder(handle: int) -> None:
    holder = {
        "pid": os.getpid(),
        "host": socket.gethostname(),
        "command": " ".join([os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "python", *sys.argv[1:]])[:200],
        "since": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    try:
        os.ftruncate(handle, 0)
        os.pwrite(handle, json.dumps(holder).encode(), 0)
    except OSError:
        pass  # a full disk: the lock still holds, only its holder's name is missing from messages


def describe_holder(path: Path) -> str:
    """'pid 123 on host (notebot index corpus, since 2026-12-01T19:50:00+00:00)', or what is known of it."""
    try:
        holder = json.loads(Path(path).read_text(encoding="utf-8"))
        return f"pid {holder['pid']} on {holder['host']} ({holder['command']}, since {holder['since']})"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process"  # it holds the lock but has not written its name yet
