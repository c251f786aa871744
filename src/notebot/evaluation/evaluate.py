"""`notebot eval`: retrieval and answer quality on a Q&A set (format: docs/eval-format.md).

Relevance is evidence-based: a retrieved chunk is relevant when its text contains any of the
question's evidence strings, both normalised (NFKC, whitespace and markdown * _ ` removed,
lower-cased). Passages are ranked as `ask` ranks the ones it cites (answer/ask.py `retrieve`): in
hybrid mode the top 5 re-ranked by their best line, and a two-part question's parts each bring
their best passage.
"""

from __future__ import annotations

import json
import math
import re
import statistics
import sys
import time
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import NotebotError
from ..settings import MODES, Settings

LANGS = ("zh", "en", "mixed")
KINDS = ("fact", "number", "definition", "comparison", "list", "howto", "unanswerable")
CUTOFFS = (1, 3, 5, 10)
METRICS = ("hit@1", "hit@3", "hit@5", "hit@10", "mrr@10", "ndcg@10",
           "keyword_accuracy", "refusal_rate", "wrong_refusal_rate")
MARKUP = re.compile(r"[\s*_`]")


@dataclass(frozen=True)
class Question:
    id: str
    lang: str
    question: str
    file: str
    evidence: tuple[str, ...]
    keywords: tuple[str, ...]
    answer: str
    kind: str
    line: int
    history: tuple[str, ...] = ()  # previous user questions of the conversation, oldest first


@dataclass
class Outcome:
    """What happened to one question in one mode."""

    question: Question
    rank: int | None  # first relevant rank in the top 10
    relevance: list[bool]
    relevant_total: int
    top: dict | None  # the rank-1 chunk, for the failure list
    seconds: float
    answer: dict | None = field(default=None)


def normalize(text: str) -> str:
    return MARKUP.sub("", unicodedata.normalize("NFKC", text)).lower()


def is_relevant(chunk_text: str, evidence) -> bool:
    text = normalize(chunk_text)
    return any(normalize(e) in text for e in evidence)


def hit_at(rank: int | None, k: int) -> float:
    return float(rank is not None and rank <= k)


def mrr_at(rank: int | None, k: int) -> float:
    return 1.0 / rank if rank is not None and rank <= k else 0.0


def ndcg_at(relevance: list[bool], k: int, relevant_total: int) -> float:
    """Binary-relevance nDCG; the ideal ranking puts min(k, relevant chunks in the index) first."""
    dcg = sum(1.0 / math.log2(i + 2) for i, relevant in enumerate(relevance[:k]) if relevant)
    ideal = sum(1.0 / math.log2(i + 2) for i in range(min(k, relevant_total)))
    return dcg / ideal if ideal else 0.0


def load_qa(path: Path) -> list[Question]:
    path = Path(path)
    if not path.is_file():
        raise NotebotError(f"Q&A file {path} does not exist", "pass a JSON-lines file (format: docs/eval-format.md)")
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError:
        raise NotebotError(f"{path} is not UTF-8", "save it as UTF-8") from None
    questions = [_parse(path, number, line) for number, line in enumerate(lines, start=1) if line.strip()]
    if not questions:
        raise NotebotError(f"{path} holds no questions", "add one JSON object per line (format: docs/eval-format.md)")
    return questions


