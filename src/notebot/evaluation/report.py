"""The evaluation report: markdown tables, failures with what ranked first instead, a Hit@k chart."""

from __future__ import annotations

import json
from pathlib import Path

COLUMNS = ("questions", "hit@1", "hit@3", "hit@5", "hit@10", "mrr@10", "ndcg@10",
           "keyword_accuracy", "refusal_rate", "wrong_refusal_rate", "answer_chars_p50", "retrieval_ms_p50", "answer_ms_p50")
EXPLANATIONS = {
    "hit@k": "share of answerable questions with an evidence passage among the top k retrieved (ranked as answers rank their sources)",
    "mrr@10": "mean of 1 / rank of the first evidence passage (0 when it is not in the top 10)",
    "ndcg@10": "ranking quality of all evidence passages in the top 10 (1 = all of them first)",
    "keyword_accuracy": "share of answerable questions whose answer contains every expected keyword (and was not refused)",
    "refusal_rate": "share of unanswerable questions the answer refused",
    "wrong_refusal_rate": "share of answerable questions the answer refused",
    "answer_chars_p50": "median length of the answers given to answerable questions, in characters",
    "retrieval_ms_p50 / answer_ms_p50": "median time to retrieve / to answer one question",
}


def rates_line(metrics: dict) -> str:
    """The answer rates with their counts: "keywords in 36 of 40 answers; refused 38 of 40 unanswerable; …"."""
    counts = metrics.get("counts")
    if not counts:
        return ""
    parts = [f"expected keywords in {counts['keywords'][0]} of {counts['keywords'][1]} answerable",
             f"refused {counts['refused'][0]} of {counts['refused'][1]} unanswerable",
             f"wrongly refused {counts['wrongly_refused'][0]} of {counts['wrongly_refused'][1]} answerable"]
    return "; ".join(parts)


def metrics_table(summary: dict) -> str:
    """One markdown table: overall, then by language, then by kind."""
    rows = [("all", summary["all"])]
    rows += [(f"lang={lang}", m) for lang, m in summary["by_lang"].items()]
    rows += [(f"kind={kind}", m) for kind, m in summary["by_kind"].items()]
    columns = [c for c in COLUMNS if any(m.get(c) is not None for _, m in rows)]
    lines = ["| group | " + " | ".join(columns) + " |", "|---" * (len(columns) + 1) + "|"]
    for name, metrics in rows:
        lines.append(f"| {name} | " + " | ".join(_cell(metrics.get(c), c) for c in columns) + " |")
    return "\n".join(lines)


