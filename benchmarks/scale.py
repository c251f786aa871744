"""How the stores scale, and whether Milvus answers as well as local.

    python benchmarks/scale.py --chunks 10000 100000 --stores local milvus   # scale table (hash embedder)
    python benchmarks/scale.py --chunks 1000000 --stores local                 # 1M (13 min, 6.5 GB peak)
    python benchmarks/scale.py --chunks 100000 --stores local --searches-only benchmarks/out   # searches again
    python benchmarks/scale.py --parity [--distractors ../shared/corpus-wide]  # quality, e5-small-q4

Scale: real chunk texts of ../shared/corpus-wide (4,213 chunks), copied into as many folders as
needed (copy-00/, copy-01/, … so every chunk has its own id and file), indexed with the `hash`
embedder (vectors are not what is measured). Per size and store: `notebot index` time, size of
the data (without the embedding cache), the index process's peak RSS, a cold `notebot search`
process (median of 3) and its peak RSS, and in-process hybrid/lexical/vector search p50/p95 (vector =
exact flat search over every vector), each row with the load average at its start and end.

Parity: Hit@5 / MRR@10 of hybrid, vector and lexical search, local vs milvus built from the same
embedding cache, on ../shared/eval/dev.jsonl (answerable questions); `milvus` runs BM25 over
notebot's own tokens (the default), `milvus-jieba` over the text with Milvus's jieba analyzer.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"
WIDE = ROOT.parent / "shared" / "corpus-wide"
WIDE_CHUNKS = 4213
QUERIES = ["DynamoDB 的 item 最大多大？", "Can Firehose store data?", "S3 对象最大可以多大", "What does Glue DataBrew do?",
           "Kinesis Data Streams 和 SQS 的区别", "How does Redshift distribute data?", "EFS 支持 Windows 吗", "Lambda timeout limit"]


def notebot(*args: str) -> tuple[float, float, str]:
    """(seconds, peak MB, stdout) of one `notebot …` process; the peak is that child's own (wait4)."""
    import tempfile

    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen([sys.executable, "-m", "notebot", *args], stdout=out, stderr=err)
        _, status, usage = os.wait4(process.pid, 0)
        seconds = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        out.seek(0), err.seek(0)
        if process.returncode:
            raise SystemExit(f"notebot {' '.join(args)} failed: {err.read().decode().strip()}")
        return seconds, usage.ru_maxrss / 1024, out.read().decode()


def assemble(chunks: int, wide: Path) -> Path:
    copies = -(-chunks // WIDE_CHUNKS)
    target = OUT / f"scale-notes-{copies}"
    if not target.exists():
        for i in range(copies):
            shutil.copytree(wide, target / f"copy-{i:02d}")
    return target


def folder_size(path: Path, skip: str = "embed-cache.sqlite") -> float:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and p.name != skip) / 2**20


def in_process(index_dir: Path) -> dict:
    from notebot.search import search
    from notebot.settings import Settings
    from notebot.store import open_index

    index = open_index(Settings.load(environ={}, index_dir=index_dir))
    result = {}
    for mode in ("hybrid", "lexical", "vector"):
        search(index, QUERIES[0], 5, mode)
        timings = []
        for query in QUERIES * 5:
            started = time.perf_counter()
            search(index, query, 5, mode)
            timings.append((time.perf_counter() - started) * 1000)
        timings.sort()
        result[f"{mode}_p50_ms"] = round(statistics.median(timings), 1)
        result[f"{mode}_p95_ms"] = round(timings[int(len(timings) * 0.95) - 1], 1)
    close = getattr(getattr(index, "store", None), "close", None)
    if close:
        close()  # one process per Lite file: let the cold searches below open it
    return result


