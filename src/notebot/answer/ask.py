"""ask(): resolve a follow-up, retrieve, decide whether the notes hold an answer, and answer.

One entry point for the CLI, the web UI and the evaluation. Answerers behind a tiny Protocol:
`extractive` (default, offline) and `llm` (any OpenAI-compatible endpoint, see llm.py).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from typing import Protocol

from ..errors import NotebotError
from ..records import Answer, Hit
from ..search import clean_query, embed_queries, search
from ..search.coverage import question_names
from ..settings import Settings
from ..store import Index
from .extractive import CONTENT, FOLLOW_UP, ExtractiveAnswerer, question_parts
from .llm import LLMAnswerer, LLMError, check_citations, cited_numbers, is_refusal
from .quoted import fill_quoted
from .refusal import Evidence, gather_evidence, refusal_reason

CJK = re.compile(r"[\u3400-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9\-]+")
MAX_HISTORY = 20  # turns kept; only the last few can matter to the next question
# A question whose own terms are mostly unknown to the notes and barely covered by any passage is off-topic:
# it is never merged with the previous turn ("那糖醋排骨呢？" after a DynamoDB question).
OFF_TOPIC_UNKNOWN = 0.5
OFF_TOPIC_COVERAGE = 0.3
# A part of a two-part question brings its own best passage, but only one the whole question also
# ranks among its first PART_CANDIDATES (the part's first PART_DEPTH results are tried): a part
# alone lacks the question's subject ("多大以上就必须用？", "how should other resources access it?")
# and its best passage in a vault is often off that subject. Measured (benchmarks/README.md,
# 2026-12-03 09:10): dev on the vault Hit@5 0.925 -> 0.950, nothing lost on any set; the question's
# first 50 let every such passage through.
PART_CANDIDATES = 20
PART_DEPTH = 10
STANDS_ALONE = 1.0  # refusal-rule score above which a question with no pointer back stands alone
# A refusal says why ({reason}: answer/refusal.py REASONS), in the question's language.
REFUSALS = {
    "zh": "笔记里没有找到能回答这个问题的内容（原因：{reason}）。下面是最接近的段落，仅供参考：",
    "en": "Your notes don't seem to cover this: {reason}. The closest passages are listed below as related, not as an answer.",
}

History = list[tuple[str, str]]


class Answerer(Protocol):
    name: str

    def stream(self, answer: Answer, history: History | None = None) -> Iterator[Answer]:
        """Fill in answer.text (and answer.hits when it cites more), yielding as the text grows."""


class ChatAnswerer:
    """The `llm` Answerer: an OpenAI-compatible chat model writes the answer from the passages.

    Text once shown stays: a stream cut short (deadline, length cap, a dropped connection) ends with
    what arrived and a notice; only an answer with nothing to show falls back to the extractive one.
    """

    name = "llm"

    def __init__(self, client):
        self.client = client

    def stream(self, answer: Answer, history: History | None = None) -> Iterator[Answer]:
        text, notices = "", []
        try:
            for delta in self.client.stream(answer.question, answer.hits, answer.lang, history):
                text += delta
                answer.text = text
                yield answer
        except LLMError as problem:
            if not text.strip():
                raise
            text += " …"
            notices.append(f"the answer is incomplete: {problem.message} ({problem.hint})")
        answer.text, invented = check_citations(text, len(answer.hits))
        if not answer.text.strip(" …"):
            raise self.client.error("answered only with citations to passages it was not given",
                                    "try another model (NOTEBOT_LLM_MODEL)")
        answer.refused = is_refusal(answer.text)
        if invented:
            notices.append(f"removed citations to passages that were not given: {invented}")
        if not answer.refused and not cited_numbers(answer.text):
            notices.append("the LLM's answer cites no passage: check it against the sources")
        answer.notice = "; ".join(notices)
        yield answer


def detect_lang(text: str) -> str:
    """`zh` for Chinese, `mixed` for Chinese with English terms, `en` otherwise."""
    if not CJK.search(text):
        return "en"
    return "mixed" if LATIN_WORD.search(text) else "zh"


def ask(index: Index, question: str, settings: Settings, history: History | None = None) -> Answer:
    answer = None
    for answer in ask_stream(index, question, settings, history):
        pass
    return answer


@dataclass
class Retrieval:
    """What one search query found, with the evidence the refusal rule reads."""

    query: str
    hits: list[Hit]
    vector: object  # the vector the answer's lines are scored by: the query's, or its focus's
    evidence: Evidence | None
    part_vectors: dict = field(default_factory=dict)  # each part of a two-part question -> its vector
    focus: str = ""  # what the answer's lines answer, when not the query: a merged follow-up's own turn


def retrieve(index: Index, query: str, settings: Settings, judged: str | None = None) -> Retrieval:
    """Search for `query`; the evidence is gathered for `judged` (default: the query itself)."""
    vector, cosine, part_vectors = None, 0.0, {}
    parts = question_parts(judged or query)  # the user's own words, not the previous turn's
    has_vectors = index.manifest.get("vectors", {}).get("embedded") != 0  # a first run's keyword-only index has none
    if has_vectors and (settings.mode != "lexical" or settings.answerer == "extractive"):
        # One batch, embedded once: search, refusal and line scores share the query's vector, and
        # a two-part question's parts theirs.
        vector, *rest = embed_queries(index, [clean_query(query), *parts])
        part_vectors = dict(zip(parts, rest))
    # Line evidence ranks the passages the answer cites; it embeds the lines of the top passages, which
    # the answer's line scores need anyway (search/retrieve.py, LINE_DEPTH).
    found = search(index, query, max(settings.k, PART_CANDIDATES) if parts else settings.k, settings.mode, query_vector=vector,
                   line_evidence=True)
    hits = with_each_part(index, found, parts, settings, part_vectors) if found and parts else found[: settings.k]
    if vector is not None:
        nearest = index.vector_search(vector, 1)
        cosine = nearest[0][1] if nearest else 0.0
    if not index.manifest.get("vectors", {}).get("complete", True):
        # A first run still embedding: when the best passage has no vector yet, the best cosine says
        # nothing about it (0 with no vectors at all), so the refusal rule reads it as undecided.
        missing = index.missing_vectors() if hasattr(index, "missing_vectors") else set()
        if vector is None or (hits and hits[0].chunk.id in missing):
            cosine = None
    evidence = gather_evidence(judged or query, hits, index, cosine) if hits else None
    return Retrieval(query, hits, vector, evidence, part_vectors)


def with_each_part(index: Index, found: list[Hit], parts: list[str], settings: Settings, vectors: dict) -> list[Hit]:
    """A question that asks two things is searched part by part too: each part's best passage among
    the question's own candidates (`found`) joins right after the question's best one, so both
    halves have their source. Returns the first settings.k."""
    candidates = {hit.chunk.id for hit in found}
    # A part is searched as fused, not by line coverage: coverage of half a question (measured: dev on
    # the vault Hit@5 0.950 -> 0.925, benchmarks/README.md 2026-12-03 11:35).
    best_of_parts = [[hit for hit in search(index, part, PART_DEPTH, settings.mode, query_vector=vectors.get(part), line_coverage=False)
                      if hit.chunk.id in candidates][:1] for part in parts]
    hits = found[: settings.k]
    merged: dict[str, Hit] = {}
    for hit in hits[:1] + [hit for part_hits in best_of_parts for hit in part_hits] + hits[1:]:
        merged.setdefault(hit.chunk.id, hit)
    return [replace(hit, rank=rank) for rank, hit in enumerate(list(merged.values())[: len(hits)], start=1)]


def ask_stream(index: Index, question: str, settings: Settings, history: History | None = None) -> Iterator[Answer]:
    """Yield Answers whose text grows; the last one is final."""
    started = time.perf_counter()
    question = check_question(question)
    history = check_history(history)
    lang = detect_lang(question)
    llm = LLMAnswerer.from_settings(settings) if settings.answerer == "llm" else None
    llm_problem = None
    try:
        found = follow_conversation(index, question, history, settings, llm)
    except LLMError as problem:  # one timeout is enough: don't wait for the endpoint twice
        llm_problem, llm = problem, None
        found = follow_conversation(index, question, history, settings, None)
    vectors_notice = partial_vectors_notice(index.manifest) if settings.mode != "lexical" else ""
    retrieved = time.perf_counter()
    replies_in = "en" if lang == "en" else "zh"  # a mixed question is answered in Chinese
    reason = refusal_reason(question, found.hits, found.evidence, replies_in)
    base = Answer(question=question, text="", lang=lang, refused=False, hits=found.hits, answerer="extractive",
                  search_query=found.query, timings={"retrieve_ms": (retrieved - started) * 1000})
    if reason:
        yield _finish(base, REFUSALS[replies_in].format(reason=reason), started, refused=True, notice=vectors_notice)
        return
    extractive = ExtractiveAnswerer(index, found.vector, found.part_vectors, fused=settings.mode == "hybrid", focus=found.focus)
    answerer: Answerer = ChatAnswerer(llm) if llm is not None else extractive
    base.answerer = answerer.name
    try:
        for partial in answerer.stream(base, history):
            yield partial
    except LLMError as problem:  # visible fallback, never a silent one
        llm_problem = problem
        base.answerer, base.text, base.refused = "extractive", "", False
        for partial in extractive.stream(base, history):
            pass
    if llm_problem:
        base.notice = _fallback_notice(llm_problem)
    base.notice = "; ".join(filter(None, [base.notice, vectors_notice]))
    yield fill_quoted(_finish(base, base.text, started, refused=base.refused))


def _finish(answer: Answer, text: str, started: float, refused: bool = False, **changes) -> Answer:
    answer.text = text
    answer.refused = refused
    for name, value in changes.items():
        setattr(answer, name, value)
    answer.timings["total_ms"] = (time.perf_counter() - started) * 1000
    return answer


def check_question(question: str) -> str:
    question = clean_query(question)
    if not CONTENT.search(question):
        raise NotebotError(f"the question {question[:40]!r} has no words in it", "ask in words, e.g. notebot ask \"S3 对象最大多大？\"")
    return question


def check_history(history) -> History:
    """Previous turns as (question, answer) pairs; plain strings are questions without answers.
    Only the last MAX_HISTORY turns can matter to the next question."""
    if history is None:
        return []
    if isinstance(history, (str, bytes)) or not isinstance(history, (list, tuple)):
        raise NotebotError("the conversation history must be a list of previous questions", "pass a list of strings")
    turns = []
    for item in history:
        turn = (item, "") if isinstance(item, str) else tuple(item) if isinstance(item, (list, tuple)) and len(item) == 2 else None
        if turn is None or not isinstance(turn[0], str) or not turn[0].strip():
            raise NotebotError(f"history item {item!r} is not a non-empty question", "drop it or write the question")
        turns.append((" ".join(turn[0].split()), turn[1] or ""))
    return turns[-MAX_HISTORY:]


def follow_conversation(index: Index, question: str, history: History, settings: Settings, llm=None) -> Retrieval:
    """Retrieve for the question, read in its conversation. An LLM, when configured, rewrites a
    follow-up; otherwise the question is merged with the previous turn's subject when it leans on
    it: it points back ("它", "its", "那…呢") or it cannot stand alone (the refusal rule would turn
    it down) while the merged question can. A question whose own terms the notes never hold is
    never merged: an off-topic question stays off-topic after an on-topic turn."""
    if not history:
        return retrieve(index, question, settings)
    if llm is not None:
        rewritten = llm.rewrite_followup(question, history) or question
        return retrieve(index, rewritten, settings)
    subject = previous_subject([turn for turn, _ in history])
    alone = retrieve(index, question, settings)
    if _off_topic(alone.evidence):
        return alone
    points_back = bool(FOLLOW_UP.search(question))
    if not points_back and alone.evidence is not None and alone.evidence.score() >= STANDS_ALONE:
        return alone
    # The merged search finds the subject's passages; whether they answer is judged on the question's own terms.
    merged = retrieve(index, f"{subject} {question}", settings, judged=question)
    if points_back or (merged.evidence is not None and alone.evidence is not None
                       and merged.evidence.score() > alone.evidence.score()):
        return with_focus(index, merged, question, subject)
    return alone


def with_focus(index: Index, merged: Retrieval, question: str, subject: str) -> Retrieval:
    """A follow-up is searched with the previous turn, but its answer quotes the lines that answer
    this turn, read with the names of its subject ("AWS Transfer Family Which protocols does it
    support?"): scored by the whole previous question, the lines that answered it come first."""
    names = [name for name in question_names(subject) if not name.islower()]  # "endpoint" is no subject
    focus = " ".join([*names, question])
    vector = embed_queries(index, [focus])[0] if merged.vector is not None else None
    return replace(merged, focus=focus, vector=vector)


def _off_topic(evidence: Evidence | None) -> bool:
    """Mostly unknown to the notes, barely covered, and unknown through its subject (Chinese words or
    names), not merely through plain English verbs ("Which protocols does it support?")."""
    return (evidence is not None and evidence.unknown >= OFF_TOPIC_UNKNOWN and evidence.coverage < OFF_TOPIC_COVERAGE
            and (evidence.names_missing > 0 or any(CJK.search(term) for term in evidence.unknown_terms)))


def previous_subject(questions: list[str]) -> str:
    """The last question, preceded by the turns it leaned on (by the pointing-back test), so a
    third turn still knows what "它" was two turns ago."""
    parts = [questions[-1]]
    for earlier in reversed(questions[:-1]):
        if not FOLLOW_UP.search(parts[0]) or len(parts) == 3:
            break
        parts.insert(0, earlier)
    return " ".join(parts)


def resolve_follow_up(question: str, history: History, llm=None) -> str:
    """The search query for a question in a conversation, by the pointing-back test alone (no
    retrieval); ask() also weighs the evidence (follow_conversation)."""
    if not history:
        return question
    if llm is not None:
        return llm.rewrite_followup(question, history) or question
    if FOLLOW_UP.search(question):
        return f"{history[-1][0]} {question}"
    return question


def partial_vectors_notice(manifest: dict) -> str:
    """While a first index is still embedding (apps/watch.py), answers say their search was partly lexical."""
    vectors = manifest.get("vectors", {})
    if vectors.get("complete", True):
        return ""
    return (f"the index is still embedding ({vectors['embedded']:,} of {vectors['total']:,} chunks): "
            "keyword search covered every note, meaning search only the embedded part")


def _fallback_notice(problem: LLMError) -> str:
    return f"the LLM failed ({problem.message}); showing the offline extractive answer instead"


def format_sources(answer: Answer) -> str:
    title = "related passages" if answer.refused else "sources"
    lines = [f"\n{title}:"]
    for number, hit in enumerate(answer.hits, start=1):
        c = hit.chunk
        lines.append(f"[{number}] {c.file} › {c.heading_path or '(top)'} › lines {c.line_start}-{c.line_end}")
    return "\n".join(lines)
