"""Speed and memory of the pipeline as a user meets it, each measured in a fresh process.

    python benchmarks/speed.py [--corpus corpus] [--runs 5]

Cold index build (empty index folder, empty embedding cache), re-index after a one-line edit,
a cold `notebot search` process, and in-process search/ask latency. Peak memory is the child
process's maximum resident set size.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUERIES = ["DynamoDB 的 item 最大多大？", "Can Firehose store data?", "S3 对象最大可以多大", "What does Glue DataBrew do?",
           "Kinesis Data Streams 和 SQS 的区别", "How does Redshift distribute data?", "EFS 支持 Windows 吗", "Lambda timeout limit"]


def timed(*args: str, env: dict | None = None) -> tuple[float, float]:
    """(seconds, peak MB) of one `notebot …` process."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    started = time.perf_counter()
    subprocess.run([sys.executable, "-m", "notebot", *args], check=True, capture_output=True, env={**os.environ, **(env or {})})
    seconds = time.perf_counter() - started
    peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak_kb, before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="notebot-speed-"))
    corpus, index = work / "corpus", work / "index"
    shutil.copytree(args.corpus, corpus)
    results = {"corpus": str(args.corpus)}

    results["cold_build_s"], results["cold_build_peak_mb"] = (round(x, 1) for x in timed("index", str(corpus), "--index-dir", str(index)))
    note = sorted(corpus.rglob("*.md"))[0]
    text = note.read_text(encoding="utf-8").splitlines(keepends=True)
    middle = len(text) // 2
    text[middle] = text[middle].rstrip("\n") + " (edited)\n"
    note.write_text("".join(text), encoding="utf-8")
    results["reindex_one_line_edit_s"] = round(timed("index", str(corpus), "--index-dir", str(index))[0], 2)

    cold = [timed("search", query, "--index-dir", str(index)) for query in QUERIES[: args.runs]]
    results["cold_search_process_s_median"] = round(statistics.median(s for s, _ in cold), 2)
    results["cold_search_peak_mb"] = round(max(mb for _, mb in cold))

    results.update(in_process(index))
    print(json.dumps(results, indent=2))
    shutil.rmtree(work)


def in_process(index_dir: Path) -> dict:
    from notebot.answer import ask
    from notebot.store.local import LocalIndex as Index
    from notebot.search import search
    from notebot.settings import Settings

    index = Index.load(index_dir)
    settings = Settings.load()
    ask(index, QUERIES[0], settings)  # the embedder loads once
    search_ms, ask_ms = [], []
    for query in QUERIES * 5:
        started = time.perf_counter()
        search(index, query, 5)
        search_ms.append((time.perf_counter() - started) * 1000)
        started = time.perf_counter()
        ask(index, query, settings)
        ask_ms.append((time.perf_counter() - started) * 1000)

    def p95(values):
        return sorted(values)[int(0.95 * len(values)) - 1]

    return {"search_ms_p50": round(statistics.median(search_ms), 1), "search_ms_p95": round(p95(search_ms), 1),
            "ask_ms_p50": round(statistics.median(ask_ms), 1), "ask_ms_p95": round(p95(ask_ms), 1)}


if __name__ == "__main__":
    main()