def modes_table(results: dict) -> str:
    """Modes side by side, overall and per language."""
    names = ("hit@1", "hit@5", "mrr@10", "ndcg@10")
    modes = list(results["modes"])
    header = "| group | metric | " + " | ".join(modes) + " |"
    lines = [header, "|---" * (len(modes) + 2) + "|"]
    first = results["modes"][modes[0]]
    for group in ["all", *first["by_lang"]]:
        for name in names:
            cells = []
            for mode in modes:
                summary = results["modes"][mode]
                metrics = summary["all"] if group == "all" else summary["by_lang"].get(group, {})
                cells.append(_cell(metrics.get(name)))
            lines.append(f"| {group} | {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _cell(value, column: str = "") -> str:
    if value is None:
        return "–"
    if column == "answer_chars_p50":
        return f"{value:.0f}"
    if column.endswith("_ms_p50") or column.endswith("_ms_p95"):
        return f"{value:.1f}"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


def write_report(results: dict, path: Path) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    chart = path.with_suffix(".png")
    charted = draw_chart(results, chart)
    parts = [f"# notebot evaluation: {results['qa']}", ""]
    manifest = results["manifest"]
    parts += [f"Index: {manifest['counts']['files']} files, {manifest['counts']['chunks']} chunks, embedder "
              f"`{manifest['embedder']['name']}`, tokenizer `{manifest['tokenizer']}`, built {manifest['built_at']}; "
              f"line ranking {results.get('line_ranking', 'off')}.", ""]
    if len(results["modes"]) > 1:
        parts += ["## Modes side by side", "", modes_table(results), ""]
    if charted:
        parts += [f"![Hit@k by mode and language]({chart.name})", ""]
    parts += ["What the metrics mean:", ""] + [f"- **{name}**: {text}" for name, text in EXPLANATIONS.items()] + [""]
    for mode, summary in results["modes"].items():
        parts += [f"## Mode `{mode}`", "", metrics_table(summary), ""]
        if rates_line(summary["all"]):
            parts += [f"Answers: {rates_line(summary['all'])}.", ""]
        parts += _failures(summary["failures"])
        if "answer_failures" in summary and any(m.get("counts") for m in [summary["all"]]):
            parts += _answer_failures(summary["answer_failures"])
    if results["broken"]:
        parts += ["## Broken questions (left out of the metrics)", ""]
        parts += [f"- line {b['line']} `{b['id']}`: evidence `{b['evidence']}` occurs nowhere in the indexed notes" for b in results["broken"]]
        parts.append("")
    parts += ["## Settings", "", "```json", json.dumps(results["settings"], ensure_ascii=False, indent=2), "```", ""]
    parts += ["## Index manifest", "", "```json", json.dumps(manifest, ensure_ascii=False, indent=2), "```", ""]
    path.write_text("\n".join(parts), encoding="utf-8")


def _failures(failures: list[dict]) -> list[str]:
    if not failures:
        return ["No failures: every answerable question had its evidence at rank 1.", ""]
    lines = ["### Not at rank 1", "", "| question | expected evidence | evidence rank | ranked first instead |", "|---|---|---|---|"]
    for f in failures:
        top = f["top"]
        instead = f"{top['file']} › {top['heading_path']} › {top['lines'][0]}-{top['lines'][1]}: {_escape(top['text'][:80])}" if top else "–"
        lines.append(f"| {_escape(f['question'])} | {_escape(' / '.join(f['evidence']))} | {f['rank'] or '>10'} | {instead} |")
    return lines + [""]


def _answer_failures(failures: list[dict]) -> list[str]:
    if not failures:
        return ["No failed answers: every answerable question got its keywords and every unanswerable one was refused.", ""]
    lines = ["### Failed answers", ""]
    for f in failures:
        if not f["keywords"]:
            problem = "answered, but the notes don't hold this (expected a refusal)"
        elif f["refused"]:
            problem = "refused, but the notes hold it (the answer below says why)"
        else:
            problem = "the answer lacks an expected keyword"
        asked = " → ".join([*f.get("history", []), f["question"]])
        lines += [f"#### `{f['id']}` ({f['kind']}): {_escape(asked)}", "",
                  f"- problem: {problem}",
                  f"- expected keywords: {', '.join(f'`{k}`' for k in f['keywords']) or '– (unanswerable)'}",
                  "- answer:", "", *["    " + line for line in f["text"].splitlines()], "",
                  "- citations: " + ("; ".join(f"[{n}] {c}" for n, c in enumerate(f["citations"], start=1)) or "–"), ""]
    return lines


def _escape(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def draw_chart(results: dict, path: Path) -> bool:
    """Hit@k curves per language; False (no chart) when no question is answerable."""
    if not any(v is not None for summary in results["modes"].values() for v in summary["curves"]["all"]):
        return False
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    langs = [lang for lang in ("all", "zh", "en", "mixed")
             if any(v is not None for summary in results["modes"].values() for v in summary["curves"].get(lang, []))]
    figure, axes = plt.subplots(1, len(langs), figsize=(3.2 * len(langs), 3.4), dpi=110, sharey=True, squeeze=False)
    for axis, lang in zip(axes[0], langs):
        for mode, summary in results["modes"].items():
            curve = summary["curves"][lang]
            axis.plot(range(1, 11), [v or 0 for v in curve], marker="o", markersize=3, label=mode)
        axis.set_title(f"questions: {lang}", fontsize=10)
        axis.set_xlabel("k")
        axis.set_xticks(range(1, 11, 3))
        axis.set_ylim(0, 1.02)
        axis.grid(alpha=0.3)
    axes[0][0].set_ylabel("Hit@k (evidence in top k)")
    axes[0][-1].legend(fontsize=8, loc="lower right")
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return True
