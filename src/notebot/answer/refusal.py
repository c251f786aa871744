"""Do the notes hold an answer? Evidence that exists in every language, combined by one small rule.

The question is cut into content slots: each Latin word (also matched through the Chinese words
the dictionary gives for it, search/dictionary.py), and each Chinese character (matched through
the character bigrams it is part of, the way the lexical index reads Chinese, and through the
English words the notes use for the dictionary words it is part of: 缓冲 by "buffer"). Words that
only shape the question ("多少", "what", "according to the note") are no slots. Every slot is
weighted by its IDF in the notes. Then:

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

import math
import re
import weakref
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..question_words import (FUNCTION_CHARS, GRAMMAR_CHARS, LATIN_WORD, QUESTION_BIGRAMS, QUESTION_WORDS, SUPERLATIVES,
                              bigram_positions)
from ..records import Hit
from ..search.dictionary import primary_english, translations
from ..store import Index
from ..tokenize import normalize, singulars, tokenize

TOP_PASSAGES = 5
GENERIC_WORD_WEIGHT = 0.5  # an unknown lower-case English word (e.g. "protect") says less than an unknown name
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

CJK = re.compile(r"[\u3400-\u9fff]")
RUN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+|[a-z0-9]+(?:[.\-_/+][a-z0-9]+)*")
ASKING = QUESTION_BIGRAMS | SUPERLATIVES  # "最大多大" asks; its characters are no content slots
CLITIC = re.compile(r"(?<=[A-Za-z0-9])['’](?:s|t|re|ve|ll|d|m)\b")  # "the author's", "don't": no "s" or "t" to look for
ACRONYM_PLURAL = re.compile(r"\b(([A-Z][A-Z0-9]+)s)\b")  # "LSIs", "APIs": an acronym and a plural s
SENTENCE_START = re.compile(r"(?:^|[.?!。？！]\s*)$")
COMMON_CAPITALISED = frozenset("i what how why when where which who can does do is are should could would please".split())
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
# A question asking for a number: here it wants a default stated with a digit; the answerer
# (extractive.py) prefers lines that state a number. "哪几种" asks which kinds, not how many.
NUMBER_QUESTION = re.compile(r"多少|多大|多久|多长|(?<!哪)几个|(?<!哪)几种|几倍|几份|几[天日秒年次]|几分钟|几个?小时|how (?:much|many|long|big|large|fast|often|quickly)|what (?:size|limit)|max(?:imum)?\b|最大|最小|最多|最长|上限", re.I)


@dataclass(frozen=True)
class Slot:
    """One content unit of the question: a Latin word, or a Chinese character matched through
    the bigrams it belongs to (`candidates`)."""

    text: str
    candidates: tuple[str, ...]
    name: bool = False  # a Latin term written like a name (or any Latin term in a Chinese question)
    words: tuple[str, ...] = ()  # a Chinese character: the 2–4-character spans of the question around it
    plain: bool = False  # a lower-case word a Chinese question writes in English ("coding"): a name its translations also cover


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


def question_slots(question: str) -> list[Slot]:
    slots = []
    names = {word.lower() for name in question_names(question) for word in name.split()}
    acronyms = {plural.lower(): singular.lower() for plural, singular in ACRONYM_PLURAL.findall(question)}
    # A Chinese question's Latin words are all names, but one written in lower case ("destination",
    # "documentation") is an everyday word: its dictionary translations count as mentioning it too.
    plain_words = {word for word in LATIN_WORD.findall(question) if word.islower()} if CJK.search(question) else set()
    for run in RUN.findall(normalize(CLITIC.sub("", question))):
        if run[0] >= "\u3400":
            slots += _cjk_slots(run)
        elif run not in QUESTION_WORDS:
            forms = [form for form in tokenize(run) if form not in QUESTION_WORDS]
            if run not in names:  # a word, not a name: "nodes" is covered by "node" ("Global Tables" is not by "table")
                forms += [singular for form in forms for singular in singulars(form) if singular not in forms]
            elif run in acronyms:  # a name's plural only when it is plainly one: "LSIs" by "LSI"
                forms.append(acronyms[run])
            if forms:
                slots.append(Slot(run, tuple(forms), run in names, plain=run in plain_words))
    return slots


def question_names(question: str) -> list[str]:
    """Names: runs of name-like words (CamelCase, ALLCAPS, with digits, or Capitalised
    mid-sentence), so "Azure Data Factory" is one name that must appear as a phrase."""
    names, run, last_end = [], [], -1
    chinese = bool(CJK.search(question))
    for match in LATIN_WORD.finditer(question):
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


def _cjk_slots(run: str) -> list[Slot]:
    if len(run) == 1:
        return [] if run in FUNCTION_CHARS else [Slot(run, (run,))]
    # The characters of a question word ("多少", "笔记") are no content, nor are the bigrams they
    # form with a neighbour ("设成多少秒": not 成多, 少秒).
    asking = bigram_positions(run, ASKING)
    slots = []
    for i, char in enumerate(run):
        if char in FUNCTION_CHARS or i in asking:
            continue
        grams = [run[j : j + 2] for j in (i - 1, i) if 0 <= j and j + 2 <= len(run) and not {j, j + 1} & asking]
        grams = [g for g in grams if not set(g) & GRAMMAR_CHARS and not set(g) <= FUNCTION_CHARS]
        if grams:
            spans = (run[a:b] for a in range(max(0, i - 3), i + 1) for b in range(max(a + 2, i + 1), min(a + 4, len(run)) + 1))
            words = tuple(w for w in spans if w not in ASKING and not set(w) & GRAMMAR_CHARS)
            slots.append(Slot(char, tuple(grams), words=words))
    return slots


def _with_translations(slot: Slot, index: Index) -> Slot:
    """An English word (not a name, or a plain word of a Chinese question) also counts as covered by
    the Chinese words the dictionary gives for it: "unstable" by 不稳定, when the notes use that word;
    a Chinese character by the English words of the dictionary words it is part of: 缓 and 冲 of 缓冲
    by "buffer"."""
    if slot.name and not slot.plain:
        return slot
    if CJK.search(slot.text):
        extra = [token for word in slot.words for sense in primary_english(index, word) for token in tokenize(sense)]
    else:
        extra = [token for word in translations(index, slot.text) for token in tokenize(word)]
    return replace(slot, candidates=tuple(dict.fromkeys(slot.candidates + tuple(extra)))) if extra else slot


def text_terms(text: str) -> set[str]:
    """The terms a passage or line offers, read the way slots are (CJK bigrams, word forms)."""
    return set(tokenize(text))


def cosine_margin(question: str, cosine: float, embedder_name: str) -> float:
    """How far the best cosine sits above what an unrelated question reaches (0 for embedders not calibrated)."""
    baselines = COSINE_BASELINES.get(embedder_name)
    return cosine - baselines["zh" if CJK.search(question) else "en"] if baselines else 0.0


def gather_evidence(question: str, hits: Sequence[Hit], index: Index, cosine: float | None) -> Evidence:
    """`cosine` None: unknown (the best passage has no vector yet), read as the baseline (margin 0)."""
    slots = [_with_translations(slot, index) for slot in question_slots(question)]
    margin = 0.0 if cosine is None else cosine_margin(question, cosine, index.manifest["embedder"]["name"])
    if not slots:
        return Evidence(0.0, 1.0, 1.0, 0.0, margin, (), ())
    frequencies = _frequencies(index, sorted({c for s in slots for c in s.candidates}))
    char_frequencies = _char_frequencies(index, {s.text for s in slots if CJK.fullmatch(s.text)})
    n_docs = max(len(index), 1)
    idf = lambda df: math.log(1 + (n_docs - df + 0.5) / (df + 0.5))  # noqa: E731
    weights, unknown = [], []
    for slot in slots:
        known = [frequencies[c] for c in slot.candidates if frequencies.get(c)]
        if slot.text in char_frequencies:
            # A Chinese character weighs what the character itself tells apart: 表/用/个 little, 烧/皇 much.
            weight = idf(char_frequencies[slot.text])
        elif known:
            weight = idf(min(known))
        else:
            weight = idf(0) * (1.0 if slot.name else GENERIC_WORD_WEIGHT)
        weights.append(weight)
        if not known:
            unknown.append(slot)
    total = sum(weights)

    def covered(terms: set[str]) -> tuple[float, list[Slot]]:
        hit_weight, missing = 0.0, []
        for slot, weight in zip(slots, weights):
            if any(c in terms for c in slot.candidates):
                hit_weight += weight
            else:
                missing.append(slot)
        return hit_weight / total, missing

    coverage, missing, line_coverage, offered = 0.0, slots, 0.0, set()
    for hit in hits[:TOP_PASSAGES]:
        terms = text_terms(hit.chunk.embed_text)
        offered |= terms
        share, lacking = covered(terms)
        if share > coverage:
            coverage, missing = share, lacking
        heading = text_terms(" ".join(hit.chunk.headings))
        for line in hit.chunk.text.splitlines():
            if line.strip():
                line_coverage = max(line_coverage, covered(heading | text_terms(line))[0])
    names = [s for s in slots if s.name]
    names_missing = sum(not any(c in offered for c in s.candidates) for s in names) / len(names) if names else 0.0
    unknown_terms = tuple(dict.fromkeys(s.text for s in unknown))
    # A word of two or more characters is absent by construction (its first bigram never occurs); a
    # lone character may well occur elsewhere in the notes.
    absent = [term for term in _merge_chinese(unknown_terms, normalize(question)) if not char_frequencies.get(term)]
    return Evidence(sum(w for s, w in zip(slots, weights) if s in unknown) / total, coverage, line_coverage, names_missing,
                    margin, unknown_terms, tuple(dict.fromkeys(s.text for s in missing)), tuple(absent))


def _char_frequencies(index: Index, chars: set[str]) -> dict[str, int]:
    counts = chinese_char_frequencies(index)
    return {char: counts.get(char, 0) for char in chars}


def chinese_char_frequencies(index: Index) -> Counter:
    """How many chunks' text hold each Chinese character: counted once per loaded index, not per
    question (a pass over every chunk costs ~0.6 s in a 4k-chunk vault); apps warm it before a swap."""
    counts = _CHAR_COUNTS.get(index)
    if counts is None:
        every = Counter("".join("".join(set(chunk.text)) for chunk in index.chunks))  # each chunk's distinct characters
        counts = _CHAR_COUNTS[index] = Counter({ch: n for ch, n in every.items() if "\u3400" <= ch <= "\u9fff"})
    return counts


_CHAR_COUNTS: "weakref.WeakKeyDictionary[Index, Counter]" = weakref.WeakKeyDictionary()


def _frequencies(index: Index, terms: list[str]) -> dict[str, int]:
    if index.manifest.get("tokenizer", "cjk-bigram-v1") == "cjk-bigram-v1":
        return index.document_frequencies(terms)
    # Another tokenizer's postings don't hold bigrams: count them in the chunks themselves.
    texts = [text_terms(chunk.embed_text) for chunk in index.chunks]
    return {term: sum(term in t for t in texts) for term in terms}


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
    """A line states the default, in a passage about the question's subject: Redshift's "默认的queue
    并发…是5" says nothing of an SQS default."""
    about = [hit for hit in hits if not names or any(name in normalize(hit.chunk.embed_text) for name in names)]
    lines = (line for hit in about for line in hit.chunk.text.splitlines())
    return any(DEFAULT_WORD.search(line) and (not number or re.search(r"\d", line)) for line in lines)


def _merge_chinese(terms: Sequence[str], question: str) -> list[str]:
    """Chinese characters adjacent in the question read better as one word: 红, 烧, 肉 -> 红烧肉."""
    merged: list[str] = []
    for term in terms:
        if merged and CJK.fullmatch(term) and CJK.fullmatch(merged[-1][-1]) and merged[-1] + term in question:
            merged[-1] += term
        else:
            merged.append(term)
    return merged
