"""Does carrying the previous question over help follow-ups? Hit@1/Hit@5 with and without it.

    python benchmarks/followups.py [--index-dir index]

benchmarks/followups.jsonl holds follow-up pairs written from corpus/ (not from the eval sets).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from notebot.answer import resolve_follow_up
from notebot.evaluation.evaluate import is_relevant
from notebot.store.local import LocalIndex as Index
from notebot.search import search

HERE = Path(__file__).resolve().parent


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-dir", type=Path, default=HERE.parent / "index")
    args = parser.parse_args()
    index = Index.load(args.index_dir)
    pairs = [json.loads(line) for line in (HERE / "followups.jsonl").read_text(encoding="utf-8").splitlines() if line.strip()]
    results = {}
    for name, query_of in (("follow-up alone", lambda p: p["question"]),
                           ("with carry-over", lambda p: resolve_follow_up(p["question"], [(p["history"], "")]))):
        ranks = []
        for pair in pairs:
            hits = search(index, query_of(pair), 5)
            ranks.append(next((h.rank for h in hits if is_relevant(h.chunk.text, pair["evidence"])), None))
        results[name] = {"n": len(ranks), "hit@1": sum(r == 1 for r in ranks) / len(ranks),
                         "hit@5": sum(r is not None for r in ranks) / len(ranks)}
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
