"""The offline answerer: quote the note lines that best answer the question, with [n] citations.

No model writes anything here: each line of the top passages is scored by IDF-weighted term
overlap fused with the embedder's cosine (the line read with its heading path, search/lines.py),
and by the question's kind (a number question wants a number with a unit, a comparison a line on
each side). The best lines are quoted whole, best first, so a number or term is never cut. A
chosen list head brings its items along: notes put the answer to "which styles…?" under a line
like "Distribution Styles：".
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator
from dataclasses import dataclass, replace

from ..records import Answer, Hit
from ..store import Index

MAX_LINES = 5  # lines chosen by score, best first; each may bring its sub-items along
MAX_QUOTED = 8  # lines quoted in all, sub-items included
MAX_CHILDREN = 4
MAX_LINE_CHARS = 320
SOURCE_CHUNKS = 5
KEEP_SHARE = 0.5  # a further line is quoted when it scores at least this share of the best one
# Line score = LEXICAL × (IDF overlap / best overlap) + SEMANTIC × (cosine rescaled over the candidates),
# divided by sqrt(the passage's rank); weights measured on the dev set (benchmarks/README.md).
LEXICAL = 0.5
SEMANTIC = 0.5
SEMANTIC_BUDGET = 16  # lines embedded per question
CJK = re.compile(r"[\u3400-\u9fff]")
SENTENCE_END = re.compile(r"(?<=[。；！？])")
LEADING_MARK = re.compile(r"^(?:[-*+]|\d{1,3}[.)])\s+")
NUMBER_QUESTION = re.compile(r"多少|多大|多久|多长|几个|几种|几倍|几份|how (?:much|many|long|big|large|fast)|what (?:size|limit)|max(?:imum)?\b|最大|最小|最多|最长|上限", re.I)
NUMBER_WITH_UNIT = re.compile(r"\d[\d.,]*\s*(?:[a-z%]{1,5}\b|[秒分时天周月年倍个次万亿kmgt%])", re.I)
LIST_QUESTION = re.compile(r"哪些|哪几|有几种|which (?:\w+ )*(?:are|can|does)|what (?:\w+ )*(?:are|kinds|types)|list\b", re.I)
COMPARISON_QUESTION = re.compile(r"区别|差别|不同|差在|对比|相比|比较|\bvs\.?\b|versus|differ|difference|compare|compared", re.I)
LEADS = {
    "zh": "根据你的笔记：",
    "en": "From your notes (quoted as written):",
}


@dataclass(frozen=True)
class Line:
    hit_number: int  # 1-based position of the hit it came from: its [n]
    position: int  # line position within that hit
    indent: int
    text: str
    line_number: int = 0  # in the note file, 1-based


def question_kind(question: str) -> str:
    """`comparison`, `list`, `number` or `other`: what shape the answering lines should have."""
    if COMPARISON_QUESTION.search(question):
        return "comparison"
    if NUMBER_QUESTION.search(question):
        return "number"
    if LIST_QUESTION.search(question):
        return "list"
    return "other"


def answer_lines(question: str, hits: list[Hit], index: Index, query_vector=None) -> tuple[list[Line], list[Hit]]:
    """The few lines of the top hits that answer the question best, best first (sub-items follow
    their line), and the hits they cite: a chosen "…：" line whose items were split into the next
    chunk brings that chunk along as an extra source."""
    by_hit = {n: split_lines(hit.chunk.text, n, hit.chunk.line_start) for n, hit in enumerate(hits[:SOURCE_CHUNKS], start=1)}
    candidates = [line for lines in by_hit.values() for line in lines]
    if not candidates:
        return [], hits
    scores = score_lines(question, candidates, hits, index, query_vector)
    ranked = sorted(zip(scores, candidates), key=lambda item: -item[0])
    best = ranked[0][0]
    kind = question_kind(question)
    chosen = [line for score, line in ranked if score >= KEEP_SHARE * best][:MAX_LINES]
    if kind == "comparison":
        chosen = _both_sides(question, ranked, chosen, index)
    hits = list(hits)
    quoted: list[Line] = []
    taken = {(line.hit_number, line.position) for line in chosen}
    for line in chosen:
        lines = by_hit[line.hit_number]
        # A line's sub-items come along (notes put the detail there), except under a number
        # question, where only a line announcing its items ("…：") brings them.
        children = _children(lines, line) if kind != "number" or _introduces(line) else []
        last = children[-1] if children else line
        if (children or _introduces(line)) and last.position == len(lines) - 1:
            children += _continuation(index, hits, line, by_hit)  # the list goes on in the next chunk
        # Shown flat, best first, each line's own items indented under it.
        quoted.append(replace(line, indent=0))
        for child in children:
            if (child.hit_number, child.position) not in taken:
                taken.add((child.hit_number, child.position))
                quoted.append(replace(child, indent=2 if child.hit_number != line.hit_number else min(max(child.indent - line.indent, 2), 4)))
        if len(quoted) >= MAX_QUOTED:
            break
    return quoted[:MAX_QUOTED], hits


def score_lines(question: str, lines: list[Line], hits: list[Hit], index: Index, query_vector=None) -> list[float]:
    """Lexical IDF overlap fused with the embedder's cosine on each line read with its heading path."""
    weights = term_weights(question, index)
    # Each line is read with its heading path, so the passage's subject counts for all its lines
    # alike and the line that adds the asked-for detail stands out.
    lexical = [_overlap(f"{hits[line.hit_number - 1].chunk.heading_path} {line.text}", weights, index) for line in lines]
    top_lexical = max(lexical) or 1.0
    semantic = [0.0] * len(lines)
    if query_vector is not None:
        from ..search.lines import line_text, line_vectors

        # Embedding lines costs ~15 ms each on a laptop CPU: only a budget of them, the top passage's
        # first, then the best by terms; their vectors are cached in the index folder.
        order = sorted(range(len(lines)), key=lambda i: (lines[i].hit_number > 1, -lexical[i], lines[i].hit_number, i))
        embedded = order[:SEMANTIC_BUDGET]
        texts = [line_text(hits[lines[i].hit_number - 1].chunk.heading_path, lines[i].text) for i in embedded]
        cosines = line_vectors(index, texts) @ query_vector
        low, high = float(cosines.min()), float(cosines.max())
        for i, cosine in zip(embedded, cosines):
            semantic[i] = (float(cosine) - low) / (high - low) if high > low else 0.0
    wants_number = NUMBER_QUESTION.search(question)
    scores = []
    for line, lex, sem in zip(lines, lexical, semantic):
        score = (LEXICAL * lex / top_lexical + SEMANTIC * sem) / math.sqrt(line.hit_number)
        if wants_number:
            score *= 1.3 if NUMBER_WITH_UNIT.search(line.text) else 0.8
        scores.append(score)
    return scores


