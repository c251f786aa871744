"""Bilingual term pairs the vault writes down itself, to let a question's words meet the other language.

Learners gloss terms in parentheses — `注意力（Attention）`, `Segment Tree（段树）`, `平均绝对误差（MAE）` —
so the notes of a whole vault hold a glossary of their own. Mined from every chunk (not from one
note), it expands an English question with the Chinese words the notes use for its terms, and a
Chinese question with the English ones; the expansion feeds a separate lexical ranking, so a wrong
pair can only add a weak vote, never change the original query's match.

Mining reads every chunk (seconds at 100k chunks), so stores mine it when they write an index and
keep it beside the index (to_json / from_json): a query never pays for it.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field

from .tokenize import ENGLISH_STOPWORDS, normalize

CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
PAREN = re.compile(r"[（(]([^（()）\n]{1,40})[)）]")
ENGLISH_TERM = re.compile(r"[A-Za-z][A-Za-z0-9 .'\-/+]{0,39}")
CHINESE_TERM = re.compile(rf"[{CJK}]{{2,12}}")
CHINESE_BEFORE = re.compile(rf"[{CJK}]{{2,12}}$")
ENGLISH_BEFORE = re.compile(r"[A-Za-z][A-Za-z0-9.'\-/+]*(?: [A-Za-z0-9.'\-/+]+){0,3}$")
# A Chinese run before a parenthesis starts mid-sentence (人人都知道的哈希表（Hash Table）): the term is
# what follows the last function character, at most MAX_CHINESE characters.
FUNCTION_CHARS = re.compile("[的是了把被即]|称为|叫做|也叫|使用|采用|通过")
MAX_CHINESE = 8
WORD = re.compile(r"[a-z0-9]+")
MAX_COUNTERPARTS = 3


@dataclass
class Glossary:
    """English phrase (lower-case words) <-> Chinese term, each side with its counterparts, most frequent first."""

    english: dict[tuple[str, ...], list[str]] = field(default_factory=dict)
    chinese: dict[str, list[str]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.english)

    def expand(self, query: str) -> list[str]:
        """The other language's terms for the terms the query contains (empty when none)."""
        text = normalize(query)
        words = WORD.findall(text)
        found: list[str] = []
        for size in range(1, 5):
            for start in range(len(words) - size + 1):
                found.extend(self.english.get(tuple(words[start : start + size]), ()))
        for run in re.findall(rf"[{CJK}]+", text):
            for size in range(2, MAX_CHINESE + 1):
                for start in range(len(run) - size + 1):
                    found.extend(self.chinese.get(run[start : start + size], ()))
        return list(dict.fromkeys(found))

    def to_json(self) -> dict:
        return {"english": [[" ".join(words), terms] for words, terms in self.english.items()], "chinese": self.chinese}

    @classmethod
    def from_json(cls, data: dict) -> "Glossary":
        return cls({tuple(words.split()): list(terms) for words, terms in data["english"]},
                   {term: list(words) for term, words in data["chinese"].items()})


def mine_glossary(texts: Iterable[str]) -> Glossary:
    counts: Counter[tuple[tuple[str, ...], str]] = Counter()
    for text in texts:
        for english, chinese in _pairs(text):
            words = tuple(WORD.findall(normalize(english)))
            if words and not (len(words) == 1 and (words[0] in ENGLISH_STOPWORDS or len(words[0]) < 2 or words[0].isdigit())):
                counts[words, chinese] += 1
    english: dict[tuple[str, ...], list[str]] = defaultdict(list)
    chinese: dict[str, list[str]] = defaultdict(list)
    for (words, term), _ in counts.most_common():
        if len(english[words]) < MAX_COUNTERPARTS:
            english[words].append(term)
        if len(chinese[term]) < MAX_COUNTERPARTS:
            chinese[term].append(" ".join(words))
    return Glossary(dict(english), dict(chinese))


def _pairs(text: str) -> Iterable[tuple[str, str]]:
    """(english, chinese) for `中文（English）` and `English（中文）`, full- or half-width parentheses."""
    for match in PAREN.finditer(text):
        inside = match.group(1).strip()
        before = text[max(0, match.start() - 40) : match.start()].rstrip()
        if ENGLISH_TERM.fullmatch(inside) and (chinese := CHINESE_BEFORE.search(before)):
            term = _chinese_term(chinese.group())
            if term:
                yield inside, term
        elif CHINESE_TERM.fullmatch(inside) and (english := ENGLISH_BEFORE.search(before)):
            yield english.group(), inside


def _chinese_term(run: str) -> str:
    term = FUNCTION_CHARS.split(run)[-1][-MAX_CHINESE:]
    return term if len(term) >= 2 else ""
