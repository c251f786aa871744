"""Load on the web UI: N concurrent clients × M questions through the Gradio API, on loopback.

    python benchmarks/load_ui.py [--clients 10] [--questions 20] [--index-dir index]

Starts `python app.py` on a free port with an existing index, measures its start time (until the
page answers), then the latency of every /ask call and the errors.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--questions", type=int, default=20)
    parser.add_argument("--index-dir", type=Path, default=ROOT / "index")
    parser.add_argument("--qa", type=Path, default=ROOT.parent / "shared" / "eval" / "dev.jsonl")
    args = parser.parse_args()
    questions = [json.loads(line)["question"] for line in args.qa.read_text(encoding="utf-8").splitlines() if line.strip()]

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "NOTEBOT_INDEX_DIR": str(args.index_dir), "NOTEBOT_PORT": str(port)}
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, str(ROOT / "app.py")], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}/"
    try:
        while True:
            try:
                urllib.request.urlopen(url, timeout=1)
                break
            except OSError:
                if time.perf_counter() - started > 120 or server.poll() is not None:
                    raise SystemExit("the app did not start")
                time.sleep(0.1)
        start_seconds = time.perf_counter() - started
        results = run_clients(url, questions, args.clients, args.questions)
    finally:
        server.terminate()
        server.wait(timeout=10)
    latencies = sorted(r for r in results if isinstance(r, float))
    errors = [r for r in results if not isinstance(r, float)]
    print(json.dumps({
        "app_start_s": round(start_seconds, 2), "clients": args.clients, "questions_per_client": args.questions,
        "requests": len(results), "errors": len(errors), "error_examples": errors[:3],
        "latency_ms_p50": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "latency_ms_p95": round(latencies[max(0, int(0.95 * len(latencies)) - 1)] * 1000, 1) if latencies else None,
    }, indent=2, ensure_ascii=False))


def run_clients(url: str, questions: list[str], clients: int, per_client: int) -> list:
    from gradio_client import Client

    def client_session(number: int) -> list:
        client = Client(url, verbose=False)
        outcomes = []
        for i in range(per_client):
            question = questions[(number * per_client + i) % len(questions)]
            started = time.perf_counter()
            try:
                answer = client.predict(question, 5, "hybrid", api_name="/ask")
                assert "answer" in answer and answer["citations"], answer
                outcomes.append(time.perf_counter() - started)
            except Exception as problem:  # a load test counts failures instead of stopping
                outcomes.append(f"{type(problem).__name__}: {problem}")
        return outcomes

    with ThreadPoolExecutor(clients) as pool:
        return [outcome for session in pool.map(client_session, range(clients)) for outcome in session]


if __name__ == "__main__":
    main()
