"""MCP `search_notes` latency with the index loaded, through the official SDK client.

    python benchmarks/mcp_search.py --index-dir index --corpus-dir corpus
    python benchmarks/mcp_search.py --index-dir benchmarks/out/wide-index --corpus-dir benchmarks/out/wide-notes

Two transports: in memory (the server object in this process) and stdio (a real `python -m notebot mcp`
subprocess). Each question of the dev set is asked once after a warm-up call (index and model loaded);
the latency is the client's round trip for one call_tool, and in memory also the CPU time it took
(a fairer number on a shared, loaded machine). Target: p50 < 50 ms.

Also: where one call's time goes (query embedding vs the rest of the search), and the stdio server's CPU use
while idle after the calls (OpenMP threads must not spin then). Run it on an idle machine (the load average is
printed); OMP_* and GOMP_* variables are passed to the stdio server, so wait policies compare by environment.
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


def children_cpu_seconds() -> dict[int, float]:
    """CPU seconds (user + system) of each child process of this one (the stdio server)."""
    pids = set()
    for task in Path("/proc/self/task").iterdir():
        try:
            pids |= {int(pid) for pid in (task / "children").read_text().split()}
        except OSError:
            pass
    result = {}
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            result[pid] = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except OSError:
            pass
    return result


def components(settings: Settings, questions: list[str], k: int) -> dict:
    """Where one hybrid search_notes call's time goes, in this thread: the e5 query embedding, then the
    search given that vector (wall and CPU p50)."""
    from notebot.search import embed_query, search
    from notebot.store import open_index

    index = open_index(settings)
    search(index, questions[0], k, "hybrid")  # warm: model, vault evidence
    embed, embed_cpu, rest = [], [], []
    for question in questions:
        started, cpu = time.perf_counter(), time.process_time()
        vector = embed_query(index, question)
        middle = time.perf_counter()
        embed_cpu.append((time.process_time() - cpu) * 1000)
        search(index, question, k, "hybrid", query_vector=vector)
        embed.append((middle - started) * 1000)
        rest.append((time.perf_counter() - middle) * 1000)
    return {"embed_p50_ms": round(statistics.median(embed), 1), "embed_cpu_p50_ms": round(statistics.median(embed_cpu), 1),
            "search_given_vector_p50_ms": round(statistics.median(rest), 1)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-dir", type=Path, default=ROOT / "index")
    parser.add_argument("--corpus-dir", type=Path, default=ROOT / "corpus")
    parser.add_argument("--qa", type=Path, default=ROOT.parent / "shared" / "eval" / "dev.jsonl")
    parser.add_argument("-k", type=int, default=5)
    parser.add_argument("--idle-seconds", type=float, default=5.0, help="stdio: how long to watch the idle server's CPU")
    args = parser.parse_args()
    questions = [q.question for q in load_qa(args.qa)]
    settings = Settings.load(corpus_dir=args.corpus_dir, index_dir=args.index_dir)
    load_before = os.getloadavg()[0]

    async def in_memory(mode="hybrid"):
        async with Client(create_server(settings)) as client:
            return await timed_calls(client, questions, args.k, mode)

    idle = {}

    async def stdio():
        params = StdioServerParameters(command=sys.executable, args=["-m", "notebot", "mcp", "--corpus-dir", str(args.corpus_dir),
                                                                     "--index-dir", str(args.index_dir)],
                                       env={"PYTHONPATH": os.environ.get("PYTHONPATH", ""),
                                            **{k: v for k, v in os.environ.items() if k.startswith(("OMP_", "GOMP_"))}})
        async with Client(params) as client:
            timings = await timed_calls(client, questions, args.k)
            # A server must not burn CPU while it waits for the next call (OpenMP threads spinning).
            before = children_cpu_seconds()
            await anyio.sleep(args.idle_seconds)
            after = children_cpu_seconds()
            idle["server_idle_cpu_percent"] = round(100 * sum(after.get(pid, 0) - cpu for pid, cpu in before.items())
                                                    / args.idle_seconds, 1)
            return timings

    results = {"index": str(args.index_dir), "questions": len(questions), "omp_wait_policy": os.environ.get("OMP_WAIT_POLICY"),
               "gomp_spincount": os.environ.get("GOMP_SPINCOUNT"),
               "components": components(settings, questions, args.k),
               "in_memory": summary(anyio.run(in_memory)),
               "in_memory_lexical": summary(anyio.run(in_memory, "lexical")),
               "stdio": summary(anyio.run(stdio), with_cpu=False), **idle,  # the server's CPU is in another process
               "load_average": [round(load_before, 2), round(os.getloadavg()[0], 2)]}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
