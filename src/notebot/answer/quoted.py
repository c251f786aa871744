"""Which lines of a passage an answer quotes: for `ask --json` and the /ask API (citations carry them)."""

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


def citations_with_passages(answer: Answer) -> list[dict]:
    """answer.to_json()'s citations plus each passage's text and the lines the answer quotes from it."""
    return [hit.citation() | {"text": hit.chunk.text, "quoted_lines": quoted_lines(answer.text, hit.chunk)}
            for hit in answer.hits]
