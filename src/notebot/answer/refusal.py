"""Do the notes hold an answer? Evidence that exists in every language, combined by one small rule.

The question is cut into content slots weighted by IDF (search/coverage.py: Latin words and
Chinese characters, each also matched through its dictionary translations). Then:

- `unknown`: the weighted share of slots that occur nowhere in the notes ("红烧肉", "SnapStart");
- `coverage`: the weighted share the best retrieved passage holds (heading context included);
- `line_coverage`: the same for the best single line, read with its heading path;
- `names_missing`: the share of the question's names (and, in a Chinese question, its Latin
  terms: a lower-case one also by its translations) that no top passage mentions ("Snowflake",
  "Object Lock");
- `cosine_margin`: the best vector similarity between question and passage, above what an
  unrelated question reaches in that script.

`refusal_reason()` refuses when a logistic score of coverage, names_missing and cosine_margin falls
under zero (`unknown` and `line_coverage` name the reason and are printed by the benchmark), when the
question asks for a price/duration and the passages state none, or when it asks for a default and no
line of them states one. The coefficients are fitted by
`benchmarks/refusal.py` (which prints the trade-off table) and rounded; see benchmarks/README.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from ..records import Hit
from ..question_words import NUMBER_QUESTION
from ..search.coverage import CJK, question_names, text_terms, weigh_slots
from ..store import Index
from ..tokenize import normalize

TOP_PASSAGES = 5
# Logistic rule: score = BIAS + Σ coefficient × signal; refuse when score < 0. Fitted on the dev
# files by benchmarks/refusal.py (L2-regularised, balanced classes; 0 of 50 answerable refused at
# BIAS -1.3, which leaves a margin against the held-out sets), then rounded. A stricter bias (-2.0)
# would refuse 36 of 40 dev-unanswerable for 1 of 50 answerable, but also plain questions like
# "What is the maximum size of a single S3 object?" (benchmarks/README.md, "Refusal").
BIAS = -1.3
COEFFICIENTS = {"coverage": 5.0, "names_missing": -6.0, "cosine_margin": 50.0}
# e5 gives Chinese text higher similarities than English: the best cosine is read against the
# midpoint between the median answerable and the median unanswerable dev question of its script.
COSINE_BASELINES = {"e5-small-q4": {"zh": 0.883, "en": 0.818}}

UNIT_CHECKS = [
    ("price", re.compile(r"多少钱|多少美元|价格|收费标准|美元|\bprice|\bpricing|how much (?:does|is|do) .*(?:cost|charge)", re.I),
     re.compile(r"\d[\d.,]*\s*(?:美元|刀|元|usd|dollars?|cents?)|\$\s*\d", re.I)),
    ("duration", re.compile(r"多少秒|多少毫秒|多少分钟|多少小时|多少天|多久|延迟.*多少|多少.*延迟|latency|how long|how many (?:seconds|minutes|hours|days)", re.I),
     re.compile(r"\d[\d.,]*\s*(?:秒|毫秒|分钟|小时|天|周|年|ms\b|s\b|sec|min|hours?|days?|weeks?|years?)", re.I)),
]
# A question asking what is saved ("能省多少钱", "how much cheaper") is answered by a share as well as a price.
SAVING = re.compile(r"省|便宜|节约|折扣|cheaper|\bsav(?:e|es|ing|ings)\b|discount", re.I)
SHARE = re.compile(r"\d[\d.,]*\s*%|百分之|[一二三四五六七八九]折")

# A question asking for a default ("默认是多少秒？") is answered by a line stating one — with a number
# when it asks for one — not by the subject's other numbers.
DEFAULT_WORD = re.compile(r"默认|缺省|\bdefault", re.I)
CLAUSE_END = re.compile(r"[？?；;。]")


@dataclass(frozen=True)
class Evidence:
    unknown: float
    coverage: float
    line_coverage: float
    names_missing: float  # share of the question's names absent from every top passage
    cosine_margin: float  # best cosine minus the embedder's baseline for the question's script
    unknown_terms: tuple[str, ...]
    missing_terms: tuple[str, ...]  # slots the best passage lacks
    # The unknown slots as the reason names them: adjacent Chinese characters as one word, and no
    # single character the notes do contain ("题" of "练 coding 题": its bigrams are new, not the character).
    absent_terms: tuple[str, ...] = ()

    def score(self) -> float:
        return BIAS + sum(weight * getattr(self, name) for name, weight in COEFFICIENTS.items())


def cosine_margin(question: str, cosine: float, embedder_name: str) -> float:
    """How far the best cosine sits above what an unrelated question reaches (0 for embedders not calibrated)."""
    baselines = COSINE_BASELINES.get(embedder_name)
    return cosine - baselines["zh" if CJK.search(question) else "en"] if baselines else 0.0


def gather_evidence(question: str, hits: Sequence[Hit], index: Index, cosine: float | None) -> Evidence:
    """`cosine` None: unknown (the best passage has no vector yet), read as the baseline (margin 0)."""
    weighed = weigh_slots(question, index)
    slots = weighed.slots
    margin = 0.0 if cosine is None else cosine_margin(question, cosine, index.manifest["embedder"]["name"])
    if not slots:
        return Evidence(0.0, 1.0, 1.0, 0.0, margin, (), ())
    unknown = [slot for slot, known in zip(slots, weighed.known) if not known]
    coverage, missing, line_coverage, offered = 0.0, list(slots), 0.0, set()
    for hit in hits[:TOP_PASSAGES]:
        terms = text_terms(hit.chunk.embed_text)
        offered |= terms
        share, lacking = weighed.covered(terms)
        if share > coverage:
            coverage, missing = share, lacking
        line_coverage = max(line_coverage, weighed.line_coverage(hit.chunk))
    names = [s for s in slots if s.name]
    names_missing = sum(not any(c in offered for c in s.candidates) for s in names) / len(names) if names else 0.0
    unknown_terms = tuple(dict.fromkeys(s.text for s in unknown))
    # A word of two or more characters is absent by construction (its first bigram never occurs); a
    # lone character may well occur elsewhere in the notes.
    absent = [term for term in _merge_chinese(unknown_terms, normalize(question)) if not weighed.char_frequencies.get(term)]
    unknown_weight = sum(w for w, known in zip(weighed.weights, weighed.known) if not known)
    return Evidence(unknown_weight / sum(weighed.weights), coverage, line_coverage, names_missing, margin, unknown_terms,
                    tuple(dict.fromkeys(s.text for s in missing)), tuple(absent))


# Why the notes can't answer, said in the question's language: kind -> (English, Chinese).
REASONS = {
    "nothing": ("nothing was retrieved", "没有检索到任何段落"),
    "absent": ("the notes never mention {terms}", "笔记里从未出现{terms}"),
    "missing": ("the closest passages don't mention {terms}", "最接近的段落都没有提到{terms}"),
    "loose": ("the closest passages are only loosely related to the question", "最接近的段落和问题只是大致相关"),
    "price": ("the question asks for a price and the closest passages state none", "问题问的是价格，最接近的段落里没有写价格"),
    "duration": ("the question asks for a duration and the closest passages state none", "问题问的是时长，最接近的段落里没有写时长"),
    "default": ("the question asks for a default and the closest passages state none", "问题问的是默认值，最接近的段落里没有写默认值"),
}


def refusal_reason(question: str, hits: Sequence[Hit], evidence: Evidence | None, lang: str = "en") -> str | None:
    """Why the notes can't answer, in English or (`lang` zh or mixed) Chinese; None to answer."""
    found = _refusal_kind(question, hits, evidence)
    if found is None:
        return None
    kind, terms = found
    english, chinese = REASONS[kind]
    separator = ", " if lang == "en" else "、"
    listed = separator.join(f"“{t}”" for t in terms[:6])
    return (english if lang == "en" else chinese).format(terms=listed)


