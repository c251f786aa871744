"""Line embeddings on demand vs at index time: what each costs, and `ask` latency as a user meets it.

    python benchmarks/answer_speed.py --index-dir benchmarks/out/index [--questions ../shared/eval/dev.jsonl]

Works on copies of the index whose embedding cache holds the chunk vectors only (no line vectors):
- ask, first time (lines of the top passages embedded on demand, then cached), p50 / p95;
- ask again (line vectors from the cache), p50 / p95;
- a cold `notebot ask` process (median of 5, line vectors cached);
- index time: embedding every quotable line of every chunk, as an index-time step would;
- warmed, as `notebot serve` / `watch` / `mcp` leave an index once idle (search/line_ranking.py
  warm_lines, which also gathers them for the line ranking): the time to warm it, then questions never asked before (p50 / p95, and cold
  `notebot ask` processes), and questions asked while the warming runs at background priority.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[max(0, int(0.95 * len(ordered)) - 1)]


def chunk_only_copy(index_dir: Path, work: Path) -> Path:
    from notebot.store.cache import cache_key
    from notebot.store.local import LocalIndex

    copy = work / "index"
    shutil.copytree(index_dir, copy, ignore=shutil.ignore_patterns("line-*.npy"))  # no gathered lines either
    index = LocalIndex.load(copy)
    keep = {cache_key(index.manifest["embedder"]["name"], c.embed_text) for c in index.chunks}
    db = sqlite3.connect(copy / "embed-cache.sqlite")
    db.execute("CREATE TEMP TABLE keep (key TEXT PRIMARY KEY)")
    db.executemany("INSERT INTO keep VALUES (?)", [(k,) for k in keep])
    db.execute("DELETE FROM vectors WHERE key NOT IN (SELECT key FROM keep)")
    db.commit()
    db.close()
    return copy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-dir", type=Path, default=HERE / "out" / "index")
    parser.add_argument("--questions", type=Path, default=HERE.parent.parent / "shared" / "eval" / "dev.jsonl")
    parser.add_argument("--limit", type=int, default=20)
    args = parser.parse_args()
    from notebot.search.lines import own_line_texts
    from notebot.settings import Settings
    from notebot.store.local import LocalIndex

    work = Path(tempfile.mkdtemp(prefix="notebot-answer-speed-"))
    copy = chunk_only_copy(args.index_dir, work)
    index = LocalIndex.load(copy)
    settings = Settings.load(environ={}, index_dir=copy)
    questions = [json.loads(line)["question"] for line in args.questions.read_text(encoding="utf-8").splitlines() if line.strip()]
    questions = questions[: args.limit]
    index.embedder.embed_queries(["warm up"])
    results = {"questions": len(questions)}
    for label in ("first_ask", "ask_again"):
        results |= p50_p95(label, timed_asks(index, settings, questions))
    results["cold_ask_process_s_median"] = cold_ask_median(copy, questions[:5])
    lines = [text for c in index.chunks for text in own_line_texts(c)]
    sample = lines[:64]
    started = time.perf_counter()
    index.embedder.embed_passages(sample)
    per_line = (time.perf_counter() - started) / len(sample)
    results["index_time_lines"] = len(lines)
    results["index_time_all_lines_s_estimate"] = round(per_line * len(lines), 1)
    results["embed_ms_per_line"] = round(per_line * 1000, 1)
    results |= warmed(args.index_dir, work, questions)
    print(json.dumps(results, indent=2))
    shutil.rmtree(work)


def p50_p95(label: str, times_ms: list[float]) -> dict:
    return {f"{label}_ms_p50": round(statistics.median(times_ms), 1), f"{label}_ms_p95": round(p95(times_ms), 1)}


def cold_ask_median(index_dir: Path, questions: list[str]) -> float:
    """Median seconds of a new `notebot ask` process per question."""
    cold = []
    for question in questions:
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "notebot", "ask", question, "--index-dir", str(index_dir)], check=True, capture_output=True)
        cold.append(time.perf_counter() - started)
    return round(statistics.median(cold), 2)


def timed_asks(index, settings, questions: list[str]) -> list[float]:
    from notebot.answer import ask

    times = []
    for question in questions:
        started = time.perf_counter()
        ask(index, question, settings)
        times.append((time.perf_counter() - started) * 1000)
    return times


def warmed(index_dir: Path, work: Path, questions: list[str]) -> dict:
    import threading

    from notebot.apps.watch import _background_priority
    from notebot.search.line_ranking import warm_lines
    from notebot.settings import Settings
    from notebot.store.local import LocalIndex

    results = {}
    # Questions asked while a background thread warms the cache (as the apps' keeper does).
    (work / "during").mkdir()
    during = chunk_only_copy(index_dir, work / "during")
    index, settings = LocalIndex.load(during), Settings.load(environ={}, index_dir=during)
    index.embedder.embed_queries(["warm up"])
    done = threading.Event()

    def warm() -> None:
        _background_priority()
        warm_lines(index, should_stop=done.is_set)

    thread = threading.Thread(target=warm, daemon=True)
    thread.start()
    time.sleep(1.0)
    results |= p50_p95("asked_while_warming", timed_asks(index, settings, questions))
    done.set()
    thread.join()
    # A warmed index: questions it never saw.
    (work / "warm").mkdir()
    copy = chunk_only_copy(index_dir, work / "warm")
    index, settings = LocalIndex.load(copy), Settings.load(environ={}, index_dir=copy)
    index.embedder.embed_queries(["warm up"])
    started = time.perf_counter()
    results["warm_lines_embedded"] = warm_lines(index, should_stop=lambda: False)
    results["warm_s"] = round(time.perf_counter() - started, 1)
    results |= p50_p95("warmed_new_question", timed_asks(index, settings, questions[5:]))
    results["warmed_cold_ask_new_question_s_median"] = cold_ask_median(copy, questions[:5])
    return results


if __name__ == "__main__":
    main()
