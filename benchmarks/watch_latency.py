"""Edit one note in a watched vault → how long until the change is answerable (target < 3 s).

    python benchmarks/watch_latency.py --notes benchmarks/out/first-run-notes \\
        --cache /work/data/combined-cache.sqlite     # or any e5 cache of the vault (copied, never written)

Runs what `notebot serve --watch` runs (the UI's NotebotApp + a real watchdog watcher) on a copy of the
notes with a complete index (the cache given avoids embedding the vault again). Each trial appends one
new fact to a note, then asks about it every 50 ms; the latency is from the write until the answer
cites the new line; each trial also prints when the re-index round began and how long it and its
build_index took. Also: a burst of 50 saves, and how many re-indexes it caused.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import time
from pathlib import Path

from notebot.apps.ui import NotebotApp
from notebot.apps.watch import keep_app_index
from notebot.settings import Settings
from notebot.store.build import build_index

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"
NOTE = "aws-with-dataengineer.md"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--notes", type=Path, required=True, help="the vault to copy and watch")
    parser.add_argument("--cache", type=Path, help="an embed-cache.sqlite holding the vault's vectors")
    parser.add_argument("--trials", type=int, default=5)
    parser.add_argument("--embedder", default="e5-small-q4", help="hash: measure the file handling alone (no model)")
    args = parser.parse_args()

    notes, index_dir = OUT / "watch-notes", OUT / "watch-index"
    shutil.rmtree(notes, ignore_errors=True)
    shutil.rmtree(index_dir, ignore_errors=True)
    shutil.copytree(args.notes, notes)
    index_dir.mkdir(parents=True)
    if args.cache:
        shutil.copy(args.cache, index_dir / "embed-cache.sqlite")
    settings = Settings.load(corpus_dir=notes, index_dir=index_dir, embedder=args.embedder)
    report = build_index(settings)
    print(f"index: {report['chunks']} chunks, embedded {report['embedded']} missing from the cache")

    app = NotebotApp(settings)
    app.keeper = keep_app_index(app, watch=True)
    list(app.ask("DynamoDB 的 item 最大多大？", [], 5, "hybrid", "extractive"))  # model and index loaded
    latencies = []
    for trial in range(args.trials):
        token = f"zq{trial}watchprobe"
        with open(notes / NOTE, "a", encoding="utf-8") as note:
            note.write(f"\n## Probe {trial}\n- {token} 的保留期是 {trial + 3} 天\n")
        started, written = time.perf_counter(), time.monotonic()
        while True:
            answer = list(app.ask(f"{token} 的保留期是多少天？", [], 5, "hybrid", "extractive"))[-1]
            if any(token in hit.chunk.text for hit in answer.hits[:1]):
                break
            if time.perf_counter() - started > 60:
                raise SystemExit(f"trial {trial}: not answerable after 60 s ({app.live_status()})")
            time.sleep(0.05)
        latencies.append(time.perf_counter() - started)
        round_ = app.keeper.last_round
        print(f"trial {trial}: answerable after {latencies[-1]:.2f} s (round began {round_['started'] - written:.2f} s after the "
              f"write, took {round_['seconds']:.2f} s of which build_index {round_['build_seconds']:.2f} s) — {app.live_status()}")
        app.keeper.wait_idle()

    rounds = app.keeper.rounds
    for n in range(50):
        with open(notes / NOTE, "a", encoding="utf-8") as note:
            note.write(f"- burst save {n}\n")
        time.sleep(0.02)
    time.sleep(2)
    app.keeper.wait_idle()
    results = {"embedder": args.embedder, "chunks": report["chunks"], "trials": [round(x, 2) for x in latencies],
               "median_seconds": round(statistics.median(latencies), 2), "max_seconds": round(max(latencies), 2),
               "burst_of_50_saves_reindexes": app.keeper.rounds - rounds}
    app.keeper.stop()
    print(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
