"""Does the evidence hold an answer? Two checks that fail loudly on questions the notes don't cover:

- names: the product/feature names the question asks about (CamelCase, ALLCAPS, Capitalised words
  not opening a sentence) should appear in the top passages;
- answer type: a question asking for a price, a duration or a size needs a number with such a
  unit in the top passages.
Calibrated on the dev set (benchmarks/README.md); returns a reason, or None to answer.
"""

from __future__ import annotations

import re

from ..records import Hit
from ..tokenize import normalize

NAME_SHARE_REQUIRED = 0.5  # refuse when half or more of the question's names are missing
TOP_PASSAGES = 5
VENDOR = re.compile(r"^(?:aws|amazon) (?=\S)")  # notes drop the vendor: "AWS Glue" is "Glue"
NOT_WORD = re.compile(r"[^0-9a-z\u3400-\u9fff]+")
CJK = re.compile(r"[\u3400-\u9fff]")
WORD = re.compile(r"[A-Za-z][A-Za-z0-9\-]*")
SENTENCE_START = re.compile(r"(?:^|[.?!。？！]\s*)$")
COMMON_CAPITALISED = frozenset("i what how why when where which who can does do is are should could would please".split())
UNIT_CHECKS = [
    ("price", re.compile(r"多少钱|多少美元|价格|收费标准|美元|\bprice|\bpricing|how much (?:does|is|do) .*(?:cost|charge)", re.I),
     re.compile(r"\d[\d.,]*\s*(?:美元|刀|元|usd|dollars?|cents?)|\$\s*\d", re.I)),
    ("duration", re.compile(r"多少秒|多少毫秒|多少分钟|多少小时|多久|延迟.*多少|多少.*延迟|latency|how long|how many (?:seconds|minutes|hours|days)", re.I),
     re.compile(r"\d[\d.,]*\s*(?:秒|毫秒|分钟|小时|天|周|年|ms\b|s\b|sec|min|hours?|days?|weeks?|years?)", re.I)),
]


def refusal_reason(question: str, hits: list[Hit]) -> str | None:
    if not hits:
        return "nothing retrieved"
    evidence = normalize(" ".join(hit.chunk.embed_text for hit in hits[:TOP_PASSAGES]))
    names = question_names(question)
    compact = _squash(evidence)
    missing = [name for name in names if _phrase_key(name) not in compact]
    if names and len(missing) / len(names) >= NAME_SHARE_REQUIRED:
        return f"the notes' closest passages never mention {', '.join(missing)}"
    for kind, asks, answers in UNIT_CHECKS:
        if asks.search(question) and not answers.search(evidence):
            return f"the question asks for a {kind} and the closest passages state none"
    return None


def question_names(question: str) -> list[str]:
    """Names: runs of name-like words (CamelCase, ALLCAPS, with digits, or Capitalised
    mid-sentence), so "Azure Data Factory" is one name that must appear as a phrase."""
    names, run, last_end = [], [], -1
    chinese = bool(CJK.search(question))
    for match in WORD.finditer(question):
        word = match.group()
        inner_caps = any(ch.isupper() for ch in word[1:])
        capitalised = word[0].isupper() and (chinese or not SENTENCE_START.search(question[: match.start()]))
        # In a Chinese sentence every Latin word is a term the notes should contain.
        is_name = word.lower() not in COMMON_CAPITALISED and (chinese or inner_caps or capitalised or any(ch.isdigit() for ch in word))
        adjacent = question[last_end : match.start()] == " "
        if is_name and run and adjacent:
            run.append(word)
        else:
            if run:
                names.append(" ".join(run))
            run = [word] if is_name else []
        last_end = match.end()
    if run:
        names.append(" ".join(run))
    return list(dict.fromkeys(names))


def _squash(text: str) -> str:
    """Letters and digits only, so "Glue > DataBrew" and "Glue DataBrew" compare equal."""
    return NOT_WORD.sub("", text)


def _phrase_key(name: str) -> str:
    """Lower-cased, spaces dropped, a plural s dropped: "Kinesis Data Streams" ~ "kinesis data stream"."""
    key = _squash(VENDOR.sub("", normalize(name)))
    return key[:-1] if len(key) > 4 and key.endswith("s") else key
