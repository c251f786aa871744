"""The offline answerer: quote the note lines that best answer the question, with [n] citations.

No model writes anything here: lines are scored against the question with the lexical tokenizer
(IDF-weighted term overlap) and the retriever's ranking, then quoted whole, in note order, so a
number or term is never cut. A chosen list item brings its sub-items along: notes put the
answer to "which styles…?" under a line like "Distribution Styles：".
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass

from ..records import Answer, Hit
from ..store import Index

MAX_LINES = 4  # lines chosen by score; each may bring up to MAX_CHILDREN sub-items
MAX_CHILDREN = 6
MAX_LINE_CHARS = 320
SOURCE_CHUNKS = 3
CONTEXT_LINES = 0  # lines after a chosen line quoted with it, for Chinese questions
CONTEXT_LINES_CROSS_LANGUAGE = 1  # and for English ones, which match Chinese lines only by their terms
CJK = re.compile(r"[\u3400-\u9fff]")
SENTENCE_END = re.compile(r"(?<=[。；！？])")
LEADING_MARK = re.compile(r"^(?:[-*+]|\d{1,3}[.)])\s+")
NUMBER_QUESTION = re.compile(r"多少|多大|多久|多长|几个|几种|how (?:much|many|long|big|large)|what (?:size|limit)|max(?:imum)?\b|最大|最小|上限", re.I)
HAS_NUMBER = re.compile(r"\d")
LEADS = {
    "zh": "根据你的笔记：",
    "en": "From your notes (quoted as written):",
}


@dataclass(frozen=True)
class Line:
    hit_number: int  # 1-based position of the hit it came from: its [n]
    position: int  # line position within that hit, for note order
    indent: int
    text: str


def answer_lines(question: str, hits: list[Hit], index: Index) -> tuple[list[Line], list[Hit]]:
    """The few lines of the top hits that answer the question best, in note order, and the hits
    they cite: a chosen "…：" line whose items were split into the next chunk brings that chunk
    along as an extra source."""
    weights = term_weights(question, index)
    wants_number = bool(NUMBER_QUESTION.search(question))
    by_hit = {n: split_lines(hit.chunk.text, n) for n, hit in enumerate(hits[:SOURCE_CHUNKS], start=1)}
    scored = []
    for n, lines in by_hit.items():
        for line in lines:
            overlap = _overlap(line.text, weights, index)
            boost = 1.5 if wants_number and HAS_NUMBER.search(line.text) else 1.0
            scored.append((overlap * boost / math.sqrt(n), line))
    if not scored:
        return [], hits
    best = max(score for score, _ in scored)
    if best <= 0:
        # Nothing shares a term with the question (typical for English questions over Chinese
        # notes): the retriever's best passage is the best guess; quote its opening lines.
        return by_hit[1][:3], hits
    chosen = sorted((item for item in scored if item[0] >= 0.4 * best), key=lambda item: -item[0])[:MAX_LINES]
    context_lines = CONTEXT_LINES_CROSS_LANGUAGE if not CJK.search(question) else CONTEXT_LINES
    hits = list(hits)
    keep = {(line.hit_number, line.position) for _, line in chosen}
    for _, line in chosen:
        lines = by_hit[line.hit_number]
        children = _children(lines, line)
        last = children[-1] if children else line
        if (children or _introduces(line)) and last.position == len(lines) - 1:
            children += _continuation(index, hits, line, by_hit)  # the list goes on in the next chunk
        if not children and line.position + 1 < len(by_hit[line.hit_number]) and context_lines:
            # Notes elaborate in the next bullet; cross-language questions can't score it lexically.
            children = by_hit[line.hit_number][line.position + 1 : line.position + 1 + context_lines]
        keep.update((c.hit_number, c.position) for c in children)
    return [line for n, lines in by_hit.items() for line in lines if (n, line.position) in keep], hits


def _continuation(index: Index, hits: list[Hit], line: Line, by_hit: dict[int, list[Line]]) -> list[Line]:
    following = index.next_chunk(hits[line.hit_number - 1].chunk)
    if following is None:
        return []
    for n, hit in enumerate(hits, start=1):
        if hit.chunk.id == following.id:
            break
    else:
        hits.append(Hit(following, hits[line.hit_number - 1].score, len(hits) + 1))
        n = len(hits)
    if n not in by_hit:
        by_hit[n] = split_lines(following.text, n)
    lines = by_hit[n]
    # The items continue at the indent they started with, until the list steps back out.
    run = [line for i, line in enumerate(lines) if all(l.indent >= lines[0].indent for l in lines[: i + 1])]
    return run[:MAX_CHILDREN]


def _introduces(line: Line) -> bool:
    return line.text.rstrip().endswith(("：", ":"))


def _children(lines: list[Line], parent: Line) -> list[Line]:
    """The sub-items nested under a line (deeper indent), or the items a `…：` line introduces."""
    introduces = _introduces(parent)
    children = []
    for line in lines[parent.position + 1 :]:
        if line.indent > parent.indent or (introduces and line.indent == parent.indent and not _introduces(line)):
            children.append(line)
            if len(children) == MAX_CHILDREN:
                break
        else:
            break
    return children


def term_weights(question: str, index: Index) -> dict[str, float]:
    """IDF of each question token that the corpus knows."""
    n_docs = max(len(index), 1)
    frequencies = index.document_frequencies(sorted(set(index.tokens(question))))
    return {term: math.log(1 + (n_docs - df + 0.5) / (df + 0.5)) for term, df in frequencies.items()}


def _overlap(text: str, weights: dict[str, float], index: Index) -> float:
    tokens = set(index.tokens(text))
    return sum(weight for term, weight in weights.items() if term in tokens)


def split_lines(text: str, hit_number: int = 1) -> list[Line]:
    """Quotable units with their indent: no headings, fences or table rules; over-long lines are
    cut at sentence ends only."""
    units: list[Line] = []
    in_fence = False
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith(("```", "~~~")):
            in_fence = not in_fence
            continue
        if not line or line.startswith("#") or in_fence or set(line) <= set("-|: "):
            continue
        indent = len(raw.expandtabs(4)) - len(raw.expandtabs(4).lstrip())
        line = LEADING_MARK.sub("", line)
        parts = [line] if len(line) <= MAX_LINE_CHARS else [s.strip() for s in SENTENCE_END.split(line) if s.strip()]
        for part in parts:
            units.append(Line(hit_number, len(units), indent, part))
    return units


class ExtractiveAnswerer:
    """The default Answerer: offline, deterministic, quotes the notes."""

    name = "extractive"

    def __init__(self, index: Index):
        self.index = index

    def stream(self, answer: Answer, history=None) -> Iterator[Answer]:
        lines, answer.hits = answer_lines(answer.search_query, answer.hits, self.index)
        for shown in range(1, len(lines) + 1):  # line by line, so a UI shows it arrive like any other answer
            answer.text = compose(answer.lang, lines[:shown], base=min(line.indent for line in lines))
            yield answer
        if not lines:
            answer.text = compose(answer.lang, [])
            yield answer


def compose(lang: str, lines: list[Line], base: int | None = None) -> str:
    """The lead line, then the quoted lines as a list, nested as in the note, each with its [n]."""
    lead = LEADS["en" if lang == "en" else "zh"]
    base = min((line.indent for line in lines), default=0) if base is None else base
    body = "\n".join(f"{'  ' * min((line.indent - base) // 2, 3)}- {line.text} [{line.hit_number}]" for line in lines)
    return f"{lead}\n{body}"
