"""A big vault on the first run: how soon the web app answers, how long until every chunk has its vector,
and how good retrieval is part-way.

    python benchmarks/first_run.py serve      # fresh `python app.py` on corpus/ + corpus-wide, EMPTY cache
                                              # (--first-answer-only: stop at the first answer)
    python benchmarks/first_run.py fractions  # dev-set numbers at 0 / 25 / 50 / 100 % embedded (needs the cache
                                              # the serve run filled, or --cache; embeds nothing itself)

`serve` starts app.py on a fresh index folder, asks the documented /ask API every half second until it
answers (first answer), then follows manifest.json until the vectors are complete (time to full index).
`fractions` rebuilds the index with only the first f of the chunks' vectors in the cache — the state the
background embedding passes through, in the same corpus order — and runs `notebot eval` on it.
Results: benchmarks/out/first-run.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"
NOTES = OUT / "first-run-notes"
INDEX = OUT / "first-run-index"
RESULTS = OUT / "first-run.json"
QUESTION = "DynamoDB 的 item 最大多大？"


def assemble(wide: Path) -> Path:
    if not NOTES.exists():
        shutil.copytree(wide, NOTES)
        shutil.copytree(ROOT / "corpus", NOTES, dirs_exist_ok=True)
    return NOTES


def serve(args) -> dict:
    from gradio_client import Client

    notes = assemble(args.wide)
    shutil.rmtree(INDEX, ignore_errors=True)
    log = open(OUT / "first-run-serve.log", "w")
    started = time.perf_counter()
    server = subprocess.Popen([sys.executable, str(ROOT / "app.py"), "--corpus-dir", str(notes), "--index-dir", str(INDEX),
                               "--port", str(args.port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)

    def copy_log() -> None:  # each line of the server's output, stamped with the seconds since start
        for line in server.stdout:
            log.write(f"[{time.perf_counter() - started:7.1f} s] {line.decode(errors='replace')}")
            log.flush()

    threading.Thread(target=copy_log, daemon=True).start()
    result = {"notes": str(notes)}
    try:
        answer = None
        while answer is None:
            if server.poll() is not None:
                raise SystemExit(f"app.py exited with {server.returncode}; see {log.name}")
            try:
                answer = Client(f"http://127.0.0.1:{args.port}/", verbose=False).predict(QUESTION, 5, "hybrid", api_name="/ask")
            except Exception:  # noqa: BLE001 - not up yet
                time.sleep(0.5)
        result["first_answer_seconds"] = round(time.perf_counter() - started, 1)
        result["first_answer_cpu_seconds"] = cpu_seconds(server.pid)
        result["first_answer"] = {"text": answer["answer"][:200], "notice": answer["notice"], "refused": answer["refused"]}
        print(f"first answer after {result['first_answer_seconds']} s ({result['first_answer_cpu_seconds']} CPU s): "
              f"{answer['answer'][:80]!r}", file=sys.stderr)
        rounds = []
        result["load_at_first_answer"] = os.getloadavg()[0]
        while not args.first_answer_only:
            vectors = json.loads((INDEX / "manifest.json").read_text(encoding="utf-8")).get("vectors", {})
            point = (round(time.perf_counter() - started, 1), vectors.get("embedded"), vectors.get("total"))
            point += (cpu_seconds(server.pid),)
            if not rounds or rounds[-1][1:3] != point[1:3]:
                rounds.append(point)
                print(f"{point[0]:8.1f} s  embedded {point[1]} of {point[2]}", file=sys.stderr)
            if vectors.get("complete"):
                break
            time.sleep(2)
        if rounds:
            result["full_index_seconds"] = rounds[-1][0]
            result["full_index_cpu_seconds"] = cpu_seconds(server.pid)
            result["rounds"] = rounds
            # When the served index first held 25 / 50 / 100 % of the vectors (wall s, CPU s): the dev-set
            # numbers for those states come from `fractions` (the rounds embed in corpus order, as it does).
            result["milestones"] = {f"{int(f * 100)}%": next(([t, cpu] for t, done, total, cpu in rounds if done >= f * total), None)
                                    for f in (0.25, 0.5, 1.0)}
    finally:
        server.terminate()
        server.wait(30)
    return result


def cpu_seconds(pid: int) -> float:
    """CPU time the server process has used (user + system): on a shared, overloaded machine the wall
    clock mostly measures the other processes."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # utime + stime, plus cutime + cstime: the forked keyword build (apps/ui.py) once it has been joined
    return round(sum(int(fields[i]) for i in (11, 12, 13, 14)) / os.sysconf("SC_CLK_TCK"), 1)


