"""MCP `search_notes` latency with the index loaded, through the official SDK client.

    python benchmarks/mcp_search.py --index-dir index --corpus-dir corpus
    python benchmarks/mcp_search.py --index-dir benchmarks/out/wide-index --corpus-dir benchmarks/out/wide-notes

Two transports: in memory (the server object in this process) and stdio (a real `python -m notebot mcp`
subprocess). Each question of the dev set is asked once after a warm-up call (index and model loaded);
the latency is the client's round trip for one call_tool, and in memory also the CPU time it took
(a fairer number on a shared, loaded machine). Target: p50 < 50 ms.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from pathlib import Path

import anyio
from mcp.client import Client
from mcp.client.stdio import StdioServerParameters

from notebot.apps.mcp import create_server
from notebot.evaluation.evaluate import load_qa
from notebot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


async def timed_calls(client: Client, questions: list[str], k: int, mode: str = "hybrid") -> tuple[list[float], list[float]]:
    """Wall-clock round trips, and the CPU time this process spent on each (client + in-memory server)."""
    await client.call_tool("search_notes", {"query": questions[0], "k": k})  # warm-up: index + model loaded
    latencies, cpu = [], []
    for question in questions:
        started, cpu_started = time.perf_counter(), time.process_time()
        result = await client.call_tool("search_notes", {"query": question, "k": k, "mode": mode})
        latencies.append((time.perf_counter() - started) * 1000)
        cpu.append((time.process_time() - cpu_started) * 1000)
        assert not result.is_error, result.content[0].text
    return latencies, cpu


def summary(timings: tuple[list[float], list[float]], with_cpu: bool = True) -> dict:
    latencies, cpu = timings
    ordered = sorted(latencies)
    result = {"calls": len(ordered), "p50_ms": round(statistics.median(ordered), 1),
              "p95_ms": round(ordered[int(0.95 * (len(ordered) - 1))], 1)}
    if with_cpu:
        result["cpu_p50_ms"] = round(statistics.median(cpu), 1)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-dir", type=Path, default=ROOT / "index")
    parser.add_argument("--corpus-dir", type=Path, default=ROOT / "corpus")
    parser.add_argument("--qa", type=Path, default=ROOT.parent / "shared" / "eval" / "dev.jsonl")
    parser.add_argument("-k", type=int, default=5)
    args = parser.parse_args()
    questions = [q.question for q in load_qa(args.qa)]
    settings = Settings.load(corpus_dir=args.corpus_dir, index_dir=args.index_dir)

    async def in_memory(mode="hybrid"):
        async with Client(create_server(settings)) as client:
            return await timed_calls(client, questions, args.k, mode)

    async def stdio():
        params = StdioServerParameters(command=sys.executable, args=["-m", "notebot", "mcp", "--corpus-dir", str(args.corpus_dir),
                                                                     "--index-dir", str(args.index_dir)],
                                       env={"PYTHONPATH": os.environ.get("PYTHONPATH", "")})
        async with Client(params) as client:
            return await timed_calls(client, questions, args.k)

    results = {"index": str(args.index_dir), "questions": len(questions),
               "in_memory": summary(anyio.run(in_memory)), "in_memory_lexical": summary(anyio.run(in_memory, "lexical")),
               "stdio": summary(anyio.run(stdio), with_cpu=False)}  # the server's CPU is in another process
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
