"""Conversations: does a question lean on the previous turn? Three ways to decide, side by side.

    python benchmarks/followups.py --index-dir benchmarks/out/index [--qa ../shared/eval/dev-followups.jsonl]

Groups of dev-followups.jsonl: true follow-ups (lines 1–20, Hit@5 of the turn's retrieval),
short standalone questions after an unrelated turn (21–30, Hit@5) and off-topic questions after
an on-topic turn (31–36, share refused). Policies: `never` (the question alone), `always` (the
previous subject glued on), `evidence` (what ask() does: answer/ask.py follow_conversation).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from notebot.answer.ask import check_history, follow_conversation, previous_subject, retrieve
from notebot.answer.refusal import refusal_reason
from notebot.evaluation.evaluate import is_relevant
from notebot.settings import Settings
from notebot.store.local import LocalIndex

HERE = Path(__file__).resolve().parent
GROUPS = (("follow-ups (1–20)", 1, 20), ("standalone (21–30)", 21, 30), ("off-topic (31–36)", 31, 36))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-dir", type=Path, default=HERE / "out" / "index")
    parser.add_argument("--policy", action="append", help="only these policies (never, always, evidence)")
    parser.add_argument("--qa", type=Path, default=HERE.parent.parent / "shared" / "eval" / "dev-followups.jsonl")
    args = parser.parse_args()
    index = LocalIndex.load(args.index_dir)
    settings = Settings.load(environ={}, index_dir=args.index_dir, k=5)
    items = [json.loads(line) for line in args.qa.read_text(encoding="utf-8").splitlines() if line.strip()]
    policies = {
        "never": lambda q, h: retrieve(index, q, settings),
        "always": lambda q, h: retrieve(index, f"{previous_subject([t for t, _ in h])} {q}", settings, judged=q),
        "evidence": lambda q, h: follow_conversation(index, q, h, settings),
    }
    print("| policy | " + " | ".join(name for name, _, _ in GROUPS) + " |")
    print("|---" * (len(GROUPS) + 1) + "|")
    for policy, run in policies.items():
        if args.policy and policy not in args.policy:
            continue
        cells = []
        for name, first, last in GROUPS:
            good = 0
            group = items[first - 1 : last]
            for item in group:
                found = run(item["question"], check_history(item["history"]))
                if item["kind"] == "unanswerable":
                    good += refusal_reason(item["question"], found.hits, found.evidence) is not None
                else:
                    good += any(is_relevant(h.chunk.text, item["evidence"]) for h in found.hits[:5])
            cells.append(f"{good / len(group):.2f} ({good} of {len(group)})")
        print(f"| {policy} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