def _both_sides(question: str, ranked: list[tuple[float, Line]], chosen: list[Line], index: Index) -> list[Line]:
    """A comparison needs a line on each side: the best line naming each compared term joins in."""
    sides = [term for term in dict.fromkeys(index.tokens(question)) if CJK.search(term) is None and len(term) > 1]
    chosen = list(chosen)
    for term in sides:
        if any(term in index.tokens(line.text) for line in chosen):
            continue
        for _, line in ranked:
            if term in index.tokens(line.text):
                chosen.append(line)
                break
    return chosen[: MAX_LINES + 1]


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
        by_hit[n] = split_lines(following.text, n, following.line_start)
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


def split_lines(text: str, hit_number: int = 1, first_line: int = 1) -> list[Line]:
    """Quotable units with their indent and file line number: no headings, fences or table rules;
    over-long lines are cut at sentence ends only."""
    units: list[Line] = []
    in_fence = False
    for offset, raw in enumerate(text.splitlines()):
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
            units.append(Line(hit_number, len(units), indent, part, first_line + offset))
    return units


class ExtractiveAnswerer:
    """The default Answerer: offline, deterministic, quotes the notes."""

    name = "extractive"

    def __init__(self, index: Index, query_vector=None):
        self.index = index
        self.query_vector = query_vector

    def stream(self, answer: Answer, history=None) -> Iterator[Answer]:
        lines, answer.hits = answer_lines(answer.search_query, answer.hits, self.index, self.query_vector)
        answer.quoted = quoted_line_numbers(lines)
        for shown in range(1, len(lines) + 1):  # line by line, so a UI shows it arrive like any other answer
            answer.text = compose(answer.lang, lines[:shown], base=min(line.indent for line in lines))
            yield answer
        if not lines:
            answer.text = compose(answer.lang, [])
            yield answer


def quoted_line_numbers(lines: list[Line]) -> dict[int, list[int]]:
    """Per citation [n], the note line numbers quoted from it, so a UI can mark them in the source."""
    quoted: dict[int, list[int]] = {}
    for line in lines:
        if line.line_number not in quoted.setdefault(line.hit_number, []):
            quoted[line.hit_number].append(line.line_number)
    return {n: sorted(numbers) for n, numbers in sorted(quoted.items())}


def compose(lang: str, lines: list[Line], base: int | None = None) -> str:
    """The lead line, then the quoted lines as a list, nested as in the note, each with its [n]."""
    lead = LEADS["en" if lang == "en" else "zh"]
    base = min((line.indent for line in lines), default=0) if base is None else base
    body = "\n".join(f"{'  ' * min((line.indent - base) // 2, 3)}- {line.text} [{line.hit_number}]" for line in lines)
    return f"{lead}\n{body}"