def scale(sizes: list[int], stores: list[str], wide: Path, searches_only: bool = False, out: Path = OUT) -> list[dict]:
    rows = []
    for size in sizes:
        notes = None if searches_only else assemble(size, wide)
        for store in stores:
            index_dir = out / f"scale-index-{store}-{size}"
            load_before = os.getloadavg()[0]
            row = {"store": store}
            if not searches_only:
                shutil.rmtree(index_dir, ignore_errors=True)
                seconds, peak, _ = notebot("index", str(notes), "--index-dir", str(index_dir), "--embedder", "hash", "--store", store)
                row.update({"index_s": round(seconds, 1), "index_peak_mb": round(peak), "size_mb": round(folder_size(index_dir), 1)})
            manifest = json.loads(notebot("info", "--json", "--index-dir", str(index_dir))[2])
            row["chunks"] = manifest["counts"]["chunks"]
            row.update(in_process(index_dir))
            cold = [notebot("search", query, "--index-dir", str(index_dir)) for query in QUERIES[:3]]
            row["cold_search_s"] = round(statistics.median(s for s, _, _ in cold), 2)
            row["cold_search_peak_mb"] = round(max(mb for _, mb, _ in cold))
            row["load"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
            rows.append(row)
            print(json.dumps(row), flush=True)
    return rows


def parity(distractors: Path | None, qa: Path, cache: Path | None) -> dict:
    sys.path.insert(0, str(Path(__file__).parent))
    from retrieval import _assemble, score

    from notebot.evaluation.evaluate import load_qa
    from notebot.search import search
    from notebot.settings import Settings
    from notebot.store import open_index
    from notebot.store.build import build_index
    from notebot.store.local import CACHE_FILE

    label = "wide" if distractors else "corpus"
    corpus = _assemble(ROOT / "corpus", distractors, OUT / f"parity-{label}-notes")
    questions = [q for q in load_qa(qa) if q.kind != "unanswerable"]
    results = {}
    from notebot.store import milvus

    for store in ("local", "milvus", "milvus-jieba"):
        milvus.LEXICAL_FIELD = "text" if store == "milvus-jieba" else "terms"
        index_dir = OUT / f"parity-{label}-{store}"
        shutil.rmtree(index_dir, ignore_errors=True)
        index_dir.mkdir(parents=True)
        if cache and cache.exists():
            shutil.copy(cache, index_dir / CACHE_FILE)
        report = build_index(Settings.load(environ={}, corpus_dir=corpus, index_dir=index_dir, store=store.split("-")[0]))
        index = open_index(Settings.load(environ={}, index_dir=index_dir))
        results[store] = {"embedded": report["embedded"]}
        for mode in ("hybrid", "vector", "lexical"):
            table = score(lambda q, m=mode: [h.chunk.text for h in search(index, q, 10, m)], questions)["all"]
            results[store][mode] = {"hit@5": table["hit@5"], "mrr@10": table["mrr@10"], "hit@1": table["hit@1"]}
        cache = index_dir / CACHE_FILE  # the second store reuses the first one's vectors
        print(json.dumps({store: results[store]}), flush=True)
    return results


def vectors_only(sizes: list[int], dim: int = 384) -> list[dict]:
    """Exact (flat) search vs HNSW on random unit vectors: when does an approximate index pay?"""
    import faiss
    import numpy as np

    rng = np.random.default_rng(0)
    rows = []
    for size in sizes:
        base = rng.standard_normal((size, dim), dtype=np.float32)
        base /= np.linalg.norm(base, axis=1, keepdims=True)
        queries = base[rng.choice(size, 20, replace=False)] + 0.05 * rng.standard_normal((20, dim), dtype=np.float32)
        row = {"vectors": size, "dim": dim}
        timings = []
        for query in queries:
            started = time.perf_counter()
            exact = faiss.knn(query[None, :], base, 50, metric=faiss.METRIC_INNER_PRODUCT)[1]
            timings.append((time.perf_counter() - started) * 1000)
        row["flat_p50_ms"] = round(statistics.median(timings), 1)
        if size <= 200_000:
            started = time.perf_counter()
            hnsw = faiss.IndexHNSWFlat(dim, 32, faiss.METRIC_INNER_PRODUCT)
            hnsw.add(base)
            row["hnsw_build_s"] = round(time.perf_counter() - started, 1)
            timings, recall = [], []
            for query in queries:
                started = time.perf_counter()
                found = hnsw.search(query[None, :], 50)[1]
                timings.append((time.perf_counter() - started) * 1000)
                recall.append(len(set(found[0]) & set(faiss.knn(query[None, :], base, 50, metric=faiss.METRIC_INNER_PRODUCT)[1][0])) / 50)
            row["hnsw_p50_ms"] = round(statistics.median(timings), 2)
            row["hnsw_recall@50"] = round(float(np.mean(recall)), 3)
        rows.append(row)
        print(json.dumps(row), flush=True)
        del base
    return rows


def real_vectors(cache: Path, qa: Path) -> dict:
    """HNSW recall on real e5 vectors: every passage vector of an embedding cache (read-only), the dev
    questions embedded with e5-small-q4 as queries; recall@50 against exact search."""
    import sqlite3
    import urllib.parse

    import faiss
    import numpy as np

    from notebot.embed import get_embedder
    from notebot.evaluation.evaluate import load_qa

    db = sqlite3.connect(f"file:{urllib.parse.quote(str(cache))}?mode=ro", uri=True)
    rows = [np.frombuffer(data, np.float32) for dim, data in db.execute("SELECT dim, data FROM vectors") if dim == 384]
    base = np.stack(rows)
    queries = get_embedder("e5-small-q4").embed_queries([q.question for q in load_qa(qa)]).astype(np.float32)
    exact = faiss.knn(queries, base, 50, metric=faiss.METRIC_INNER_PRODUCT)[1]
    hnsw = faiss.IndexHNSWFlat(base.shape[1], 32, faiss.METRIC_INNER_PRODUCT)
    hnsw.add(base)
    result = {"vectors": len(base), "queries": len(queries)}
    for ef in (16, 64, 256):  # faiss's default efSearch is 16
        hnsw.hnsw.efSearch = ef
        found = hnsw.search(queries, 50)[1]
        for k in (10, 50):
            recall = np.mean([len(set(f[:k]) & set(e[:k])) / k for f, e in zip(found, exact)])
            result[f"hnsw32_ef{ef}_recall@{k}"] = round(float(recall), 3)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--chunks", type=int, nargs="+", default=[10_000, 100_000])
    parser.add_argument("--stores", nargs="+", default=["local", "milvus"], choices=["local", "milvus"])
    parser.add_argument("--wide", type=Path, default=WIDE, help="the real notes to copy (default ../shared/corpus-wide)")
    parser.add_argument("--vectors-only", action="store_true", help="flat vs HNSW search on random vectors at --chunks sizes")
    parser.add_argument("--real-vectors", type=Path, metavar="CACHE", help="HNSW recall on the e5 vectors of an embedding cache")
    parser.add_argument("--searches-only", type=Path, metavar="OUT",
                        help="re-measure the searches of indexes an earlier run left in OUT (e.g. benchmarks/out), without indexing")
    parser.add_argument("--parity", action="store_true", help="quality parity on the dev set instead of the scale table")
    parser.add_argument("--distractors", type=Path, help="with --parity: a folder of extra notes mixed in")
    parser.add_argument("--qa", type=Path, default=ROOT.parent / "shared" / "eval" / "dev.jsonl")
    parser.add_argument("--cache", type=Path, help="with --parity: an embedding cache to start from (copied)")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    if args.real_vectors:
        print(json.dumps(real_vectors(args.real_vectors, args.qa), indent=2))
    elif args.vectors_only:
        print(json.dumps(vectors_only(args.chunks), indent=2))
    elif args.parity:
        print(json.dumps(parity(args.distractors, args.qa, args.cache), indent=2))
    else:
        print(json.dumps(scale(args.chunks, args.stores, args.wide, bool(args.searches_only), args.searches_only or OUT), indent=2))


if __name__ == "__main__":
    main()
