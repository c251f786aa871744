"""The LLM client's own cost, against the tests' OpenAI-protocol server on 127.0.0.1 (no model involved).

    python benchmarks/llm_client.py [--chunks 500] [--runs 5]

Measures: the cold `import openai` a process pays once, on the LLM path only; time to the first delta
and to the end of a streamed answer of N chunks (the client's overhead per answer); and how long an
endless stream of keep-alives (no read ever times out) takes to end at a 2 s deadline.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from openai_server import OpenAIServer, endless, stream  # noqa: E402

from notebot.answer.llm import LLMAnswerer, LLMError  # noqa: E402
from notebot.records import Chunk, Hit  # noqa: E402

HITS = [Hit(chunk=Chunk(id="c1", file="a.md", headings=("S3",), line_start=1, line_end=3, text="Object最大*5TB*"),
            score=1.0, rank=1)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, default=500)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()

    imports = [_seconds([sys.executable, "-c", "import openai"]) for _ in range(args.runs)]
    print(f"cold `import openai` (median of {args.runs} processes): {statistics.median(imports):.2f} s")

    with OpenAIServer() as server:
        server.script(stream("warm"))
        list(LLMAnswerer(server.base_url, "m").stream("q", HITS, "en"))
        first, total = [], []
        for _ in range(args.runs):
            server.script(stream(*[f"token{i} " for i in range(args.chunks)]))
            started = time.perf_counter()
            deltas = LLMAnswerer(server.base_url, "m").stream("q", HITS, "en")
            next(deltas)
            first.append(time.perf_counter() - started)
            for _ in deltas:
                pass
            total.append(time.perf_counter() - started)
        print(f"{args.chunks}-chunk stream, median of {args.runs}: first delta {statistics.median(first) * 1000:.1f} ms, "
              f"whole answer {statistics.median(total) * 1000:.0f} ms")

        server.script(endless(chunk_delay=0.1, limit=30))
        started = time.perf_counter()
        try:
            list(LLMAnswerer(server.base_url, "m", timeout=1.0, deadline=2.0).stream("q", HITS, "en"))
        except LLMError as problem:
            print(f"keep-alives forever, 1 s read timeout, 2 s deadline: ended after "
                  f"{time.perf_counter() - started:.2f} s with: {problem.message}")


def _seconds(command: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(command, check=True)
    return time.perf_counter() - started


if __name__ == "__main__":
    main()
