"""Lines of a passage, their term overlap with a question, and their vectors: the embedder on single
note lines, read with their heading context.

Lines are embedded on demand (only lines of the few passages an answer ranks and draws on) and kept
in the index's embedding cache, keyed like chunks by embedder + text, so a line is embedded once per
index folder. Long-running apps (`notebot serve`, `watch`, `mcp`) also warm that cache in the background
once the index is complete (`warm_line_cache`), so a new question there finds its lines embedded; the
index build itself waits for lines only when asked (`notebot index --lines`). Once all are embedded,
search also ranks chunks by their best line (line_ranking.py). Measured against embedding every
line at index time in benchmarks/README.md.
"""

from __future__ import annotations

import math
import re
import sqlite3
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..progress import Progress, silent
from ..store import Index
from ..store.cache import EmbeddingCache, cache_key
from .dictionary import translations

CACHE_FILE = "embed-cache.sqlite"
# How lines are read (split_lines, line_text): line vectors gathered under another version are
# not used (search/line_ranking.py). 2: a paragraph wholly in bold heads the items after it.
# 3: so does a paragraph ending in a colon ("缺点：" over "- 潜在的性能开销…"), for the list only.
LINES_VERSION = 3
MAX_LINE_CHARS = 320
SENTENCE_END = re.compile(r"(?<=[。；！？])")
LEADING_MARK = re.compile(r"^(?:[-*+]|\d{1,3}[.)])\s+")
# A paragraph set wholly in bold or italics over a list ("**Kinesis Video Stream**" then "- …") is a
# heading in all but name: the items after it, at its own indent too, sit under it. (Over a
# paragraph it is a statement: "**Power=TransmissionRate/Delay**".)
TITLE = re.compile(r"(\*\*|__|\*|_)[^*_\n]+\1")
# A paragraph ending in a colon over a list ("缺点：" then "- …" at its own indent) introduces the
# list: its items are read under it (an item alone, "潜在的性能开销", does not say it is a drawback).
# Unlike a title it is quoted like any line, and the first line after the list that is no item
# steps out of it.
INTRODUCTION_END = ("：", ":")
CODE_CONTENT = re.compile(r"[0-9A-Za-z\u3400-\u9fff]")
MIN_CODE_CHARS = 4  # a code line of fewer letters and digits (")", "else:") says nothing on its own
CODE_COMMENT = ("#", "//")  # a whole-line comment restates the question's words; the code under it answers
TRANSLATED = 0.5  # weight of a dictionary translation of a question word, relative to the word itself
WARM_BATCH = 8  # lines per embedder call when warming the cache: a question waits at most ~0.3 s for one


@dataclass(frozen=True)
class Line:
    hit_number: int  # 1-based position of the hit it came from: its [n]
    position: int  # line position within that hit
    indent: int
    text: str
    line_number: int = 0  # in the note file, 1-based
    parent: str = ""  # the list item this line is nested under: its subject ("常用策略：" over "*cast*：…")
    parent_position: int = -1  # that item's position within its hit, -1 for none
    parent_hit: int = 0  # the hit holding that item when it is not this line's own (a lead-in), else 0
    titled: bool = False  # a paragraph wholly in bold or italics over a list: it heads the items (TITLE)
    code: bool = False  # a line of a code block: quotable on its own, never an item of a list
    statement: int = 0  # a code line: the file line number where its statement starts (brackets, "\\")
    item: bool = False  # a list item ("- …", "1. …")