def _parse(path: Path, number: int, line: str) -> Question:
    def bad(problem: str) -> NotebotError:
        return NotebotError(f"{path}:{number}: {problem}", "fix that line (format: docs/eval-format.md)")

    try:
        data = json.loads(line)
    except json.JSONDecodeError as problem:
        raise bad(f"not valid JSON ({problem.msg})") from None
    except RecursionError:
        raise bad("nested too deeply to be a question") from None
    if not isinstance(data, dict):
        raise bad("expected a JSON object")
    for name, kind in (("id", str), ("lang", str), ("question", str), ("kind", str), ("evidence", list), ("keywords", list)):
        if name not in data:
            raise bad(f"missing field {name!r}")
        if not isinstance(data[name], kind):
            raise bad(f"field {name!r} should be a {'string' if kind is str else 'list'}")
    for name in ("file", "answer"):
        if not isinstance(data.get(name, ""), str):
            raise bad(f"field {name!r} should be a string")
    if data["lang"] not in LANGS:
        raise bad(f"unknown lang {data['lang']!r} (use {', '.join(LANGS)})")
    if data["kind"] not in KINDS:
        raise bad(f"unknown kind {data['kind']!r} (use {', '.join(KINDS)})")
    if not data["question"].strip():
        raise bad("the question is empty")
    if not all(isinstance(e, str) and e for e in data["evidence"] + data["keywords"]):
        raise bad("evidence and keywords must be non-empty strings")
    if data["kind"] != "unanswerable" and not data["evidence"]:
        raise bad("an answerable question needs at least one evidence string")
    history = data.get("history", [])
    if not isinstance(history, list) or not all(isinstance(turn, str) and turn.strip() for turn in history):
        raise bad("field 'history' should be a list of the previous questions (non-empty strings)")
    return Question(data["id"], data["lang"], data["question"], data.get("file", ""), tuple(data["evidence"]),
                    tuple(data["keywords"]), data.get("answer", ""), data["kind"], number, tuple(history))


def broken_questions(questions: list[Question], chunks) -> dict[str, str]:
    """Questions whose evidence occurs nowhere in the indexed notes: id -> the missing string."""
    by_file: dict[str, list[str]] = {}
    for chunk in chunks:
        by_file.setdefault(chunk.file, []).append(chunk.text)
    corpus = {file: normalize("\n".join(texts)) for file, texts in by_file.items()}
    everything = "\n".join(corpus.values())
    broken = {}
    for q in questions:
        haystack = corpus.get(q.file, everything) if q.file else everything
        missing = [e for e in q.evidence if normalize(e) not in haystack]
        if missing:
            broken[q.id] = missing[0]
    return broken


def evaluate(index, questions: list[Question], modes: list[str], settings: Settings, answers: bool = False,
             progress=None) -> dict:
    """Run every question in every mode; returns metrics overall, by lang and by kind, per mode."""
    broken = broken_questions(questions, index.chunks)
    usable = [q for q in questions if q.id not in broken]
    relevant_totals = {q.id: sum(is_relevant(c.text, q.evidence) for c in index.chunks) for q in usable if q.evidence}
    results = {"modes": {}, "broken": [{"id": q.id, "line": q.line, "evidence": broken[q.id]} for q in questions if q.id in broken]}
    total = len(modes) * len(usable)
    done = 0
    for mode in modes:
        outcomes = []
        for q in usable:
            outcomes.append(_run_one(index, q, mode, settings, answers, relevant_totals.get(q.id, 0)))
            done += 1
            if progress:
                progress("eval", done, total)
        results["modes"][mode] = summarize(outcomes)
    return results


def _run_one(index, q: Question, mode: str, settings: Settings, answers: bool, relevant_total: int) -> Outcome:
    from dataclasses import replace

    from ..answer import ask
    from ..answer.ask import check_history, follow_conversation

    started = time.perf_counter()
    settings = replace(settings, mode=mode)
    # The passages ask would cite, ten deep: the turn read in its conversation, re-ranked by best
    # line, a two-part question's parts each with their passage (answer/ask.py).
    ranked = replace(settings, k=max(settings.k, 10))
    hits = follow_conversation(index, q.question, check_history(list(q.history)), ranked).hits
    seconds = time.perf_counter() - started
    relevance = [is_relevant(h.chunk.text, q.evidence) for h in hits[:10]] if q.evidence else []
    rank = next((i + 1 for i, relevant in enumerate(relevance) if relevant), None)
    top = hits[0].citation() | {"text": hits[0].chunk.text[:160]} if hits else None
    outcome = Outcome(q, rank, relevance, relevant_total, top, seconds)
    if answers:
        answer = ask(index, q.question, settings, list(q.history))
        text = normalize(answer.text)
        outcome.answer = {"refused": answer.refused, "seconds": answer.timings.get("total_ms", 0) / 1000,
                          "keywords_found": all(normalize(k) in text for k in q.keywords), "text": answer.text,
                          "chars": len(answer.text), "notice": answer.notice,
                          "citations": [f"{h.chunk.file} › {h.chunk.heading_path} › {h.chunk.line_start}-{h.chunk.line_end}"
                                        for h in answer.hits]}
    return outcome


