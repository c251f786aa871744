"""Calibrate the refusal rule: its signals per question, a logistic fit, and the trade-off table.

    python benchmarks/refusal.py --index-dir benchmarks/out/index [--fit]

Questions: dev.jsonl (answerable and unanswerable), dev-unanswerable.jsonl, and dev-followups.jsonl
(lines 21–30 are standalone answerable questions, 31–36 off-topic ones; each is read on its own,
as the follow-up resolver leaves them); then, never fitted on, the project's own probe questions
(benchmarks/probes/: number questions the note answers, and near-topic ones it doesn't). Prints, for the shipped rule and for shifted thresholds,
how many unanswerable questions are refused and how many answerable ones wrongly. With --fit it
also fits the coefficients again (L2-regularised logistic regression, classes balanced) and shows
a leave-one-file-out check of how the fitted rule holds on a file it did not see.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from notebot.answer.ask import retrieve
from notebot.answer.refusal import BIAS, COEFFICIENTS
from notebot.settings import Settings
from notebot.store.local import LocalIndex

HERE = Path(__file__).resolve().parent
EVAL = HERE.parent.parent / "shared" / "eval"
SIGNALS = ("unknown", "coverage", "line_coverage", "names_missing", "cosine_margin")


PROBES = HERE / "probes"


def load_questions(eval_dir: Path, fitted: bool = True) -> list[dict]:
    """The dev files' questions (`fitted`), or the probes' (never fitted on)."""
    questions = []
    files = [eval_dir / name for name in ("dev.jsonl", "dev-unanswerable.jsonl", "dev-followups.jsonl")] if fitted else sorted(
        path for path in PROBES.glob("*.jsonl") if not path.name.startswith("vault-"))  # vault-*: questions over ../shared/corpus-wide
    for path in files:
        name = path.name if fitted else f"probes/{path.name}"
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            item = json.loads(line)
            if name == "dev-followups.jsonl" and number <= 20:
                continue  # true follow-ups are not standalone questions
            questions.append({"set": name, "id": item["id"], "question": item["question"],
                              "unanswerable": item["kind"] == "unanswerable"})
    return questions


def signals(index, question: str) -> dict:
    """The rule's signals for one question, gathered as `notebot ask` gathers them."""
    evidence = retrieve(index, question, Settings()).evidence
    return {name: getattr(evidence, name) for name in SIGNALS} | {"unknown_terms": list(evidence.unknown_terms)}


def fit(x: np.ndarray, y: np.ndarray, l2: float = 1.0, steps: int = 5000) -> tuple[float, np.ndarray]:
    """Logistic regression by gradient descent on standardised signals (y = 1 answerable, classes
    balanced, L2 penalty l2/n); returns the bias and coefficients on the raw signals."""
    mean, spread = x.mean(axis=0), x.std(axis=0) + 1e-9
    z = (x - mean) / spread
    weight = np.where(y == 1, 0.5 / y.mean(), 0.5 / (1 - y.mean()))
    w, b = np.zeros(x.shape[1]), 0.0
    for _ in range(steps):
        p = 1 / (1 + np.exp(-(z @ w + b)))
        grad = (p - y) * weight
        w -= 0.3 * (z.T @ grad + l2 * w) / len(y)
        b -= 0.3 * grad.mean()
    return b - float((w * mean / spread).sum()), w / spread


def table(rows: list[dict], scores: np.ndarray, shifts=(-2, -1, -0.5, 0, 0.5, 1, 2)) -> str:
    sets = sorted({r["set"] for r in rows})
    head = "| threshold | " + " | ".join(f"{s} refused (unans.) | {s} wrongly refused (ans.)" for s in sets) + " |"
    lines = [head, "|---" * (1 + 2 * len(sets)) + "|"]
    for shift in shifts:
        cells = []
        for s in sets:
            unans = [sc < shift for r, sc in zip(rows, scores) if r["set"] == s and r["unanswerable"]]
            ans = [sc < shift for r, sc in zip(rows, scores) if r["set"] == s and not r["unanswerable"]]
            cells += [f"{sum(unans)} / {len(unans)}" if unans else "–", f"{sum(ans)} / {len(ans)}" if ans else "–"]
        mark = " (shipped)" if shift == 0 else ""
        lines.append(f"| score < {shift:+g}{mark} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--index-dir", type=Path, default=HERE / "out" / "index")
    parser.add_argument("--eval-dir", type=Path, default=EVAL)
    parser.add_argument("--fit", action="store_true", help="fit the coefficients again and cross-check them")
    parser.add_argument("--dump", type=Path, help="write each question's signals to this JSON file")
    args = parser.parse_args()
    index = LocalIndex.load(args.index_dir)
    rows = [q | signals(index, q["question"]) for q in load_questions(args.eval_dir)]
    probes = [q | signals(index, q["question"]) for q in load_questions(args.eval_dir, fitted=False)]
    if args.dump:
        args.dump.write_text(json.dumps(rows + probes, ensure_ascii=False, indent=1), encoding="utf-8")
    x = np.array([[r[name] for name in SIGNALS] for r in rows])
    y = np.array([0.0 if r["unanswerable"] else 1.0 for r in rows])
    weights = np.array([COEFFICIENTS.get(n, 0.0) for n in SIGNALS])
    shipped = BIAS + x @ weights
    print(f"shipped rule: score = {BIAS:+g} " + " ".join(f"{v:+g}×{n}" for n, v in COEFFICIENTS.items()) + "; refuse when score < 0\n")
    print(table(rows, shipped))
    probe_scores = BIAS + np.array([[r[name] for name in SIGNALS] for r in probes]) @ weights if probes else np.zeros(0)
    if probes:
        print("\nprobes, never fitted on:\n" + table(probes, probe_scores))
    print("\nmisjudged by the shipped rule:")
    for r, s in zip(rows + probes, np.concatenate([shipped, probe_scores])):
        if (s < 0) != r["unanswerable"]:
            print(f"  {r['id']:8s} score {s:+6.2f} " + " ".join(f"{n}={r[n]:.2f}" for n in SIGNALS) + f"  {r['question']}")
    if args.fit:
        used = [SIGNALS.index(n) for n in COEFFICIENTS]
        x = x[:, used]
        b, w = fit(x, y)
        print(f"\nfitted on all: bias {b:+.2f} " + " ".join(f"{n} {v:+.2f}" for n, v in zip(COEFFICIENTS, w)))
        print(table(rows, b + x @ w, shifts=(0,)))
        print("\nleave one file out (fit on the others, judge the held-out file):")
        for held in sorted({r["set"] for r in rows}):
            train = np.array([r["set"] != held for r in rows])
            b, w = fit(x[train], y[train])
            test = ~train
            scores = b + x[test] @ w
            unans, ans = y[test] == 0, y[test] == 1
            print(f"  {held}: refused {int((scores[unans] < 0).sum())} of {int(unans.sum())} unanswerable, "
                  f"wrongly {int((scores[ans] < 0).sum())} of {int(ans.sum())} answerable")


if __name__ == "__main__":
    main()
