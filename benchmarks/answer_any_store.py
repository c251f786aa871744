"""Answer time on an index of either store, as `notebot serve` or `mcp` meet it: open once, then ask.

    PYTHONPATH=src python benchmarks/answer_any_store.py --index-dir INDEX [--questions FILE] [--limit 10]

INDEX is any index folder (`local`, or `milvus` as `notebot index --store milvus` left it). Prints the
time to open the index and each answer's seconds in order (the first pays for loading the embedder,
the Milvus collection's properties and anything counted once per index), then the median of the rest.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index-dir", type=Path, required=True)
    parser.add_argument("--questions", type=Path, default=HERE.parent.parent / "shared" / "eval" / "dev.jsonl")
    parser.add_argument("--limit", type=int, default=10)
    args = parser.parse_args()

    from notebot.answer.ask import ask
    from notebot.settings import Settings
    from notebot.store import open_index

    questions = [json.loads(line)["question"] for line in args.questions.read_text(encoding="utf-8").splitlines()[: args.limit]]
    started = time.perf_counter()
    settings = Settings.load(index_dir=args.index_dir)
    index = open_index(settings)
    print(f"open {time.perf_counter() - started:.2f} s ({index.location})")
    seconds = []
    for question in questions:
        started = time.perf_counter()
        ask(index, question, settings)
        seconds.append(time.perf_counter() - started)
        print(f"{seconds[-1]:7.2f} s  {question}", flush=True)
    if len(seconds) > 1:
        print(f"median after the first: {statistics.median(seconds[1:]):.2f} s")


if __name__ == "__main__":
    main()