def summarize(outcomes: list[Outcome]) -> dict:
    summary = {"all": _metrics(outcomes)}
    summary["by_lang"] = {lang: _metrics([o for o in outcomes if o.question.lang == lang]) for lang in LANGS
                          if any(o.question.lang == lang for o in outcomes)}
    summary["by_kind"] = {kind: _metrics([o for o in outcomes if o.question.kind == kind]) for kind in KINDS
                          if any(o.question.kind == kind for o in outcomes)}
    summary["failures"] = [
        {"id": o.question.id, "question": o.question.question, "evidence": list(o.question.evidence),
         "rank": o.rank, "top": o.top}
        for o in outcomes if o.question.evidence and o.rank != 1
    ]
    summary["answer_failures"] = [
        {"id": o.question.id, "question": o.question.question, "history": list(o.question.history),
         "kind": o.question.kind, "keywords": list(o.question.keywords), **o.answer}
        for o in outcomes if o.answer and (o.answer["refused"] != (not o.question.evidence)
                                           or (o.question.evidence and not o.answer["keywords_found"]))
    ]
    summary["curves"] = {lang: [_mean([hit_at(o.rank, k) for o in outcomes if o.question.evidence and lang in ("all", o.question.lang)])
                                for k in range(1, 11)] for lang in ("all", *LANGS)}
    return summary


def _metrics(outcomes: list[Outcome]) -> dict:
    answerable = [o for o in outcomes if o.question.evidence]
    metrics = {"questions": len(outcomes), "answerable": len(answerable)}
    for k in CUTOFFS:
        metrics[f"hit@{k}"] = _mean([hit_at(o.rank, k) for o in answerable])
    metrics["mrr@10"] = _mean([mrr_at(o.rank, 10) for o in answerable])
    metrics["ndcg@10"] = _mean([ndcg_at(o.relevance, 10, o.relevant_total) for o in answerable])
    metrics["retrieval_ms_p50"], metrics["retrieval_ms_p95"] = _percentiles([o.seconds * 1000 for o in outcomes])
    answered = [o for o in outcomes if o.answer]
    if answered:
        unanswerable = [o for o in answered if not o.question.evidence]
        with_evidence = [o for o in answered if o.question.evidence]
        correct = [o.answer["keywords_found"] and not o.answer["refused"] for o in with_evidence]
        metrics["keyword_accuracy"] = _mean([float(c) for c in correct])
        metrics["refusal_rate"] = _mean([float(o.answer["refused"]) for o in unanswerable])
        metrics["wrong_refusal_rate"] = _mean([float(o.answer["refused"]) for o in with_evidence])
        metrics["counts"] = {"keywords": [sum(correct), len(with_evidence)],
                             "refused": [sum(o.answer["refused"] for o in unanswerable), len(unanswerable)],
                             "wrongly_refused": [sum(o.answer["refused"] for o in with_evidence), len(with_evidence)]}
        metrics["answer_chars_p50"] = statistics.median(o.answer["chars"] for o in with_evidence if not o.answer["refused"]) \
            if any(not o.answer["refused"] for o in with_evidence) else None
        metrics["answer_ms_p50"], metrics["answer_ms_p95"] = _percentiles([o.answer["seconds"] * 1000 for o in answered])
    return metrics


