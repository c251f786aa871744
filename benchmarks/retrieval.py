"""Retrieval quality and speed of notebot against two baselines, on Q&A sets (../shared/eval/FORMAT.md).

    python benchmarks/retrieval.py                                          # corpus/ alone, dev.jsonl
    python benchmarks/retrieval.py --distractors ../shared/corpus-wide \
        --seed-cache /work/data/wide-index/embed-cache.sqlite              # + the vault: dev and dev-wide

One run measures every setting: dev.jsonl on corpus/ alone; with --distractors, corpus/ + the
distractor notes indexed together, scored on dev.jsonl and on --wide-qa (dev-wide.jsonl).
Systems, all on the same questions and relevance rule (an evidence string inside the chunk):
  notebot hybrid / vector / lexical  — the shipped index (heading chunks, e5-small-q4, BM25 on CJK bigrams);
                                       hybrid adds note-level evidence and the vault glossary (search/)
  notebot hybrid, warmed             — the same index once every line is embedded (as the apps leave it
                                       when idle): hybrid also ranks chunks by their best line
  bm25-jieba                         — BM25 alone with jieba words instead of bigrams, same chunks
  naive-langchain                    — RecursiveCharacterTextSplitter 500/50 + e5-small-q4 + FAISS
Indexes live under benchmarks/out/ (git-ignored) and keep their embedding caches between runs;
--seed-cache copies an existing cache (same embedder, same chunk texts) in before the first build.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import notebot  # noqa: F401  (first: it sets the thread defaults before numpy loads)
import numpy as np

from notebot.answer.ask import retrieve
from notebot.evaluation.evaluate import is_relevant, load_qa
from notebot.search import search
from notebot.search.line_ranking import line_matrix, warm_lines
from notebot.settings import Settings
from notebot.store.build import build_index
from notebot.store.local import CACHE_FILE
from notebot.store.local import LocalIndex as Index

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "benchmarks" / "out"
EVAL = ROOT.parent / "shared" / "eval"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, default=ROOT / "corpus")
    parser.add_argument("--distractors", type=Path, help="a folder of extra notes indexed beside the corpus (the vault)")
    parser.add_argument("--qa", type=Path, default=EVAL / "dev.jsonl", help="questions about --corpus")
    parser.add_argument("--wide-qa", type=Path, default=EVAL / "dev-wide.jsonl", help="questions about the distractor notes")
    parser.add_argument("--seed-cache", type=Path, help="an embedding cache to start the vault index from")
    parser.add_argument("--skip-naive", action="store_true", help="skip the LangChain baseline (it embeds everything again)")
    parser.add_argument("--skip-naive-wide", action="store_true", help="skip it only on the vault (4,724 pieces to embed, ~9 min)")
    args = parser.parse_args()

    runs = [("corpus", args.corpus, None, {"dev": args.qa})]
    if args.distractors:
        runs.append(("wide", args.corpus, args.distractors, {"dev": args.qa, "dev-wide": args.wide_qa}))
    results = {}
    for label, corpus, distractors, qa_sets in runs:
        corpus = _assemble(corpus, distractors, OUT / f"{label}-notes")
        seed = args.seed_cache if distractors else None
        naive = not args.skip_naive and not (distractors and args.skip_naive_wide)
        results[label] = measure(label, corpus, qa_sets, seed, naive)
    print(json.dumps(results, ensure_ascii=False, indent=2))
    print(markdown_table(results))
    (OUT / "retrieval.json").write_text(json.dumps(results, ensure_ascii=False, indent=2))


def measure(label: str, corpus: Path, qa_sets: dict[str, Path], seed: Path | None, naive: bool) -> dict:
    index_dir = OUT / f"{label}-index"
    index_dir.mkdir(parents=True, exist_ok=True)
    if seed and not (index_dir / CACHE_FILE).exists():
        shutil.copy(seed, index_dir / CACHE_FILE)
    started = time.perf_counter()
    report = build_index(Settings.load(corpus_dir=corpus, index_dir=index_dir), progress=_progress)
    speed = {"build_seconds": round(time.perf_counter() - started, 1), "build_embedded": report["embedded"], "chunks": report["chunks"]}
    index = Index.load(index_dir)
    jieba_dir = OUT / f"{label}-index-jieba"
    shutil.copytree(index_dir, jieba_dir, dirs_exist_ok=True)  # reuses the embedding cache
    build_index(Settings.load(corpus_dir=corpus, index_dir=jieba_dir, tokenizer="jieba-v1"))
    jieba_index = Index.load(jieba_dir)
    pipeline = NaivePipeline(corpus, OUT / f"{label}-naive-cache.npz") if naive else None

    result = {"speed": speed, "sets": {}}
    sets = {name: [q for q in load_qa(path) if q.kind != "unanswerable"] for name, path in qa_sets.items()}
    for name, questions in sets.items():
        systems = {}
        for mode in ("hybrid", "vector", "lexical"):
            systems[f"notebot-{mode}"] = score(lambda q, m=mode: [h.chunk.text for h in search(index, q, 10, m)], questions)
        # What `ask` cites (answer/ask.py `retrieve`), ten deep: hybrid, the top 5 re-ranked by their
        # best line, a two-part question's parts each with their best passage.
        systems["notebot-hybrid+lines"] = score(lambda q: ask_sources(index, q), questions)
        systems["bm25-jieba"] = score(lambda q: [h.chunk.text for h in search(jieba_index, q, 10, "lexical")], questions)
        if pipeline:
            systems["naive-langchain"] = score(pipeline.search, questions)
        result["sets"][name] = systems
    # As the apps leave an index once idle: every line embedded and gathered (search/line_ranking.py),
    # so hybrid also ranks chunks by their best line. Lines already in the cache are not embedded again.
    started = time.perf_counter()
    speed["warm_lines_embedded"] = warm_lines(index, should_stop=lambda: False)
    speed["warm_seconds"] = round(time.perf_counter() - started, 1)
    speed["lines"] = len(line_matrix(index).owners)
    for name, questions in sets.items():
        systems = result["sets"][name]
        systems["notebot-hybrid, warmed"] = score(lambda q: [h.chunk.text for h in search(index, q, 10)], questions)
        systems["notebot-hybrid+lines, warmed"] = score(lambda q: ask_sources(index, q), questions)
    speed.update(latency(index, [q.question for questions in sets.values() for q in questions]))
    return result


def ask_sources(index: Index, question: str) -> list[str]:
    return [h.chunk.text for h in retrieve(index, question, Settings(k=10)).hits]


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
    """In-process hybrid search with the query embedding (the index warmed: its line ranking on); and
    with line evidence (what `ask` cites), each question the first time (on a copy of the index
    without its embedding cache, so the lines of its top passages are embedded, search/lines.py)
    and asked again (those lines cached)."""
    search(index, queries[0], 5)  # load the embedder once
    plain = _timings(index, queries * 3)
    with tempfile.TemporaryDirectory() as folder:
        fresh = Path(folder) / "index"
        shutil.copytree(index.index_dir, fresh, ignore=shutil.ignore_patterns(CACHE_FILE, "*.lock"))
        first_time = Index.load(fresh)
        search(first_time, "warm-up", 5, line_evidence=True)
        first = _timings(first_time, queries, line_evidence=True)
        again = _timings(first_time, queries, line_evidence=True)
    return {"query_ms_p50": _p(plain, 50), "query_ms_p95": _p(plain, 95),
            "lines_first_ms_p50": _p(first, 50), "lines_first_ms_p95": _p(first, 95),
            "lines_again_ms_p50": _p(again, 50), "lines_again_ms_p95": _p(again, 95)}


def _timings(index: Index, queries: list[str], line_evidence: bool = False) -> list[float]:
    timings = []
    for query in queries:
        started = time.perf_counter()
        search(index, query, 5, line_evidence=line_evidence)
        timings.append((time.perf_counter() - started) * 1000)
    return sorted(timings)


def _p(timings: list[float], percent: int) -> float:
    return round(statistics.median(timings) if percent == 50 else timings[max(int(percent / 100 * len(timings)) - 1, 0)], 1)


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


def markdown_table(results: dict) -> str:
    """One table per (index, question set): H@1 / H@5 / MRR@10 overall and per language."""
    lines = []
    for label, result in results.items():
        for name, systems in result["sets"].items():
            langs = [lang for lang in ("all", "zh", "en", "mixed") if lang in next(iter(systems.values()))]
            counts = next(iter(systems.values()))
            lines += ["", f"{name} on {label} ({result['speed']['chunks']} chunks)", "",
                      "| system | " + " | ".join(f"{lang} (n={counts[lang]['n']})" for lang in langs) + " |",
                      "|---|" + "---|" * len(langs)]
            for system, table in systems.items():
                cells = [" / ".join(f"{table[lang][m]:.3f}" for m in ("hit@1", "hit@5", "mrr@10")) for lang in langs]
                lines.append(f"| {system} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _progress(stage: str, done: int, total: int) -> None:
    if total and (done == total or done % 256 == 0):
        print(f"{stage}: {done}/{total}", file=sys.stderr)


if __name__ == "__main__":
    main()
