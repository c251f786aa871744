"""Retrieval quality and speed of notebot against two baselines, on a Q&A set (docs/eval-format.md).

    python benchmarks/retrieval.py                                   # corpus/ alone
    python benchmarks/retrieval.py --distractors ../shared/corpus-wide  # with ~170 distractor notes

Systems, all on the same questions and relevance rule (an evidence string inside the chunk):
  notebot hybrid / vector / lexical  — the shipped index (heading chunks, e5-small-q4, BM25 on CJK bigrams)
  bm25-jieba                         — BM25 alone with jieba words instead of bigrams, same chunks
  naive-langchain                    — RecursiveCharacterTextSplitter 500/50 + e5-small-q4 + FAISS
Indexes live under benchmarks/out/ (git-ignored) and keep their embedding caches between runs.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from notebot.evaluation.evaluate import is_relevant, load_qa
from notebot.store.build import build_index
from notebot.store.local import LocalIndex as Index
from notebot.search import search
from notebot.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--distractors", type=Path, help="a folder of extra notes mixed into the corpus")
    parser.add_argument("--qa", type=Path, default=ROOT.parent / "shared" / "eval" / "dev.jsonl")
    parser.add_argument("--skip-naive", action="store_true", help="skip the LangChain baseline (it re-embeds everything)")
    args = parser.parse_args()

    label = "wide" if args.distractors else "corpus"
    corpus = _assemble(args.corpus, args.distractors, OUT / f"{label}-notes")
    questions = [q for q in load_qa(args.qa) if q.kind != "unanswerable"]
    results = {"label": label, "questions": len(questions), "systems": {}, "speed": {}}

    index_dir = OUT / f"{label}-index"
    started = time.perf_counter()
    report = build_index(Settings.load(corpus_dir=corpus, index_dir=index_dir), progress=_progress)
    results["speed"]["build_seconds"] = round(time.perf_counter() - started, 1)
    results["speed"]["build_embedded"] = report["embedded"]
    index = Index.load(index_dir)
    for mode in ("hybrid", "vector", "lexical"):
        results["systems"][f"notebot-{mode}"] = score(lambda q, m=mode: [h.chunk.text for h in search(index, q, 10, m)], questions)

    jieba_dir = OUT / f"{label}-index-jieba"
    shutil.copytree(index_dir, jieba_dir, dirs_exist_ok=True)  # reuses the embedding cache
    build_index(Settings.load(corpus_dir=corpus, index_dir=jieba_dir, tokenizer="jieba-v1"))
    jieba_index = Index.load(jieba_dir)
    results["systems"]["bm25-jieba"] = score(lambda q: [h.chunk.text for h in search(jieba_index, q, 10, "lexical")], questions)

    if not args.skip_naive:
        naive = NaivePipeline(corpus, OUT / f"{label}-naive-cache.npz")
        results["systems"]["naive-langchain"] = score(naive.search, questions)

    results["speed"].update(latency(index, [q.question for q in questions]))
    print(json.dumps(results, ensure_ascii=False, indent=2))
    (OUT / f"retrieval-{label}.json").write_text(json.dumps(results, ensure_ascii=False, indent=2))


def _assemble(corpus: Path, distractors: Path | None, target: Path) -> Path:
    if distractors is None:
        return corpus
    if target.exists():
        shutil.rmtree(target)
    shutil.copytree(distractors, target)
    shutil.copytree(corpus, target, dirs_exist_ok=True)
    return target


def score(retrieve, questions) -> dict:
    """Hit@1, Hit@5, MRR@10 overall and per language."""
    ranks = {}
    for q in questions:
        texts = retrieve(q.question)
        ranks[q.id] = next((r for r, text in enumerate(texts[:10], 1) if is_relevant(text, q.evidence)), None)
    table = {}
    for lang in ["all", *sorted({q.lang for q in questions})]:
        group = [ranks[q.id] for q in questions if lang in ("all", q.lang)]
        table[lang] = {
            "n": len(group),
            "hit@1": round(sum(r == 1 for r in group) / len(group), 3),
            "hit@5": round(sum(bool(r and r <= 5) for r in group) / len(group), 3),
            "mrr@10": round(sum(1 / r for r in group if r) / len(group), 3),
        }
    return table


def latency(index: Index, queries: list[str]) -> dict:
    search(index, queries[0], 5)  # load the embedder once
    timings = []
    for query in queries * 3:
        started = time.perf_counter()
        search(index, query, 5)
        timings.append((time.perf_counter() - started) * 1000)
    timings.sort()
    return {"query_ms_p50": round(statistics.median(timings), 1), "query_ms_p95": round(timings[int(0.95 * len(timings)) - 1], 1)}


class NaivePipeline:
    """What a user writes by hand: fixed-size splits, the same embedder, a flat FAISS index."""

    def __init__(self, corpus: Path, cache: Path):
        import faiss
        from langchain_text_splitters import RecursiveCharacterTextSplitter

        from notebot.embed import get_embedder
        from notebot.ingest.load import load_corpus

        splitter = RecursiveCharacterTextSplitter(chunk_size=500, chunk_overlap=50)
        self.texts = [piece for doc in load_corpus(corpus) for piece in splitter.split_text(doc.text)]
        self.embedder = get_embedder("e5-small-q4")
        vectors = None
        if cache.exists():
            saved = np.load(cache, allow_pickle=False)
            if list(saved["texts"]) == self.texts:
                vectors = saved["vectors"]
        if vectors is None:
            vectors = np.concatenate([self.embedder.embed_passages(self.texts[i : i + 16]) for i in range(0, len(self.texts), 16)])
            np.savez(cache, texts=np.array(self.texts), vectors=vectors)
        self.index = faiss.IndexFlatIP(vectors.shape[1])
        self.index.add(vectors.astype(np.float32))

    def search(self, query: str) -> list[str]:
        _, ids = self.index.search(self.embedder.embed_queries([query]), 10)
        return [self.texts[i] for i in ids[0] if i >= 0]


def _progress(stage: str, done: int, total: int) -> None:
    if total and (done == total or done % 256 == 0):
        print(f"{stage}: {done}/{total}", file=sys.stderr)


if __name__ == "__main__":
    main()
