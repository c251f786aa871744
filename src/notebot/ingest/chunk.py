"""Chunk notes by heading, then split long sections at block boundaries that suit Chinese text.

Headings are found by our own fence-aware scan: langchain's MarkdownHeaderTextSplitter strips
every line and reports no positions, and its whitespace-keeping sibling drops `---` rules, so
neither can give exact line ranges. langchain's RecursiveCharacterTextSplitter cuts the rare
single block (one giant line or paragraph) that is too long on its own.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass

from ..records import Chunk, Document

HEADING = re.compile(r"^ {0,3}(#{1,6})[ \t]+(.+?)[ \t#]*$")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
LIST_ITEM = re.compile(r"^ {0,3}(?:[-*+]|\d{1,3}[.)])[ \t]")
TABLE_ROW = re.compile(r"^\s*\|")
# Sentence and clause ends for Chinese and English, tried in this order on an oversized block.
SEPARATORS = ["\n\n", "\n", "。", "；", "！", "？", ". ", "; ", "，", ", ", " ", ""]


@dataclass(frozen=True)
class ChunkerConfig:
    max_chars: int = 600  # ~ 400-600 e5 tokens of Chinese; e5 reads at most 512 tokens
    overlap_chars: int = 80  # only used when a single block must be cut
    max_heading_level: int = 6

    def to_json(self) -> dict:
        return {"name": "heading-blocks-v2", **asdict(self)}  # bump the version when chunks change


@dataclass
class _Section:
    headings: tuple[str, ...]
    lines: list[tuple[int, str]]  # (1-based line number, line with its newline)


def chunk_document(doc: Document, config: ChunkerConfig = ChunkerConfig()) -> list[Chunk]:
    chunks: list[Chunk] = []
    for section in _sections(doc.text, config.max_heading_level):
        if not any(line.strip() and not HEADING.match(line) for _, line in section.lines):
            continue  # a bare heading: its title lives on in its subsections' heading paths
        for lines in _pack(_blocks(section.lines), config):
            chunks.append(_make_chunk(doc.path, section.headings, lines, doc.context))
    return _dedupe_ids(chunks)


def _sections(text: str, max_level: int) -> list[_Section]:
    """Split at headings outside code fences; an unclosed fence runs to the end of the file."""
    sections = [_Section((), [])]
    stack: list[tuple[int, str]] = []
    fence = None
    for number, line in enumerate(text.splitlines(keepends=True), start=1):
        marker = FENCE.match(line)
        if fence is None and marker:
            fence = marker.group(1)
        elif fence is not None and _closes(line, fence):
            fence = None
        elif fence is None and (heading := HEADING.match(line)) and len(heading.group(1)) <= max_level:
            level = len(heading.group(1))
            stack = [(lvl, title) for lvl, title in stack if lvl < level] + [(level, _clean_title(heading.group(2)))]
            sections.append(_Section(tuple(title for _, title in stack), []))
        sections[-1].lines.append((number, line))
    return sections


def _closes(line: str, fence: str) -> bool:
    """CommonMark: only a run of the opening fence's character, at least as long, and nothing after it."""
    marker = FENCE.match(line)
    return bool(marker) and marker.group(1)[0] == fence[0] and len(marker.group(1)) >= len(fence) and not line[marker.end():].strip()


def _clean_title(title: str) -> str:
    return re.sub(r"[*_`]", "", title).strip()


def _blocks(lines: list[tuple[int, str]]) -> list[list[tuple[int, str]]]:
    """Group lines into units that must not be cut: a fenced code block, a table, a list item with
    its continuation lines, a paragraph. Blank lines stick to the block before them."""
    blocks: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    kind = None
    fence = None
    for number, line in lines:
        if fence is not None:
            current.append((number, line))
            if _closes(line, fence):
                fence = None
            continue
        if not line.strip():
            current.append((number, line))
            kind = "blank" if kind != "code" else kind
            continue
        marker = FENCE.match(line)
        line_kind = "code" if marker else "table" if TABLE_ROW.match(line) else "item" if LIST_ITEM.match(line) else "text"
        starts_new = (
            line_kind in ("code", "item")
            or HEADING.match(line)
            or kind in (None, "blank", "code")
            or (line_kind == "table") != (kind == "table")
        )
        if starts_new and current:
            blocks.append(current)
            current = []
        current.append((number, line))
        kind = line_kind
        if marker:
            fence = marker.group(1)
    if current:
        blocks.append(current)
    return blocks


