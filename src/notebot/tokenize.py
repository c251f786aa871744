"""Tokens for the lexical index: English/AWS terms as words, Chinese as overlapping character bigrams.

Bigrams need no dictionary (jieba takes ~0.8 s to load, a third of a cold `notebot search`) and
match Chinese words regardless of how a segmenter would cut them. `jieba-v1` (words from jieba's
search mode) is kept as an alternative so `benchmarks/` can compare the two on the same index.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable

TOKENIZER_NAME = "cjk-bigram-v1"
TOKENIZERS = ("cjk-bigram-v1", "jieba-v1")

CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
RUN = re.compile(rf"[{CJK}]+|[a-z0-9]+(?:[.\-_/+][a-z0-9]+)*")
WORD_PART = re.compile(r"[a-z0-9]+")
ENGLISH_STOPWORDS = frozenset(
    "a an and are as at be by can do does for from how i in is it its of on or that the this to "
    "what when where which who why will with you your".split()
)


def normalize(text: str) -> str:
    return unicodedata.normalize("NFKC", text).lower()


def tokenize(text: str, tokenizer: str = TOKENIZER_NAME) -> list[str]:
    """`S3 的 multi-part 上传` -> ['s3', 'multi-part', 'multi', 'part', 'multipart', '上传', ...]."""
    cut_chinese = _cjk_grams if tokenizer == TOKENIZER_NAME else _jieba_words
    tokens: list[str] = []
    for run in RUN.findall(normalize(text)):
        if "\u3400" <= run[0]:
            tokens.extend(cut_chinese(run))
        else:
            tokens.extend(_word_forms(run))
    return tokens


def chinese_character_counts(texts: Iterable[str]) -> dict[str, int]:
    """How many of the texts hold each Chinese character (the refusal rule weighs a character by
    it: 表/用/个 little, 烧/皇 much). Counted when an index is written, so no query reads every chunk."""
    counts: Counter = Counter()
    for text in texts:
        counts.update(ch for ch in set(text) if "\u3400" <= ch <= "\u9fff")
    return dict(sorted(counts.items()))


def _jieba_words(run: str) -> list[str]:
    import jieba  # optional (the dev extra); only for the jieba-v1 comparison

    jieba.setLogLevel(60)
    return [word for word in jieba.cut_for_search(run) if word.strip()]


def _cjk_grams(run: str) -> list[str]:
    if len(run) == 1:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def _word_forms(run: str) -> list[str]:
    """A compound like `multi-part` or `s3://bucket` also yields its parts and its joined form."""
    if run in ENGLISH_STOPWORDS:
        return []
    parts = [p for p in WORD_PART.findall(run) if p not in ENGLISH_STOPWORDS]
    if len(parts) <= 1:
        return parts if parts == [run] else [run, *parts]
    return [run, *parts, "".join(parts)]


def singulars(word: str) -> list[str]:
    """The singular forms an English plural may have ("replicas" -> "replica", "indexes" -> "index",
    "indexe"; "policies" -> "policy"); empty for a word that does not look plural."""
    if word.endswith("ies"):
        return [word[:-3] + "y"]
    if word.endswith("es"):
        return [word[:-2], word[:-1]]
    if word.endswith("s") and not word.endswith("ss"):
        return [word[:-1]]
    return []


def verb_bases(word: str) -> list[str]:
    """The base forms an English -ed or -ing word may come from ("supported" -> "support",
    "configured" -> "configure", "stopped" -> "stop", "storing" -> "store"); empty for any other.
    A dictionary lists the base form only."""
    for ending in ("ing", "ed"):
        stem = word[: -len(ending)]
        if word.endswith(ending) and len(stem) >= 3:
            doubled = [stem[:-1]] if len(stem) >= 4 and stem[-1] == stem[-2] and stem[-1] not in "aeiouls" else []
            return [stem, stem + "e", *doubled]
    return []

