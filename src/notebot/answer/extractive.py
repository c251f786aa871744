"""The offline answerer: quote the note lines that best answer the question, with [n] citations.

No model writes anything here: each line of the top passages is scored by IDF-weighted term
overlap (the question's words, and at half weight their dictionary translations) fused with the
embedder's cosine (the line read with its heading path and the list item it sits under,
search/lines.py), and by the question's kind (a number question wants a number with a unit — the
unit it asks for when it names one: "几天" days, "多大" bytes —, a comparison a line on each side, a
two-part question a line for each part). The best lines — a line of a code block too, shown as
code — are quoted whole, best first, so a number or term is never cut. A chosen list head brings its items
along — notes put the answer to "which styles…?" under a line like "Distribution Styles：" — also
when the chunker split the list from its head or its last items; a list that only its heading heads
("### 编程语言" over "- **Python**：…") is quoted whole when a list question's best line is one of its items.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import replace

from ..question_words import NOTE_TALK, NUMBER_QUESTION, QUESTION_WORDS
from ..records import Answer, Hit
from ..search import embed_queries
from ..search.coverage import question_names
from ..search.lines import Line, line_text, line_vectors, list_head_before, orphaned_items, overlap, split_lines, term_weights
from ..store import Index

MAX_LINES = 5  # lines chosen by score, best first; each may bring its sub-items along
MAX_QUOTED = 8  # lines quoted in all, sub-items included
MAX_CHILDREN = 4
LEAD_CHILDREN = 6  # the best line's own list is quoted whole up to here: it is the answer
ANSWER_BUDGET = 150  # characters quoted before a further chosen line is left out (lines are never cut)
SOURCE_CHUNKS = 5
ASKED_UNIT_FACTOR = 1.5  # a number question's line in the asked unit, against 1.3 for any number (probes: benchmarks/README.md)
KEEP_SHARE = 0.5  # a further line is quoted when it scores at least this share of the best one
# Line score = LEXICAL × (IDF overlap / best overlap) + SEMANTIC × (cosine rescaled over the candidates),
# divided by the passage's prior; weights measured on the dev set (benchmarks/README.md).
LEXICAL = 0.5
SEMANTIC = 0.5
# Which further lines join the lead: a passage of hybrid search is discounted by (the best passage's
# fused score / its own) ** this, so one nearly as strong as the first loses little and one far
# behind loses much; the lead line itself is still chosen with sqrt(rank). 1.5 gives the dev
# questions' median passage the discount sqrt(rank) gave every passage before (their median score
# gap is sqrt(rank) ** 0.55–0.9). Other modes' scores (cosines, BM25) keep sqrt(rank) throughout.
SCORE_GAP_EXPONENT = 1.5
SEMANTIC_BUDGET = 40  # lines embedded per question
CJK = re.compile(r"[\u3400-\u9fff]")
CONTENT = re.compile(r"[0-9A-Za-z\u3400-\u9fff]")
QUESTION_PARTS = re.compile(r"[？?；;]|[，,]\s*(?:and|以及|还有|另外|并且|而且)\s+|[，,]\s*(?=(?:and\s+)?(?:how|what|which|why|when|where|who)\b)", re.I)
MIN_PART_CHARS = 4
# A follow-up leans on what came before (the previous turn, or the previous part of one question):
# pronouns, "各自" / "分别" (each of the things just named), or a bare "and …?" / "那…呢？".
FOLLOW_UP = re.compile(r"^(?:那|那么|还有|各自|分别|两者|二者|and\b|what about\b|how about\b)|它|它们|其|这个|那个|该服务|呢[？?]?$|\b(?:it|its|they|their|them|this|that one)\b", re.I)
NUMBER_WITH_UNIT = re.compile(r"\d[\d.,]*\s*(?:[a-z%]{1,5}\b|[秒分时天周月年倍个次万亿kmgt%])", re.I)
NUMERAL = r"(?:\d[\d.,]*|[一二两三四五六七八九十百千万]+)\**\s*"
TIME_UNITS = r"(?:毫秒|秒|分钟|小时|天|日|周|个月|月|年|ms\b|s\b|sec|mins?\b|minutes?|h\b|hours?|days?|weeks?|months?|years?)"
ASKED_UNITS = [  # what a number question asks for -> the unit its answer is stated in; the first match counts
    (re.compile(r"几天|多少天|几日|多少日|how many days", re.I), re.compile(NUMERAL + r"(?:天|日|days?)", re.I)),
    (re.compile(r"几秒|多少秒|多少毫秒|how many (?:milli)?seconds", re.I), re.compile(NUMERAL + r"(?:毫秒|秒|ms\b|s\b|sec)", re.I)),
    (re.compile(r"多少分钟|几分钟|how many minutes", re.I), re.compile(NUMERAL + r"(?:分钟|mins?\b|minutes?)", re.I)),
    (re.compile(r"几个?小时|多少小时|how many hours", re.I), re.compile(NUMERAL + r"(?:小时|h\b|hours?)", re.I)),
    (re.compile(r"多久|多长时间|how long|how often|how quickly", re.I), re.compile(NUMERAL + TIME_UNITS, re.I)),
    (re.compile(r"多大|大小|容量|how (?:large|big)|\bsize\b|\b[KMGT]B\b", re.I), re.compile(NUMERAL + r"(?:[KMGTP]i?B\b|bytes?|字节)", re.I)),
    (re.compile(r"百分之|多少%|percent", re.I), re.compile(r"\d[\d.,]*\s*%|百分之|percent", re.I)),
    # A count is written in digits: Chinese numerals are as often words ("两个", "一个" = "a").
    (re.compile(r"几个|多少个|几份|几次|几倍|how many|how much", re.I), re.compile(r"\d")),
]
LIST_QUESTION = re.compile(r"哪些|哪几|有几种|which (?:\w+ )*(?:are|can|does)|what (?:\w+ )*(?:are|kinds|types)|list\b", re.I)
COMPARISON_QUESTION = re.compile(r"区别|差别|不同|差在|对比|相比|比较|分别|各自|respectively|\bvs\.?\b|versus|differ|difference|compare|compared", re.I)
CLAUSE = re.compile(r"[，,。；;？?]")
STATEMENT_END = re.compile(r"[。；！？]|[.;!?]\s")  # a sentence ends inside a line
EMPHASIS = re.compile(r"[*_`~]")
IDENTIFIER = re.compile(r"\b[A-Za-z_][A-Za-z0-9_]*\b")
ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)\s*=(?!=)")  # `name = …`, not `name == …`
MAX_DEFINITIONS = 2
LEADS = {
    "zh": "根据你的笔记：",
    "en": "From your notes (quoted as written):",
}


def asked_unit(question: str) -> re.Pattern | None:
    """How the answer to a number question is written: "几天" wants a number of days."""
    return next((unit for asks, unit in ASKED_UNITS if asks.search(question)), None)


def number_factor(text: str, unit: re.Pattern | None) -> float:
    """A number question wants a line stating a number, in the unit it asks for when it names one."""
    if unit is not None and unit.search(text):
        return ASKED_UNIT_FACTOR
    if NUMBER_WITH_UNIT.search(text):
        return 1.3 if unit is None else 1.0
    return 0.8


def question_kind(question: str) -> str:
    """`comparison`, `list`, `number` or `other`: what shape the answering lines should have."""
    if COMPARISON_QUESTION.search(question):
        return "comparison"
    if NUMBER_QUESTION.search(question):
        return "number"
    if LIST_QUESTION.search(question):
        return "list"
    return "other"


def answer_lines(question: str, hits: list[Hit], index: Index, query_vector=None, asked: str | None = None,
                 part_vectors: dict | None = None, fused: bool = False) -> tuple[list[Line], list[Hit]]:
    """The few lines of the top hits that answer the question best, best first (sub-items follow
    their line), and the hits they cite: a list split by the chunker brings the chunk holding its
    head or its further items along as an extra source. `question` is what the lines answer (a
    follow-up: its own words with its subject's names, ask.py with_focus); `asked`, the user's own
    words, decides whether it has two parts;
    `fused`: the hits' scores are hybrid search's, so a passage's prior follows its score gap."""
    hits = list(hits)
    by_hit = {n: split_lines(hit.chunk.text, n, hit.chunk.line_start, code=True) for n, hit in enumerate(hits[:SOURCE_CHUNKS], start=1)}
    retrieved = len(hits)
    ranks = {n: n for n in by_hit}  # a lead-in chunk ranks as the hit it leads into
    lead_ins = [line for n in list(by_hit) for line in _lead_in(index, hits, by_hit, ranks, n)]
    # A paragraph in bold over a list is a heading: context for its items, never quoted itself.
    candidates = [line for n in range(1, min(retrieved, SOURCE_CHUNKS) + 1) for line in by_hit[n]] + lead_ins
    candidates = [line for line in candidates if not line.titled]
    if not candidates:
        return [], hits
    scorer = LineScorer(candidates, hits, index, ranks, fused)
    parts = question_parts(asked or question)
    vectors = _part_vectors(parts, part_vectors or {}, index) if query_vector is not None else {}
    chosen, whole_lists, required = _choose(question, parts, vectors, candidates, scorer, by_hit, index, query_vector)
    quoted = _quote(question, chosen, whole_lists, required, by_hit, hits, index)
    return _drop_unused_sources(quoted, hits, first_extra=retrieved + 1)


def _part_vectors(parts: list[str], known: dict, index: Index) -> dict:
    """The parts' vectors: those retrieval already embedded, the rest embedded now."""
    missing = [part for part in parts if part not in known]
    return {**known, **dict(zip(missing, embed_queries(index, missing)))} if missing else known


def _choose(question, parts, part_vectors, candidates, scorer, by_hit, index, query_vector) -> tuple[list[Line], set[tuple[int, int]], int]:
    """The lines to quote, best first; the list heads among them that are quoted whole; and how many
    of the first lines must be quoted (the lead, each part's and each side's best line, the items of
    a list question's flat list)."""
    scores, lead_scores = scorer.scored(question, query_vector)
    ranked = _distinct(sorted(zip(scores, candidates), key=lambda item: -item[0]))
    best = ranked[0][0]
    lead = max(zip(lead_scores, candidates), key=lambda item: item[0])[1]
    chosen = [lead] + [line for score, line in ranked if score >= KEEP_SHARE * best and _reading(line) != _reading(lead)][: MAX_LINES - 1]
    chosen, whole_lists = _gather_lists(chosen, by_hit, long_lists=question_kind(question) == "list")
    # Each part of a two-part question ("…？它用的是什么协议？") gets its own best line, right after the lead.
    required = [max(zip(scorer.scores(part, part_vectors.get(part), by_rank=False), candidates), key=lambda item: item[0])[1]
                for part in parts]
    if question_kind(question) == "comparison":
        required += _sides(question, ranked, chosen[:1] + required, index)
    # A list question led by an item of a list no line heads: the list's items follow the lead, all quoted.
    items = _flat_list(chosen[0], by_hit[chosen[0].hit_number]) if question_kind(question) == "list" else []
    must = (items if 2 <= len(items) <= LEAD_CHILDREN else []) + required
    chosen = _after_lead(chosen, must)
    needed = 1 + len({_place(line) for line in must} - {_place(chosen[0])})
    return chosen, whole_lists, needed


def _flat_list(lead: Line, lines: list[Line]) -> list[Line]:
    """The items of the list the lead line is an item of, in note order, when no line of its chunk
    heads the list (it is its section's body: "### 编程语言" over "- **Python**：…", "- **Java**：…")
    and no item has sub-items (then it lists topics, each its own answer); else none."""
    if lead.code or not lead.item or lead.parent_position >= 0:
        return []
    in_list = lambda line: not line.code and (line.indent > lead.indent or line.item and line.indent == lead.indent)  # noqa: E731
    start = end = lead.position
    while start > 0 and in_list(lines[start - 1]):
        start -= 1
    while end + 1 < len(lines) and in_list(lines[end + 1]):
        end += 1
    items = lines[start : end + 1]
    return [] if any(line.indent > lead.indent for line in items) else items


def _quote(question, chosen, whole_lists, required, by_hit, hits, index) -> list[Line]:
    """The chosen lines, each followed by its own items, nested as in the note, at most MAX_QUOTED."""
    kind = question_kind(question)
    quoted: list[Line] = []
    taken: set[tuple[int, int]] = set()  # lines already quoted, as a chosen line or as an item of one
    for rank, line in enumerate(chosen):
        if _place(line) in taken:
            continue
        if rank >= required and sum(len(q.text) for q in quoted) >= ANSWER_BUDGET:
            break  # enough said: a further line would only bury the answer
        lines = by_hit[line.hit_number]
        # A line's sub-items come along (notes put the detail there). Under a number question only
        # a line announcing its items ("…：") or a list gathered for its chosen items brings them,
        # and only the items stating a number ("buffer interval，可以从0到900秒"): the others would
        # crowd out the line that answers. The lead line's list is quoted up to LEAD_CHILDREN items.
        whole = _place(line) in whole_lists
        limit = LEAD_CHILDREN if rank == 0 or whole else MAX_CHILDREN
        if line.code:  # a line of code is quoted with the rest of its statement, from where it starts
            head, children = _statement(lines, line, limit)
            line, children = (line, []) if _place(head) in taken else (head, children)
        else:
            children = _children(lines, line, limit)
        if kind == "number" and not line.code:
            children = [child for child in children if any(ch.isdigit() for ch in child.text)] if whole or _introduces(line) else []
        last = children[-1] if children else line
        if (children or _introduces(line)) and last.position == len(lines) - 1:
            children += _continuation(index, hits, line, by_hit)[: limit - len(children)]  # the list goes on in the next chunk
        taken.add(_place(line))
        if _only_announces(line) and all(_place(child) in taken for child in children):
            # "Use Case：" without its items says nothing; after items it heads, it goes before them
            # ("**物联网（IoT）工程师**：" over the "必备技能：…" already quoted).
            quoted = _head_before_items(quoted, line, children)
            continue
        quoted.append(replace(line, indent=0))
        for child in children:
            if _place(child) not in taken:
                taken.add(_place(child))
                quoted.append(replace(child, indent=2 if child.hit_number != line.hit_number else min(max(child.indent - line.indent, 2), 4)))
        if len(quoted) >= MAX_QUOTED:
            break
    quoted = quoted or [replace(chosen[0], indent=0)]  # only bare list heads: the best of them
    return _with_definitions(quoted, by_hit)[:MAX_QUOTED]


def _place(line: Line) -> tuple[int, int]:
    """Where a line sits: its source's number and its position there."""
    return line.hit_number, line.position


def _head_before_items(quoted: list[Line], head: Line, items: list[Line]) -> list[Line]:
    """The quoted lines with `head` put before the first of its items quoted as a line of their own,
    those items (and what is nested under them) one level deeper; unchanged when none was."""
    keys = {_place(item) for item in items}
    start = next((i for i, line in enumerate(quoted) if line.indent == 0 and _place(line) in keys), None)
    if start is None:
        return quoted
    end = start + 1
    while end < len(quoted) and (quoted[end].indent > 0 or _place(quoted[end]) in keys):
        end += 1
    nested = [replace(line, indent=line.indent + 2) for line in quoted[start:end]]
    return quoted[:start] + [replace(head, indent=0)] + nested + quoted[end:]


def _with_definitions(quoted: list[Line], by_hit: dict[int, list[Line]]) -> list[Line]:
    """A quoted statement of code using a name its passage assigns in another statement
    (`TextVectorization(max_tokens=max_vocab_length, …` and `max_vocab_length = 10000`) is preceded
    by that assignment: the value is what a question about the code asks. At most
    MAX_DEFINITIONS, each statement up to MAX_CHILDREN lines."""
    taken = {_place(line) for line in quoted}
    groups: list[list[Line]] = []  # the quoted lines, a statement's quoted lines together
    for line in quoted:
        last = groups[-1][-1] if groups else None
        if last is not None and line.code and last.code and (line.hit_number, line.statement) == (last.hit_number, last.statement):
            groups[-1].append(line)
        else:
            groups.append([line])
    out: list[Line] = []
    added = 0
    for group in groups:
        first = group[0]
        if first.code and added < MAX_DEFINITIONS:
            assigned = {match.group(1) for line in group if (match := ASSIGNMENT.match(line.text))}
            for name in dict.fromkeys(name for line in group for name in IDENTIFIER.findall(line.text)):
                if added == MAX_DEFINITIONS or name in assigned:
                    continue
                definition = next((other for other in by_hit[first.hit_number] if other.code and other.statement != first.statement
                                   and (match := ASSIGNMENT.match(other.text)) and match.group(1) == name), None)
                if definition is None:
                    continue
                head, rest = _statement(by_hit[first.hit_number], definition, MAX_CHILDREN)
                if any(_place(part) in taken for part in (head, *rest)):
                    continue
                taken.update(_place(part) for part in (head, *rest))
                out += [replace(head, indent=first.indent)] + [replace(part, indent=first.indent + 2) for part in rest]
                added += 1
        out += group
    return out


def _lead_in(index: Index, hits: list[Hit], by_hit: dict[int, list[Line]], ranks: dict[int, int], n: int) -> list[Line]:
    """When hit n starts inside a list the chunker split ("SSE-KMS：…" without "**Encryption**："),
    the list's head and its first items, from the chunk before, join as an extra source ranked as
    hit n, and the orphaned items learn their head. Returns the lines that joined."""
    lines = by_hit[n]
    m = len(hits) + 1
    found = list_head_before(index, hits[n - 1].chunk, lines, hit_number=m)
    if found is None:
        return []
    before, earlier, head = found
    # The chunk before may be a source already: its lines are candidates, the items only learn their head.
    known = next((k for k in by_hit if hits[k - 1].chunk.id == before.id), None)
    if known is None:
        hits.append(Hit(before, hits[n - 1].score, m))
        by_hit[m], ranks[m] = earlier, ranks[n]
    for i in orphaned_items(lines, head):
        lines[i] = replace(lines[i], parent=head.text, parent_hit=known or m, parent_position=head.position)
    return earlier[head.position :] if known is None else []


def _drop_unused_sources(quoted: list[Line], hits: list[Hit], first_extra: int) -> tuple[list[Line], list[Hit]]:
    """Extra sources (lead-ins, continuations) are kept only when a quoted line comes from them;
    the kept ones are renumbered in order."""
    used = {line.hit_number for line in quoted}
    numbers = {n: n for n in range(1, first_extra)}
    kept = hits[: first_extra - 1]
    for n, hit in enumerate(hits[first_extra - 1 :], start=first_extra):
        if n in used:
            kept.append(replace(hit, rank=len(kept) + 1))
            numbers[n] = len(kept)
    return [replace(line, hit_number=numbers[line.hit_number]) for line in quoted], kept


def _gather_lists(chosen: list[Line], by_hit: dict[int, list[Line]], long_lists: bool = True) -> tuple[list[Line], set[tuple[int, int]]]:
    """Two or more chosen items of one list mean the list is the answer: its head line takes the
    place of the first of them and is quoted with its first items. A list longer than that is
    gathered only for a list question ("有哪些加密方式？"): for any other the chosen items stand on
    their own ("…删除会同步吗？" is answered by the 8th item of a Replication list, which the head and
    its first items would push out). A paragraph in bold heads a section, not a list: never gathered.
    Returns the lines and the heads gathered."""
    key_of = lambda line: (line.parent_hit or line.hit_number, line.parent_position)  # noqa: E731
    siblings = Counter(key_of(line) for line in chosen if line.parent_position >= 0)
    items = Counter(key_of(line) for lines in by_hit.values() for line in lines if line.parent_position >= 0)
    heads = {key for key, count in siblings.items()
             if count >= 2 and (long_lists or items[key] <= LEAD_CHILDREN) and not by_hit[key[0]][key[1]].titled}
    gathered: list[Line] = []
    for line in chosen:
        key = key_of(line)
        line = by_hit[key[0]][key[1]] if key in heads else line
        if line not in gathered:
            gathered.append(line)
    return gathered, heads


def question_parts(question: str) -> list[str]:
    """The parts of a question that asks two things ("EFS 能给 Windows 用吗？它用的是什么协议？",
    "how should I grant …, and how should …?"); empty for a one-part question. Words that only
    speak of the notes ("According to the note, what …") are no part: searched alone they find
    any passage with "according" in it, and the answer quoted its best line."""
    parts = [part.strip() for part in QUESTION_PARTS.split(question) if len(CONTENT.findall(NOTE_TALK.sub(" ", part))) >= MIN_PART_CHARS]
    if len(parts) < 2:
        return []
    # A part that points back ("它用的是什么协议", "各自复杂度是多少") is read with the names of the part
    # before it, or with all of it when it names nothing: alone it would find any passage on complexity.
    return [f"{' '.join(question_names(parts[i - 1])) or parts[i - 1]} {part}" if i and FOLLOW_UP.search(part) else part
            for i, part in enumerate(parts)]


def _after_lead(chosen: list[Line], extra: list[Line]) -> list[Line]:
    """Lines that must be quoted go right after the lead line, so the length caps never drop them."""
    keys = {_place(line) for line in chosen[:1]}
    extra = [line for line in dict.fromkeys(extra) if _place(line) not in keys]
    extra_keys = {_place(line) for line in extra}
    rest = [line for line in chosen[1:] if _place(line) not in extra_keys]
    return (chosen[:1] + extra + rest)[: MAX_LINES + len(extra)]


class LineScorer:
    """Scores candidate lines for a question (or a part of it): lexical IDF overlap fused with the
    embedder's cosine on each line read with its heading path and the item it is nested under."""

    def __init__(self, lines: list[Line], hits: list[Hit], index: Index, ranks: dict[int, int] | None = None,
                 fused: bool = False):
        self.lines, self.index = lines, index
        self.ranks = ranks or {}
        self.priors = _passage_priors(hits, fused)
        # Each line is read with its context — by its terms and by the embedder alike — so the passage's
        # subject counts for all its lines and the line that adds the asked-for detail stands out.
        self.contexts = [line_text(hits[line.hit_number - 1].chunk.heading_path, line.text, line.parent) for line in lines]
        self.vectors: dict[int, object] = {}

    def scores(self, question: str, query_vector=None, by_rank: bool = True) -> list[float]:
        """Each line's score; `by_rank` divides by its passage's prior (_passage_priors): the
        question's best passages come first, but a part of the question may be answered by any."""
        return self.scored(question, query_vector, by_rank)[0]

    def scored(self, question: str, query_vector=None, by_rank: bool = True) -> tuple[list[float], list[float]]:
        """The scores, and the same by rank alone, as the lead line is chosen: a passage nearly as
        strong as the first adds its lines to the answer, but the answer opens in the first."""
        weights = term_weights(question, self.index)
        lexical = [overlap(context, weights, self.index) for context in self.contexts]
        top_lexical = max(lexical) or 1.0
        semantic = [0.0] * len(self.lines)
        if query_vector is not None:
            embedded = self._embed(lexical)
            cosines = [float(self.vectors[i] @ query_vector) for i in embedded]
            low, high = min(cosines), max(cosines)
            for i, cosine in zip(embedded, cosines):
                semantic[i] = (cosine - low) / (high - low) if high > low else 0.0
        wants_number = NUMBER_QUESTION.search(question)
        unit = asked_unit(question) if wants_number else None
        scores, by_rank_alone = [], []
        for line, lex, sem in zip(self.lines, lexical, semantic):
            # A code line is discounted by its passage's rank even for a part: a short line of code
            # shares a part's words too easily ("print(item)" for "…默认是哪种读取一致性").
            rank = self.ranks.get(line.hit_number, line.hit_number) if by_rank or line.code else 1
            score = LEXICAL * lex / top_lexical + SEMANTIC * sem
            if wants_number:
                score *= number_factor(line.text, unit)
            scores.append(score / self.priors[rank])
            by_rank_alone.append(score / math.sqrt(rank))
        return scores, by_rank_alone

    def _embed(self, lexical: list[float]) -> list[int]:
        """Indices of the lines with vectors: a budget of them, the top passage's first, then the best
        by terms. Embedding a line costs ~40 ms on 2 cores the first time; the index's cache keeps it."""
        lines = self.lines
        rank = [self.ranks.get(line.hit_number, line.hit_number) for line in lines]
        order = sorted(range(len(lines)), key=lambda i: (rank[i] > 1, -lexical[i], rank[i], i))
        embedded = order[:SEMANTIC_BUDGET]
        todo = [i for i in embedded if i not in self.vectors]
        if todo:
            self.vectors.update(zip(todo, line_vectors(self.index, [self.contexts[i] for i in todo])))
        return embedded


def _distinct(ranked: list[tuple[float, Line]]) -> list[tuple[float, Line]]:
    """The best of lines that read alike but for their emphasis: a vault holds copies of a note, and
    one line quoted twice ("Redshift（是一种copy方法…）" and "*Redshift*（…）") crowds out another."""
    seen: set[str] = set()
    kept = []
    for score, line in ranked:
        reading = _reading(line)
        if reading not in seen:
            seen.add(reading)
            kept.append((score, line))
    return kept


def _reading(line: Line) -> str:
    return "".join(EMPHASIS.sub("", line.text).split()).lower()


def _passage_priors(hits: list[Hit], fused: bool) -> dict[int, float]:
    """Each rank's divisor of its lines' scores: sqrt(rank), or for hybrid search's fused scores the
    best score's ratio to the passage's own (SCORE_GAP_EXPONENT). Never below 1: a two-part question's
    part may bring a passage from its own search, scored above the question's first."""
    if not fused or any(hit.score <= 0 for hit in hits):
        return {rank: math.sqrt(rank) for rank in range(1, len(hits) + 1)}
    return {rank: max(1.0, (hits[0].score / hit.score) ** SCORE_GAP_EXPONENT) for rank, hit in enumerate(hits, start=1)}


def _sides(question: str, ranked: list[tuple[float, Line]], chosen: list[Line], index: Index) -> list[Line]:
    """A comparison needs a line on each side: the best line naming each compared term not yet quoted.
    The compared terms are the Latin terms of the clause that compares ("EMR 节点本地盘加密时，NVMe
    加密和 LUKS 加密有什么区别？": NVMe and LUKS, not EMR)."""
    def latin_terms(text: str) -> list[str]:  # not the words that ask or compare ("how does each work", "versus")
        return [term for term in dict.fromkeys(index.tokens(text)) if CJK.search(term) is None and len(term) > 1
                and term not in QUESTION_WORDS and not COMPARISON_QUESTION.fullmatch(term)]

    comparing = [latin_terms(clause) for clause in CLAUSE.split(question) if COMPARISON_QUESTION.search(clause)]
    terms = comparing[0] if comparing and len(comparing[0]) > 1 else latin_terms(question)
    sides: list[Line] = []

    def names(line: Line, term: str, alone: bool) -> bool:
        """`alone`: a line naming two of the compared terms ("NVMe加密和LUKS加密的方式") is no side of its own."""
        tokens = set(index.tokens(line.text))
        return term in tokens and not (alone and sum(t in tokens for t in terms) > 1)

    for term in terms:
        for alone in (True, False):  # a line on the term's side, else one naming it at all
            if any(names(line, term, alone) for line in chosen + sides):
                break
            side = next((line for _, line in ranked if names(line, term, alone)), None)
            if side is not None:
                sides.append(side)
                break
    return sides


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
        by_hit[n] = split_lines(following.text, n, following.line_start, code=True)
    lines = by_hit[n]
    # The items continue at the indent they started with, until the list steps back out (or code starts).
    run = [line for i, line in enumerate(lines) if all(l.indent >= lines[0].indent and not l.code for l in lines[: i + 1])]
    return run[:MAX_CHILDREN]


def _statement(lines: list[Line], chosen: Line, limit: int) -> tuple[Line, list[Line]]:
    """A code line's statement ("gcloud … set-autoscaling \\" over its "--target-cpu-utilization 0.60 \\"
    arguments, "Pipeline([" over its steps): its first line and the rest, at most `limit` more lines
    around the chosen one."""
    statement = [line for line in lines if line.code and line.statement == chosen.statement]
    at = statement.index(chosen)
    start = max(0, min(at - limit // 2, len(statement) - limit - 1)) if len(statement) > limit + 1 else 0
    window = statement[start : start + limit + 1]
    return window[0], window[1:]


def _introduces(line: Line) -> bool:
    """A line announcing the items after it: "…：", or a paragraph wholly in bold over a list."""
    return line.titled or (not line.code and line.text.rstrip().endswith(("：", ":")))


def _only_announces(line: Line) -> bool:
    """A line that announces items and states nothing before it does ("Use Case：", "防范措施：", "…有一些
    重要的区别："), unlike "…综合来说是O(nlogn)，空间复杂度上…O(n)。…如下：", whose sentence comes first."""
    return _introduces(line) and not STATEMENT_END.search(line.text.rstrip()[:-1])


def _children(lines: list[Line], parent: Line, limit: int = 4) -> list[Line]:
    """The sub-items nested under a line (deeper indent), or the items a `…：` line introduces; a code
    line has none (it comes with its statement instead, _statement)."""
    introduces = _introduces(parent)
    children = []
    for line in lines[parent.position + 1 :]:
        if line.code:
            break
        # A paragraph announcing a list ("防范措施：") heads all its items, those that announce details
        # of their own too ("1. **使用强加密协议**：" over "使用WPA3…"); an item announcing ends its sibling's.
        announced = introduces and line.indent == parent.indent and (not _introduces(line) or (line.item and not parent.item))
        if line.indent > parent.indent or announced:
            children.append(line)
            if len(children) == limit:
                break
        else:
            break
    return children


class ExtractiveAnswerer:
    """The default Answerer: offline, deterministic, quotes the notes."""

    name = "extractive"

    def __init__(self, index: Index, query_vector=None, part_vectors: dict | None = None, fused: bool = False,
                 focus: str = ""):
        self.index = index
        self.query_vector = query_vector  # of `focus` when there is one, else of the search query
        self.part_vectors = part_vectors or {}
        self.fused = fused  # the hits come from hybrid search (answer_lines)
        self.focus = focus  # what the lines answer when not the search query (ask.py with_focus)

    def stream(self, answer: Answer, history=None) -> Iterator[Answer]:
        lines, answer.hits = answer_lines(self.focus or answer.search_query, answer.hits, self.index, self.query_vector, answer.question,
                                          self.part_vectors, self.fused)
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


def _shown(line: Line) -> str:
    """A code line is shown as code (in double backticks when it holds a backtick itself)."""
    if not line.code:
        return line.text
    return f"`` {line.text} ``" if "`" in line.text else f"`{line.text}`"


def compose(lang: str, lines: list[Line], base: int | None = None) -> str:
    """The lead line, then the quoted lines as a list, nested as in the note, each with its [n]."""
    lead = LEADS["en" if lang == "en" else "zh"]
    base = min((line.indent for line in lines), default=0) if base is None else base
    body = "\n".join(f"{'  ' * min((line.indent - base) // 2, 3)}- {_shown(line)} [{line.hit_number}]" for line in lines)
    return f"{lead}\n{body}"
