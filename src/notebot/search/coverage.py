"""How much of a question a text covers: the question cut into content slots, each weighted by IDF.

The question is cut into content slots: each Latin word (also matched through the Chinese words
the dictionary gives for it, search/dictionary.py), and each Chinese character (matched through
the character bigrams it is part of, the way the lexical index reads Chinese, and through the
English words the notes use for the dictionary words it is part of: 缓冲 by "buffer"). Words that
only shape the question ("多少", "what", "according to the note") are no slots. Every slot is
weighted by its IDF in the notes; a slot the notes never hold is `known` False.

Two readers: the refusal rule (answer/refusal.py: does any passage hold the question?) and the
answer's re-rank of passages (search/retrieve.py: which passage has the line that holds most of it?).
"""

from __future__ import annotations

import math
import re
import weakref
from collections import Counter
from dataclasses import dataclass, replace
from functools import lru_cache

from ..question_words import (FUNCTION_CHARS, GRAMMAR_CHARS, LATIN_WORD, QUESTION_BIGRAMS, QUESTION_WORDS, SUPERLATIVES,
                              bigram_positions)
from ..records import Chunk
from ..store import Index
from ..tokenize import RUN, normalize, singulars, tokenize
from .dictionary import primary_english, translations

# A word the notes never use weighs half its IDF unless it is a name: a lower-case English word
# ("protect") or a Chinese character never beside its neighbours here (攒 of "攒起来", 搞 of "搞技术")
# is how a learner asks as often as what about; an unknown name ("Snowflake") is the subject itself.
# Measured on every set (benchmarks/README.md, 2026-12-04): at half weight, four answerable questions
# asked in everyday words are no longer refused and no unanswerable one is answered; at a quarter, two
# unanswerable ones are.
UNKNOWN_WORD_WEIGHT = 0.5
CJK = re.compile(r"[\u3400-\u9fff]")
# A line that states a number: digits, or a complexity ("O(nlogn)" answers "复杂度是多少").
STATES_NUMBER = re.compile(r"\d|O\([^)]*\)")
ASKING = QUESTION_BIGRAMS | SUPERLATIVES  # "最大多大" asks; its characters are no content slots
CLITIC = re.compile(r"(?<=[A-Za-z0-9])['’](?:s|t|re|ve|ll|d|m)\b")  # "the author's", "don't": no "s" or "t" to look for
ACRONYM_PLURAL = re.compile(r"\b(([A-Z][A-Z0-9]+)s)\b")  # "LSIs", "APIs": an acronym and a plural s
SENTENCE_START = re.compile(r"(?:^|[.?!。？！]\s*)$")
COMMON_CAPITALISED = frozenset("i what how why when where which who can does do is are should could would please".split())


@dataclass(frozen=True)
class Slot:
    """One content unit of the question: a Latin word, or a Chinese character matched through
    the bigrams it belongs to (`candidates`)."""

    text: str
    candidates: tuple[str, ...]
    name: bool = False  # a Latin term written like a name (or any Latin term in a Chinese question)
    words: tuple[str, ...] = ()  # a Chinese character: the 2–4-character spans of the question around it
    plain: bool = False  # a lower-case word a Chinese question writes in English ("coding"): a name its translations also cover


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


def with_translations(slot: Slot, index: Index) -> Slot:
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


@dataclass(frozen=True)
class WeighedSlots:
    """A question's slots, each with its IDF weight and whether the notes hold it at all."""

    slots: tuple[Slot, ...]
    weights: tuple[float, ...]
    known: tuple[bool, ...]
    char_frequencies: dict[str, int]  # a Chinese character slot: how many chunks hold the character

    def covered(self, terms: set[str]) -> tuple[float, list[Slot]]:
        """The weighted share of the slots these terms hold, and the slots they lack."""
        hit_weight, missing = 0.0, []
        for slot, weight in zip(self.slots, self.weights):
            if any(c in terms for c in slot.candidates):
                hit_weight += weight
            else:
                missing.append(slot)
        return hit_weight / (sum(self.weights) or 1.0), missing

    def line_coverage(self, chunk: Chunk, stating_a_number: bool = False) -> float:
        """The best share a single line of the chunk holds, read with its heading path;
        `stating_a_number`: of its lines that state a number (STATES_NUMBER) only."""
        lines = line_terms(chunk.text, tuple(chunk.headings))
        return max((self.covered(terms)[0] for terms, states in lines if states or not stating_a_number), default=0.0)


@lru_cache(maxsize=256)  # ~25 kB a passage in the vault (measured): ~6 MB in all
def line_terms(text: str, headings: tuple[str, ...]) -> tuple[tuple[frozenset[str], bool], ...]:
    """The terms of each line of a passage together with its heading path's, and whether the line
    states a number (read once per passage: the same passages come back question after question)."""
    heading = text_terms(" ".join(headings))
    return tuple((frozenset(heading | text_terms(line)), STATES_NUMBER.search(line) is not None)
                 for line in text.splitlines() if line.strip())


def weigh_slots(question: str, index: Index) -> WeighedSlots:
    """The question's slots weighed in this index, once: an answer's re-rank and its refusal rule
    both read them."""
    weighed = _WEIGHED.setdefault(index, {})
    if question not in weighed:
        if len(weighed) >= WEIGHED_QUESTIONS:
            weighed.clear()
        weighed[question] = _weigh(question, index)
    return weighed[question]


WEIGHED_QUESTIONS = 64
_WEIGHED: "weakref.WeakKeyDictionary[Index, dict[str, WeighedSlots]]" = weakref.WeakKeyDictionary()


def _weigh(question: str, index: Index) -> WeighedSlots:
    slots = [with_translations(slot, index) for slot in question_slots(question)]
    frequencies = _frequencies(index, sorted({c for s in slots for c in s.candidates}))
    char_frequencies = _char_frequencies(index, {s.text for s in slots if CJK.fullmatch(s.text)})
    n_docs = max(len(index), 1)
    idf = lambda df: math.log(1 + (n_docs - df + 0.5) / (df + 0.5))  # noqa: E731
    weights, known = [], []
    for slot in slots:
        found = [frequencies[c] for c in slot.candidates if frequencies.get(c)]
        if slot.text in char_frequencies:
            # A Chinese character weighs what the character itself tells apart: 表/用/个 little, 烧/皇 much.
            weight = idf(char_frequencies[slot.text])
        else:
            weight = idf(min(found)) if found else idf(0)
        weights.append(weight if found or slot.name else weight * UNKNOWN_WORD_WEIGHT)
        known.append(bool(found))
    return WeighedSlots(tuple(slots), tuple(weights), tuple(known), char_frequencies)


def _char_frequencies(index: Index, chars: set[str]) -> dict[str, int]:
    counts = index.character_frequencies
    return {char: counts.get(char, 0) for char in chars}


def _frequencies(index: Index, terms: list[str]) -> dict[str, int]:
    if index.manifest.get("tokenizer", "cjk-bigram-v1") == "cjk-bigram-v1":
        return index.document_frequencies(terms)
    # Another tokenizer's postings don't hold bigrams: they are counted over the chunks once per
    # loaded index (2 s for the 4,210-chunk vault), not per question.
    counts = _BIGRAM_COUNTS.get(index)
    if counts is None:
        counts = _BIGRAM_COUNTS[index] = Counter(term for chunk in index.chunks for term in text_terms(chunk.embed_text))
    return {term: counts[term] for term in terms if counts[term]}


_BIGRAM_COUNTS: "weakref.WeakKeyDictionary[Index, Counter[str]]" = weakref.WeakKeyDictionary()
