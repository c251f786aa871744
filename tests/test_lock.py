"""One writer at a time per index folder, checked with real processes."""

import os
import signal
import subprocess
import sys
import time

from notebot.store.local import LocalIndex as Index

NOTES = {"aws.md": "# S3\n对象最大 5TB。\n# DynamoDB\nitem 最大 400KB。\n", "gcp.md": "# BigQuery\n列式数据仓库。\n"}

# A process that takes the index's writer lock, says so, and holds it until its stdin closes.
HOLDER = """
import sys
from notebot.store.lock import writer_lock
with writer_lock(sys.argv[1], 0):
    print("locked", flush=True)
    sys.stdin.read()
"""


def notebot(*args, timeout=None, **popen):
    env = {**os.environ, "NOTEBOT_EMBEDDER": "hash"}
    if timeout is not None:
        env["NOTEBOT_LOCK_TIMEOUT"] = str(timeout)
    return subprocess.Popen([sys.executable, "-m", "notebot", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, **popen)


def hold_lock(index_dir):
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(index_dir), "notebot index (holder)"],
                              stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "locked"
    return holder


def test_a_second_index_run_says_who_holds_the_index(write_notes, tmp_path):
    corpus, index_dir = write_notes(NOTES), tmp_path / "index"
    holder = hold_lock(index_dir)
    try:
        second = notebot("index", str(corpus), "--index-dir", str(index_dir), timeout=0.5)
        _, stderr = second.communicate(timeout=60)
    finally:
        holder.stdin.close()
        holder.wait(timeout=10)
    assert second.returncode == 1
    lines = [line for line in stderr.splitlines() if line.startswith("error: ")]
    assert len(lines) == 1 and "Traceback" not in stderr
    assert f"is being written by pid {holder.pid} on " in lines[0] and "NOTEBOT_LOCK_TIMEOUT" in lines[0]
    assert not (index_dir / "manifest.json").exists()


def test_a_second_index_run_waits_for_the_first_to_finish(write_notes, tmp_path):
    corpus, index_dir = write_notes(NOTES), tmp_path / "index"
    holder = hold_lock(index_dir)
    second = notebot("index", str(corpus), "--index-dir", str(index_dir), timeout=60)
    notice = second.stderr.readline()
    assert notice.startswith(f"warning: waiting up to 60 s for pid {holder.pid} on ")
    time.sleep(0.5)
    assert second.poll() is None  # still waiting
    holder.stdin.close()
    holder.wait(timeout=10)
    _, stderr = second.communicate(timeout=60)
    assert second.returncode == 0, stderr
    assert len(Index.load(index_dir).chunks) == 3


def test_a_lock_left_by_a_killed_writer_is_not_in_the_way(write_notes, tmp_path):
    corpus, index_dir = write_notes(NOTES), tmp_path / "index"
    holder = hold_lock(index_dir)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=10)
    holder.stdin.close()
    run = notebot("index", str(corpus), "--index-dir", str(index_dir), timeout=0)
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 0, stderr
    assert len(Index.load(index_dir).chunks) == 3


def test_two_index_runs_at_once_leave_a_whole_index(write_notes, tmp_path):
    corpus, index_dir = write_notes(NOTES), tmp_path / "index"
    runs = [notebot("index", str(corpus), "--index-dir", str(index_dir), "--rebuild", timeout=60) for _ in range(2)]
    for run in runs:
        _, stderr = run.communicate(timeout=60)
        assert run.returncode == 0, stderr
    index = Index.load(index_dir)
    assert len(index.chunks) == 3
    builds = [p.name for p in index_dir.iterdir() if p.is_dir()]  # index format 2+: one build-<id>/ folder per build
    assert builds == [index.manifest["build"]]


def test_an_index_folder_that_cannot_be_written_is_a_one_line_error(write_notes, tmp_path):
    corpus, blocker = write_notes(NOTES), tmp_path / "file"
    blocker.write_text("a file where a folder should be")
    run = notebot("index", str(corpus), "--index-dir", str(blocker / "index"))
    _, stderr = run.communicate(timeout=60)
    assert run.returncode == 1 and "Traceback" not in stderr
    assert stderr.startswith("error: cannot write to the index folder") and len(stderr.strip().splitlines()) == 1
