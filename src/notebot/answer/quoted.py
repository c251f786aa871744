"""Which lines of a passage an answer quotes. The extractive answerer knows (answer.quoted); for an
LLM's answer they are found by matching the passage's lines in its text."""

from __future__ import annotations

import re

from ..records import Answer, Chunk

LEADING_MARK = re.compile(r"^\s*(?:[-*+>]|\d{1,3}[.)])\s+")
MIN_QUOTE_CHARS = 4  # "- S3" alone is not evidence of a quote


def quoted_lines(answer_text: str, chunk: Chunk) -> list[int]:
    """File line numbers of the chunk whose text (without its list mark) appears in the answer."""
    flat_answer = " ".join(answer_text.split())
    lines = []
    for offset, line in enumerate(chunk.text.split("\n")):
        body = " ".join(LEADING_MARK.sub("", line).split())
        if len(body) >= MIN_QUOTE_CHARS and body in flat_answer:
            lines.append(chunk.line_start + offset)
    return lines


def fill_quoted(answer: Answer) -> Answer:
    """Set answer.quoted by text matching when the answerer did not say (an LLM's answer)."""
    if not answer.quoted and not answer.refused:
        found = {n: quoted_lines(answer.text, hit.chunk) for n, hit in enumerate(answer.hits, start=1)}
        answer.quoted = {n: lines for n, lines in found.items() if lines}
    return answer


def citations_with_passages(answer: Answer) -> list[dict]:
    """answer.to_json()'s citations (with their quoted lines) plus each passage's text."""
    return [citation | {"text": hit.chunk.text} for citation, hit in zip(answer.to_json()["citations"], answer.hits)]
