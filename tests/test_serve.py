"""`notebot serve` as a real process over real HTTP: it stays on the machine, logs one clean start-up
line and then what it does, throttles wrong passwords, and answers bad /ask calls with a clear message."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

USER, PASSWORD = "learner", "s3cret-pass"

# Loaded into the server process through PYTHONPATH: records every attempt to reach another host
# (name lookups and connects) without changing what the process does.
WATCH_NETWORK = '''
import os, socket, sys

LOG = os.environ["NOTEBOT_TEST_NETWORK_LOG"]
LOCAL = ("127.", "::1", "localhost", "0.0.0.0", "::ffff:127.")


def _outside(host):
    host = host.decode() if isinstance(host, bytes) else str(host or "localhost")
    return not host.startswith(LOCAL) and host != socket.gethostname()


def _watch(event, args):
    if event == "socket.getaddrinfo" and _outside(args[0]):
        target = args[0]
    elif event == "socket.connect" and args[0].family in (socket.AF_INET, socket.AF_INET6) and _outside(args[1][0]):
        target = args[1][0]
    else:
        return
    with open(LOG, "a") as log:
        log.write(f"{event} {target}\\n")


sys.addaudithook(_watch)
'''


def absolute_python_path() -> list[str]:
    """PYTHONPATH entries as absolute paths: the server runs in another folder."""
    return [str(Path(entry).resolve()) for entry in os.environ.get("PYTHONPATH", "").split(os.pathsep) if entry]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    root = tmp_path_factory.mktemp("serve")
    corpus = root / "corpus"
    corpus.mkdir()
    (corpus / "aws.md").write_text("# Database\n\n## DynamoDB\n\n- 每一个item的大小上限是400KB\n- 主键可以是分区键\n", encoding="utf-8")
    hooks = root / "hooks"
    hooks.mkdir()
    (hooks / "sitecustomize.py").write_text(WATCH_NETWORK, encoding="utf-8")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTEBOT_", "GRADIO_", "HF_"))}
    env.update({"PYTHONPATH": os.pathsep.join([str(hooks), *absolute_python_path()]),
                "NOTEBOT_TEST_NETWORK_LOG": str(root / "network.log"), "NOTEBOT_CORPUS_DIR": str(corpus),
                "NOTEBOT_INDEX_DIR": str(root / "index"), "NOTEBOT_EMBEDDER": "hash", "NOTEBOT_PORT": str(port),
                "NOTEBOT_AUTH": f"{USER}:{PASSWORD}"})
    log = open(root / "server.log", "w")
    process = subprocess.Popen([sys.executable, "-m", "notebot", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    deadline = time.time() + 240  # generous: a busy 2-core machine
    while "ready at" not in (root / "server.log").read_text():
        if process.poll() is not None or time.time() > deadline:
            process.kill()
            pytest.fail("serve did not start: " + (root / "server.log").read_text())
        time.sleep(0.3)
    yield {"port": port, "root": root, "log": root / "server.log", "network": root / "network.log"}
    process.terminate()
    process.wait(timeout=10)


def request(server, method: str, path: str, body: bytes = b"", headers: dict | None = None, source: str = "127.0.0.1"):
    connection = http.client.HTTPConnection("127.0.0.1", server["port"], timeout=30, source_address=(source, 0))
    connection.request(method, path, body=body, headers=headers or {})
    response = connection.getresponse()
    return response.status, response.read().decode("utf-8"), response


def login(server, password: str, source: str = "127.0.0.1"):
    form = f"username={USER}&password={password}".encode()
    return request(server, "POST", "/login", form, {"Content-Type": "application/x-www-form-urlencoded"}, source)


def call_ask(server, cookie: str, *data) -> tuple[str, object]:
    """POST /gradio_api/call/ask, then read its event stream: ("complete", result) or ("error", message)."""
    status, body, _ = request(server, "POST", "/gradio_api/call/ask", json.dumps({"data": list(data)}).encode(),
                              {"Content-Type": "application/json", "Cookie": cookie})
    assert status == 200, body
    event_id = json.loads(body)["event_id"]
    _, stream, _ = request(server, "GET", f"/gradio_api/call/ask/{event_id}", headers={"Cookie": cookie})
    event = payload = None
    for line in stream.splitlines():
        if line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: ") and event in ("complete", "error"):
            payload = json.loads(line[6:])
            return event, payload[0] if event == "complete" else payload
    return event, payload


@pytest.fixture(scope="module")
def cookie(server):
    status, body, response = login(server, PASSWORD)
    assert status == 200, body
    return "; ".join(c.split(";", 1)[0] for c in response.headers.get_all("set-cookie"))


def test_start_up_prints_one_clean_ready_line(server):
    log = server["log"].read_text()
    assert f"notebot ready at http://127.0.0.1:{server['port']}/" in log
    for noise in ("ModuleNotFoundError", "HTTP Request", "Running on local URL", "share=True", "Traceback"):
        assert noise not in log


def test_ask_api_answers_with_passage_text_and_quoted_lines_and_logs_it(server, cookie):
    event, result = call_ask(server, cookie, "DynamoDB 的 item 最大多大？", 3, "hybrid")
    assert event == "complete" and "400KB" in result["answer"]
    first = result["citations"][0]
    assert "400KB" in first["text"] and first["quoted_lines"] == [5]
    time.sleep(0.2)
    assert "api question (hybrid, k=3): DynamoDB 的 item 最大多大？" in server["log"].read_text()


@pytest.mark.parametrize("data, message", [
    (["", 5, "hybrid"], "question must be a non-empty string"),
    ([123, 5, "hybrid"], "question must be a non-empty string"),
    (["S3", 10**9, "hybrid"], "k must be a whole number from 1 to 20"),
    (["S3", "five", "hybrid"], "k must be a whole number from 1 to 20"),
    (["S3", 5, "semantic"], "mode must be one of hybrid, vector, lexical"),
])
def test_ask_api_bad_input_gets_a_clear_message(server, cookie, data, message):
    event, payload = call_ask(server, cookie, *data)
    assert event == "error" and message in json.dumps(payload, ensure_ascii=False)
    assert "Traceback" not in server["log"].read_text()


def test_repeated_wrong_passwords_are_slowed_then_locked_out_per_address(server):
    started = time.monotonic()
    for attempt in range(5):
        status, _, _ = login(server, f"guess-{attempt}", source="127.0.0.2")
        assert status == 400
    assert time.monotonic() - started >= 0.25 * (1 + 2 + 3 + 4), "each failure slows the next try"
    status, body, _ = login(server, PASSWORD, source="127.0.0.2")
    assert status == 429 and "too many wrong passwords from your address — try again in 5 min" in body
    assert login(server, PASSWORD, source="127.0.0.3")[0] == 200, "another address is not locked out"


def test_parallel_guesses_cannot_outrun_the_lockout(server):
    with ThreadPoolExecutor(max_workers=20) as pool:
        statuses = list(pool.map(lambda i: login(server, f"parallel-{i}", source="127.0.0.4")[0], range(20)))
    assert statuses.count(400) == 5 and statuses.count(429) == 15


def test_serve_contacts_nothing_outside_the_machine(server, cookie):
    call_ask(server, cookie, "DynamoDB 的 item 最大多大？", 3, "hybrid")
    time.sleep(1)  # Gradio's start-up checks run in background threads
    attempts = server["network"].read_text() if server["network"].exists() else ""
    assert attempts == "", f"serve tried to reach other hosts:\n{attempts}"