def _mean(values: list[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def _percentiles(values: list[float]) -> tuple[float | None, float | None]:
    if not values:
        return None, None
    ordered = sorted(values)
    return round(statistics.median(ordered), 1), round(ordered[max(0, math.ceil(0.95 * len(ordered)) - 1)], 1)


# ---- the command ---------------------------------------------------------------------------

def configure_parser(parser) -> None:
    parser.add_argument("qa", type=Path, help="Q&A file, JSON lines (docs/eval-format.md)")
    parser.add_argument("--mode", choices=(*MODES, "all"), help="retrieval mode, or all side by side (default hybrid)")
    parser.add_argument("-k", type=int, help="passages the answerer draws on (retrieval metrics always look at 10)")
    parser.add_argument("--answers", action="store_true", help="also answer each question: keyword accuracy, refusals")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--report", type=Path, help="write a markdown report (with a PNG chart beside it)")
    parser.add_argument("--fail-under", action="append", default=[], metavar="METRIC=VALUE",
                        help="exit 1 when an overall metric falls below VALUE, e.g. hit@5=0.9 (repeatable)")


def parse_thresholds(items: list[str]) -> dict[str, float]:
    thresholds = {}
    for item in items:
        name, _, value = item.partition("=")
        if name not in METRICS:
            raise NotebotError(f"--fail-under {item}: unknown metric {name!r}", f"use one of: {', '.join(METRICS)}")
        try:
            thresholds[name] = float(value)
        except ValueError:
            raise NotebotError(f"--fail-under {item}: {value!r} is not a number", "write it like hit@5=0.9") from None
    return thresholds


def run(args, settings: Settings) -> int:
    from ..progress import ProgressBar
    from ..store import open_index

    thresholds = parse_thresholds(args.fail_under)
    if any(name in ("keyword_accuracy", "refusal_rate", "wrong_refusal_rate") for name in thresholds) and not args.answers:
        raise NotebotError("answer metrics need --answers", "add --answers or drop that --fail-under")
    questions = load_qa(args.qa)
    index = open_index(settings)
    modes = list(MODES) if args.mode == "all" else [settings.mode]
    with ProgressBar() as progress:
        results = evaluate(index, questions, modes, settings, answers=args.answers, progress=progress)
    results["settings"] = settings.redacted()
    results["manifest"] = index.manifest
    results["line_ranking"] = line_ranking_state(index)
    results["qa"] = str(args.qa)
    for item in results["broken"]:
        print(f"warning: {args.qa}:{item['line']}: question {item['id']} is broken: evidence "
              f"{item['evidence']!r} occurs nowhere in the indexed notes (left out of the metrics)", file=sys.stderr)
    if args.report:
        from .report import write_report

        write_report(results, args.report)
        print(f"report written to {args.report}", file=sys.stderr)
    print(json.dumps(_public(results), ensure_ascii=False, indent=2) if args.json else format_table(results))
    return _gate(results, thresholds)


def line_ranking_state(index) -> str:
    """Whether hybrid search also ranked chunks by their best line (every line embedded), for the record."""
    from ..search.line_ranking import line_matrix

    matrix = line_matrix(index)
    return f"on ({len(matrix.owners):,} lines)" if matrix is not None else "off (not every line embedded: notebot index --lines)"


def _public(results: dict) -> dict:
    return {**results, "manifest": {k: v for k, v in results["manifest"].items() if k != "corpus"} | {"corpus": {
        k: v for k, v in results["manifest"]["corpus"].items() if k != "files"}}}


def _gate(results: dict, thresholds: dict[str, float]) -> int:
    failed = 0
    for mode, summary in results["modes"].items():
        for name, minimum in thresholds.items():
            value = summary["all"].get(name)
            if value is None or value < minimum:
                print(f"error: {name} = {value} in mode {mode} is below --fail-under {minimum}", file=sys.stderr)
                failed = 1
    return failed


def format_table(results: dict) -> str:
    from .report import metrics_table, rates_line

    lines = [f"line ranking {results['line_ranking']}"] if "line_ranking" in results else []
    for mode, summary in results["modes"].items():
        lines.append(f"mode {mode}")
        lines.append(metrics_table(summary))
        if rates_line(summary["all"]):
            lines.append(f"answers: {rates_line(summary['all'])}")
        lines.append("")
    if results["broken"]:
        lines.append(f"{len(results['broken'])} broken question(s) left out: " + ", ".join(b["id"] for b in results["broken"]))
    return "\n".join(lines).rstrip()