def split_lines(text: str, hit_number: int = 1, first_line: int = 1, code: bool = False) -> list[Line]:
    """Quotable units with their indent and file line number: no headings, fences or table rules;
    over-long lines are cut at sentence ends only. `code`: the lines of code blocks too (answers
    quote `output_dim=128`; search's line vectors leave code out)."""
    units: list[Line] = []
    fence_indent = None  # inside a code block: the indent of its fence
    open_brackets, statement = 0, 0  # inside a code block: brackets left open, where the statement began
    open_items: list[tuple[float, Line, bool]] = []  # the enclosing items of the current line, outermost first: (depth, line, introduces a list)
    raws = text.splitlines()
    for offset, raw in enumerate(raws):
        line = raw.strip()
        if line.startswith(("```", "~~~")):
            fence_indent = None if fence_indent is not None else len(raw.expandtabs(4)) - len(raw.expandtabs(4).lstrip())
            open_brackets, statement = 0, first_line + offset + 1
            continue
        if fence_indent is not None:
            if open_brackets <= 0 and not raws[offset - 1].rstrip().endswith("\\"):
                statement = first_line + offset  # a new statement: no bracket open, no "\\" before
            open_brackets += sum(line.count(c) for c in "([{") - sum(line.count(c) for c in ")]}")
            if code and len(CODE_CONTENT.findall(line)) >= MIN_CODE_CHARS and len(line) <= MAX_LINE_CHARS and not line.startswith(CODE_COMMENT):
                units.append(Line(hit_number, len(units), fence_indent, line, first_line + offset, code=True, statement=statement))
            continue
        if not line or line.startswith("#") or set(line) <= set("-|: "):
            continue
        indent = len(raw.expandtabs(4)) - len(raw.expandtabs(4).lstrip())
        item = LEADING_MARK.match(line) is not None
        heads_list = not item and _list_follows(raws, offset)
        titled = heads_list and TITLE.fullmatch(line) is not None
        introduces = heads_list and not titled and line.endswith(INTRODUCTION_END)
        line = LEADING_MARK.sub("", line)
        parts = [line] if len(line) <= MAX_LINE_CHARS else [s.strip() for s in SENTENCE_END.split(line) if s.strip()]
        depth = indent - 0.5 if titled or introduces else indent
        while open_items and _leaves(open_items[-1], depth, indent, item):
            open_items.pop()
        parent = open_items[-1][1] if open_items else None
        for part in parts:
            units.append(Line(hit_number, len(units), indent, part, first_line + offset,
                              parent.text if parent else "", parent.position if parent else -1, titled=titled, item=item))
        open_items.append((depth, units[-1], introduces))
    return units


def _leaves(enclosing: tuple[float, Line, bool], depth: float, indent: int, item: bool) -> bool:
    """Whether a line leaves an enclosing one: one at its depth or deeper, or the introduction of a
    list ("缺点：") once a line at its indent is no item."""
    their_depth, _, introduces = enclosing
    return their_depth >= depth or (introduces and not item and their_depth + 0.5 >= indent)


def _list_follows(raws: list[str], offset: int) -> bool:
    following = next((raw.strip() for raw in raws[offset + 1 :] if raw.strip()), "")
    return LEADING_MARK.match(following) is not None


def term_weights(question: str, index: Index) -> dict[str, float]:
    """IDF of each question token that the corpus knows; the dictionary's translations of the
    question's words (search/dictionary.py) count TRANSLATED as much as the words themselves."""
    n_docs = max(len(index), 1)
    own = set(index.tokens(question))
    translated = set(index.tokens(" ".join(translations(index, question)))) - own
    frequencies = index.document_frequencies(sorted(own | translated))
    return {term: (TRANSLATED if term in translated else 1.0) * math.log(1 + (n_docs - df + 0.5) / (df + 0.5))
            for term, df in frequencies.items()}


def overlap(text: str, weights: dict[str, float], index: Index) -> float:
    tokens = set(index.tokens(text))
    return sum(weight for term, weight in weights.items() if term in tokens)


def line_text(heading_path: str, line: str, parent: str = "") -> str:
    """What the embedder reads for a line: its heading path, the item it is nested under, then the line."""
    context = " > ".join(part for part in (heading_path, parent) if part)
    return f"{context}: {line}" if context else line


def line_vectors(index: Index, texts: list[str]) -> np.ndarray:
    """(n, dim) passage vectors for these texts (see line_text), from the cache or embedded now."""
    embedder = index.embedder
    if not texts:
        return np.zeros((0, embedder.dim), np.float32)
    keys = [cache_key(embedder.name, text) for text in texts]
    cache = _open_cache(index)
    known = {}
    if cache is not None:
        try:
            known = cache.get_many(sorted(set(keys)))
        except sqlite3.Error:
            known = {}
    todo = sorted({i for i, key in enumerate(keys) if key not in known or len(known[key]) != embedder.dim},
                  key=lambda i: keys[i])
    todo = list({keys[i]: i for i in todo}.values())  # one embedding per distinct text
    if todo:
        fresh = embedder.embed_passages([texts[i] for i in todo])
        new = {keys[i]: fresh[row] for row, i in enumerate(todo)}
        known.update(new)
        if cache is not None:
            try:
                cache.put_many(new)
            except sqlite3.Error:
                pass  # a busy or read-only cache only costs embedding these lines again next time
    if cache is not None:
        cache.close()
    return np.stack([known[key] for key in keys]).astype(np.float32)