def _refusal_kind(question: str, hits: Sequence[Hit], evidence: Evidence | None) -> tuple[str, Sequence[str]] | None:
    if not hits:
        return "nothing", ()
    if evidence is not None and evidence.score() < 0:
        if evidence.absent_terms:
            return "absent", evidence.absent_terms
        if evidence.missing_terms:
            return "missing", _merge_chinese(evidence.missing_terms, normalize(question))
        return "loose", ()
    text = normalize(" ".join(hit.chunk.embed_text for hit in hits[:TOP_PASSAGES]))
    for kind, asks, answers in UNIT_CHECKS:
        if kind == "price" and SAVING.search(question) and SHARE.search(text):
            continue  # "能省多少钱？" is answered by "便宜80%"
        if asks.search(question) and not answers.search(text):
            return kind, ()
    if DEFAULT_WORD.search(question):
        names = [normalize(name) for name in question_names(question)]
        for clause in CLAUSE_END.split(question):  # "…最大多大？它默认是哪种…？": only the clause asking for the default
            if DEFAULT_WORD.search(clause) and not _states_default(hits[:TOP_PASSAGES], bool(NUMBER_QUESTION.search(clause)), names):
                return "default", ()
    return None


def _states_default(hits: Sequence[Hit], number: bool, names: Sequence[str]) -> bool:
    """A line states the default of the question's subject: the line or where it sits (note, headings) names it.
    Redshift's "默认的queue并发…是5" says nothing of an SQS default, nor DAX's "默认5分钟的TTL" of
    Kinesis in a DynamoDB passage that mentions Kinesis elsewhere."""
    for hit in hits:
        where = normalize(hit.chunk.where)
        for line in hit.chunk.text.splitlines():
            if not DEFAULT_WORD.search(line) or (number and not re.search(r"\d", line)):
                continue
            if not names or any(_names(f"{where} {normalize(line)}", name) for name in names):
                return True
    return False


def _names(text: str, name: str) -> bool:
    """The text names the subject: the whole name, or all but one word of a name of three or more
    words (a note under "Auto Scaling Group" speaks of "EC2 Auto Scaling")."""
    if name in text:
        return True
    words = name.split()
    named = sum(re.search(rf"(?<![a-z0-9]){re.escape(word)}(?![a-z0-9])", text) is not None for word in words)
    return len(words) >= 3 and named >= len(words) - 1


def _merge_chinese(terms: Sequence[str], question: str) -> list[str]:
    """Chinese characters adjacent in the question read better as one word: 红, 烧, 肉 -> 红烧肉."""
    merged: list[str] = []
    for term in terms:
        if merged and CJK.fullmatch(term) and CJK.fullmatch(merged[-1][-1]) and merged[-1] + term in question:
            merged[-1] += term
        else:
            merged.append(term)
    return merged
