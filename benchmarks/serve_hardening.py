"""What `notebot serve` does at start and under a password-guessing client: lines on stderr, attempts to
reach other hosts (name lookups and connects, recorded by an audit hook loaded into the server), and
how many of 300 wrong passwords in a row are actually checked.

    PYTHONPATH=src python benchmarks/serve_hardening.py            # this checkout
    PYTHONPATH=/path/to/old/src python benchmarks/serve_hardening.py   # another one, to compare
"""

from __future__ import annotations

import http.client
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from test_serve import WATCH_NETWORK, absolute_python_path, free_port  # noqa: E402  (one audit hook, not two)

ATTEMPTS = 300


def main() -> None:
    root = Path(tempfile.mkdtemp(prefix="notebot-serve-"))
    (root / "corpus").mkdir()
    (root / "corpus" / "n.md").write_text("# S3\n\n- Object 最大 5TB\n", encoding="utf-8")
    (root / "hooks").mkdir()
    (root / "hooks" / "sitecustomize.py").write_text(WATCH_NETWORK, encoding="utf-8")
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTEBOT_", "GRADIO_", "HF_"))}
    env.update({"PYTHONPATH": os.pathsep.join([str(root / "hooks"), *absolute_python_path()]),
                "NOTEBOT_TEST_NETWORK_LOG": str(root / "network.log"), "NOTEBOT_CORPUS_DIR": str(root / "corpus"),
                "NOTEBOT_INDEX_DIR": str(root / "index"), "NOTEBOT_EMBEDDER": "hash", "NOTEBOT_PORT": str(port),
                "NOTEBOT_AUTH": "learner:right-password"})
    with open(root / "server.log", "w") as log:
        server = subprocess.Popen([sys.executable, "-m", "notebot", "serve"], env=env, stdout=log, stderr=subprocess.STDOUT, cwd=root)
    try:
        while not _answers(port):
            time.sleep(0.3)
        time.sleep(5)  # let start-up background threads (version checks, telemetry) run
        started = time.perf_counter()
        statuses = [_login(port, f"guess-{i}") for i in range(ATTEMPTS)]
        seconds = time.perf_counter() - started
    finally:
        server.terminate()
        server.wait(timeout=10)
    lines = (root / "server.log").read_text().splitlines()
    network = (root / "network.log").read_text().splitlines() if (root / "network.log").exists() else []
    print(f"start-up output: {len(lines)} lines")
    for line in lines[:12]:
        print(f"    {line[:110]}")
    print(f"attempts to reach other hosts: {len(network)} {sorted(set(network))}")
    print(f"{ATTEMPTS} wrong passwords in {seconds:.1f} s: {statuses.count(400)} checked (400), "
          f"{statuses.count(429)} refused while locked out (429)")


def _answers(port: int) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
        connection.request("GET", "/")
        return connection.getresponse().status in (200, 302, 401)
    except OSError:
        return False


def _login(port: int, password: str) -> int:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("POST", "/login", body=f"username=learner&password={password}",
                       headers={"Content-Type": "application/x-www-form-urlencoded"})
    response = connection.getresponse()
    response.read()
    return response.status


if __name__ == "__main__":
    main()