def list_head_before(index: Index, chunk, lines: list[Line], hit_number: int = 1):
    """When `chunk` starts inside a list the chunker split ("SSE-KMS：…" without "**Encryption**："):
    (the chunk before, its lines numbered as hit `hit_number`, the list's head among them), else None."""
    first = next((line for line in lines if not line.code), None)  # a code block is no list item
    if first is None or first.indent == 0 or first.parent_position >= 0:
        return None
    before = index.previous_chunk(chunk)
    if before is None:
        return None
    earlier = split_lines(before.text, hit_number, before.line_start, code=True)  # numbered as answers number them
    heads = [line for line in earlier if line.indent < first.indent and not line.code]
    return (before, earlier, heads[-1]) if heads else None


def orphaned_items(lines: list[Line], head: Line) -> list[int]:
    """Positions of the first lines that belong under `head` but found no parent in their own chunk."""
    orphans = []
    for i, line in enumerate(lines):
        if line.code:
            continue  # a code block inside the list: not an item
        if line.indent <= head.indent:
            break  # the list stepped out
        if line.parent_position < 0:
            orphans.append(i)
    return orphans


def own_line_texts(chunk, lines: list[Line] | None = None) -> list[str]:
    """What the embedder reads for each of a chunk's lines (line_text), each under its own parent."""
    return [line_text(chunk.heading_path, line.text, line.parent) for line in (split_lines(chunk.text) if lines is None else lines)]


def chunk_line_texts(index: Index, chunk) -> list[str]:
    """The texts answers embed for a chunk's lines: each with its own parent, and the items orphaned
    by a split list also under their head from the chunk before, as answers read them."""
    lines = split_lines(chunk.text)
    texts = own_line_texts(chunk, lines)
    found = list_head_before(index, chunk, lines)
    if found:
        head = found[2]
        texts += [line_text(chunk.heading_path, lines[i].text, head.text) for i in orphaned_items(lines, head)]
    return texts


def code_line_texts(chunk) -> list[str]:
    """What the embedder reads for each line of a chunk's code blocks (answers quote them; search
    does not rank by them)."""
    return [line_text(chunk.heading_path, line.text) for line in split_lines(chunk.text, code=True) if line.code]


def warm_line_cache(index: Index, should_stop: Callable[[], bool], batch: int = WARM_BATCH, pause: float = 0.05,
                    progress: Progress = silent, code: bool = False) -> int | None:
    """Embed every line of the index that its cache lacks (`code`: every line of its code blocks),
    `batch` lines at a time, until done or `should_stop()`: afterwards no question waits for its
    lines (~40 ms each on 2 cores). Returns how many were embedded, or None when stopped first.
    The pause between batches hands the embedder to a question waiting for it."""
    cache = _open_cache(index)
    if cache is None:
        return 0
    chunks = index.chunks  # by row, not by iterating: previous_chunk finds a chunk's neighbour by its row
    of_chunk = code_line_texts if code else (lambda chunk: chunk_line_texts(index, chunk))
    texts = list(dict.fromkeys(text for row in range(len(chunks)) for text in of_chunk(chunks[row])))
    keys = [cache_key(index.embedder.name, text) for text in texts]
    try:
        known = cache.get_many(keys)
    except sqlite3.Error:
        return 0
    finally:
        cache.close()
    missing = [text for text, key in zip(texts, keys) if key not in known]
    for start in range(0, len(missing), batch):
        if should_stop():
            return None
        line_vectors(index, missing[start : start + batch])
        progress("code lines" if code else "lines", min(start + batch, len(missing)), len(missing))
        time.sleep(pause)
    return len(missing)


def _open_cache(index: Index) -> EmbeddingCache | None:
    folder = getattr(index, "cache_dir", None)
    if folder is None:
        return None
    try:
        return EmbeddingCache(Path(folder) / CACHE_FILE)
    except (sqlite3.Error, OSError):
        return None