def fractions(args) -> dict:
    from notebot.ingest.chunk import ChunkerConfig, chunk_document
    from notebot.ingest.load import load_corpus
    from notebot.evaluation.evaluate import evaluate, load_qa
    from notebot.settings import Settings
    from notebot.store.build import build_index
    from notebot.store.cache import cache_key
    from notebot.store.local import LocalIndex

    notes = assemble(args.wide)
    full_cache = args.cache or INDEX / "embed-cache.sqlite"
    chunks = [c for doc in load_corpus(notes) for c in chunk_document(doc, ChunkerConfig())]
    keys = [cache_key("e5-small-q4", c.embed_text) for c in chunks]
    db = sqlite3.connect(f"file:{full_cache}?mode=ro", uri=True)
    cached = {key for (key,) in db.execute("SELECT key FROM vectors")}
    db.close()
    results = {"chunks": len(keys)}
    for fraction in args.fractions:
        first = keys[: int(len(keys) * fraction)]
        missing = sum(key not in cached for key in first)
        if missing > 0.02 * len(keys):
            print(f"{fraction:.0%}: skipped, the cache lacks {missing} of the first {len(first)} chunks", file=sys.stderr)
            continue
        index_dir = OUT / f"first-run-at-{int(fraction * 100)}"
        shutil.rmtree(index_dir, ignore_errors=True)
        index_dir.mkdir(parents=True)
        source, copy = sqlite3.connect(f"file:{full_cache}?mode=ro", uri=True), sqlite3.connect(index_dir / "embed-cache.sqlite")
        source.backup(copy)  # consistent even while another build writes the source
        source.close()
        copy.close()
        keep = set(keys[: int(len(keys) * fraction)])  # the background rounds embed in corpus order
        db = sqlite3.connect(index_dir / "embed-cache.sqlite")
        db.executemany("DELETE FROM vectors WHERE key = ?", [(k,) for k in set(keys) - keep])
        db.commit()
        db.close()
        settings = Settings.load(environ={}, corpus_dir=notes, index_dir=index_dir, embedder="e5-small-q4")
        build_index(settings, max_new_embeddings=0)
        index = LocalIndex.load(index_dir)
        row = {"embedded": index.manifest["vectors"]["embedded"], "total": index.manifest["vectors"]["total"],
               "missing_from_cache": missing}
        for qa in args.qa:
            summary = evaluate(index, load_qa(qa), ["hybrid"], settings, answers=True)["modes"]["hybrid"]["all"]
            row[qa.name] = {k: round(summary[k], 3) for k in ("hit@1", "hit@5", "mrr@10", "keyword_accuracy") if summary.get(k) is not None}
        results[f"{int(fraction * 100)}%"] = row
        print(f"{fraction:.0%}: {json.dumps(row)}", file=sys.stderr)
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["serve", "fractions"])
    parser.add_argument("--wide", type=Path, default=ROOT.parent / "shared" / "corpus-wide")
    parser.add_argument("--port", type=int, default=7911)
    parser.add_argument("--first-answer-only", action="store_true", help="serve: stop after the first answer")
    parser.add_argument("--cache", type=Path, help="fractions: the e5 cache to draw vectors from (default: the serve run's)")
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.0, 0.25, 0.5, 1.0])
    parser.add_argument("--qa", type=Path, nargs="+",
                        default=[ROOT.parent / "shared" / "eval" / "dev.jsonl", ROOT.parent / "shared" / "eval" / "dev-wide.jsonl"])
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    results = json.loads(RESULTS.read_text()) if RESULTS.exists() else {}
    key = "serve_first_answer" if args.what == "serve" and args.first_answer_only else args.what
    results[key] = serve(args) if args.what == "serve" else fractions(args)
    results = {**(json.loads(RESULTS.read_text()) if RESULTS.exists() else {}), key: results[key]}  # keep other runs' keys
    RESULTS.write_text(json.dumps(results, ensure_ascii=False, indent=2))
    print(json.dumps(results[key], ensure_ascii=False, indent=2)[:3000])


if __name__ == "__main__":
    main()
