"""ask(): resolve a follow-up, retrieve, decide whether the notes hold an answer, and answer.

One entry point for the CLI, the web UI and the evaluation. Answerers behind a tiny Protocol:
`extractive` (default, offline) and `llm` (any OpenAI-compatible endpoint, see llm.py).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from typing import Protocol

from ..records import Answer, Hit
from ..search import clean_query, search
from ..settings import Settings
from ..store import Index
from .extractive import ExtractiveAnswerer
from .llm import LLMAnswerer, LLMError, check_citations, cited_numbers, is_refusal
from .refusal import refusal_reason

CJK = re.compile(r"[\u3400-\u9fff]")
LATIN_WORD = re.compile(r"[A-Za-z][A-Za-z0-9\-]+")
# A follow-up leans on the previous turn: pronouns, or a bare "and …?" / "那…呢？".
FOLLOW_UP = re.compile(r"^(?:那|那么|还有|and\b|what about\b|how about\b)|它|它们|其|这个|那个|该服务|呢[？?]?$|\b(?:it|its|they|their|them|this|that one)\b", re.I)
REFUSALS = {
    "zh": "笔记里没有找到能回答这个问题的内容。下面是最接近的段落，仅供参考：",
    "en": "Your notes don't seem to cover this. The closest passages are listed below as related, not as an answer.",
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


def ask_stream(index: Index, question: str, settings: Settings, history: History | None = None) -> Iterator[Answer]:
    """Yield Answers whose text grows; the last one is final."""
    started = time.perf_counter()
    question = clean_query(question)
    lang = detect_lang(question)
    llm = LLMAnswerer.from_settings(settings) if settings.answerer == "llm" else None
    llm_problem = None
    try:
        search_query = resolve_follow_up(question, history or [], llm)
    except LLMError as problem:  # one timeout is enough: don't wait for the endpoint twice
        llm_problem, llm = problem, None
        search_query = resolve_follow_up(question, history or [], None)
    hits = search(index, search_query, settings.k, settings.mode)
    vectors_notice = partial_vectors_notice(index.manifest) if settings.mode != "lexical" else ""
    retrieved = time.perf_counter()
    reason = refusal_reason(question, hits)
    base = Answer(question=question, text="", lang=lang, refused=False, hits=hits, answerer="extractive",
                  search_query=search_query, timings={"retrieve_ms": (retrieved - started) * 1000})
    if reason:
        yield _finish(base, REFUSALS["en" if lang == "en" else "zh"], started, refused=True, notice="; ".join(filter(None, [reason, vectors_notice])))
        return
    answerer: Answerer = ChatAnswerer(llm) if llm is not None else ExtractiveAnswerer(index)
    base.answerer = answerer.name
    try:
        for partial in answerer.stream(base, history):
            yield partial
    except LLMError as problem:  # visible fallback, never a silent one
        llm_problem = problem
        base.answerer, base.text, base.refused = "extractive", "", False
        for partial in ExtractiveAnswerer(index).stream(base, history):
            pass
    if llm_problem:
        base.notice = _fallback_notice(llm_problem)
    base.notice = "; ".join(filter(None, [base.notice, vectors_notice]))
    yield _finish(base, base.text, started, refused=base.refused)


def _finish(answer: Answer, text: str, started: float, refused: bool = False, **changes) -> Answer:
    answer.text = text
    answer.refused = refused
    for name, value in changes.items():
        setattr(answer, name, value)
    answer.timings["total_ms"] = (time.perf_counter() - started) * 1000
    return answer


def resolve_follow_up(question: str, history: History, llm=None) -> str:
    """Make a follow-up standalone: the LLM rewrites it when configured; otherwise the previous
    question's terms are carried over when the new one leans on it."""
    if not history:
        return question
    if llm is not None:
        return llm.rewrite_followup(question, history) or question
    if FOLLOW_UP.search(question) or len(question) <= 12:
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