def _pack(blocks: list[list[tuple[int, str]]], config: ChunkerConfig) -> list[list[tuple[int, str]]]:
    """Greedily fill pieces up to max_chars with whole blocks; cut only a block too big alone."""
    pieces: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    size = 0
    for block in blocks:
        block_size = sum(len(line) for _, line in block)
        if current and size + block_size > config.max_chars:
            pieces.append(current)
            current, size = [], 0
        if block_size > config.max_chars and not _is_code(block) or block_size > 8 * config.max_chars:
            pieces.extend(_cut_block(block, config))
            continue
        current.extend(block)
        size += block_size
    if current:
        pieces.append(current)
    # A piece holding only the heading line adds nothing: the heading path is in every embed_text.
    return [piece for piece in pieces if any(line.strip() and not HEADING.match(line) for _, line in piece)]


def _is_code(block: list[tuple[int, str]]) -> bool:
    return bool(FENCE.match(block[0][1]))


def _cut_block(block: list[tuple[int, str]], config: ChunkerConfig) -> list[list[tuple[int, str]]]:
    """Cut one oversized block at the best separator; each piece keeps the line numbers it spans."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    splitter = RecursiveCharacterTextSplitter(
        separators=SEPARATORS,
        chunk_size=config.max_chars,
        chunk_overlap=config.overlap_chars,
        keep_separator="end",
        strip_whitespace=False,
        add_start_index=True,
    )
    text = "".join(line for _, line in block)
    starts = []  # character offset where each line of the block begins
    offset = 0
    for _, line in block:
        starts.append(offset)
        offset += len(line)
    pieces = []
    for doc in splitter.create_documents([text]):
        begin = doc.metadata["start_index"]
        end = begin + max(len(doc.page_content) - 1, 0)
        first = _line_index(starts, begin)
        last = _line_index(starts, end)
        # A piece of a giant line carries only its own text, under that line's number.
        pieces.append([(block[first][0], doc.page_content)] if first == last else _slice_lines(block, first, last, doc.page_content))
    return pieces


def _line_index(starts: list[int], offset: int) -> int:
    low, high = 0, len(starts) - 1
    while low < high:
        middle = (low + high + 1) // 2
        if starts[middle] <= offset:
            low = middle
        else:
            high = middle - 1
    return low


def _slice_lines(block, first: int, last: int, text: str) -> list[tuple[int, str]]:
    # Keep the exact piece text; attribute it to its first and last source lines.
    return [(block[first][0], text), (block[last][0], "")]


def _make_chunk(file: str, headings: tuple[str, ...], lines: list[tuple[int, str]], context: str = "") -> Chunk:
    text = "".join(line for _, line in lines)
    numbers = [n for n, line in lines if line.strip()] or [lines[0][0]]
    return Chunk(id="", file=file, headings=headings, line_start=numbers[0], line_end=numbers[-1], text=text.strip("\n"),
                 context=context)


def _dedupe_ids(chunks: list[Chunk]) -> list[Chunk]:
    """Ids hash file, heading path and text, so they survive edits elsewhere in the note."""
    seen: dict[str, int] = {}
    result = []
    for chunk in chunks:
        digest = hashlib.sha1(f"{chunk.file}\0{chunk.heading_path}\0{chunk.text}".encode()).hexdigest()[:16]
        seen[digest] = seen.get(digest, 0) + 1
        chunk_id = digest if seen[digest] == 1 else f"{digest}-{seen[digest]}"
        result.append(Chunk(chunk_id, chunk.file, chunk.headings, chunk.line_start, chunk.line_end, chunk.text, chunk.context))
    return result
