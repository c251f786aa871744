"""Markdown dialects: what an Obsidian-style note means, read line for line so citations stay exact.

- YAML frontmatter is blanked out of the text (never quoted as an answer line); its `title`,
  `aliases` and `tags` become the note's context, which every chunk's embed_text carries.
- `[[Note]]`, `[[Note|shown]]`, `[[Note#Heading]]` read as their text; `![[embeds]]` and
  `![images](…)` are dropped; `#tags` lose their `#`; a callout `> [!note] Title` reads `> Title`.
- Code (fenced or inline) is left exactly as written.

Every rewrite stays on its own line, so line N of the result is line N of the file.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from ..records import Document

FRONTMATTER_END = re.compile(r"^(?:---|\.\.\.)[ \t]*$")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
INLINE_CODE = re.compile(r"(`+)(.+?)\1")
EMBED = re.compile(r"!\[\[[^\]\n]*\]\]")
IMAGE = re.compile(r"!\[([^\]\n]*)\]\([^)\n]*\)")
# Not part of a longer bracket run, and naming something: `[[[1, 2], [5, 6]]]` is data, not a link.
WIKILINK = re.compile(r"(?<!\[)\[\[([^\[\]|\n]*[^\W\d_][^\[\]|\n]*)(?:\|([^\[\]\n]*))?\]\](?!\])")
# Obsidian tags: `#` after a space or the line start, then letters/digits/_/-// with at least one non-digit.
TAG = re.compile(r"(?:(?<=\s)|^)#((?:[^\W\d]|[_\-/])[\w\-/]*|\d+(?:[^\W\d]|[_\-/])[\w\-/]*)")
CALLOUT = re.compile(r"^((?:\s*>)+\s*)\[!([A-Za-z-]+)\][+-]?[ \t]*(.*)$")
MAX_FRONTMATTER_LINES = 500


def read_markdown(doc: Document, warn: Callable[[str], None] = lambda message: None) -> Document:
    """The note as notebot reads it: same lines, Obsidian syntax resolved, frontmatter as context."""
    lines = doc.text.splitlines(keepends=True)
    context = ""
    end = _frontmatter_end(lines)
    if end:
        context = _frontmatter_context("".join(lines[1:end]), doc.path, warn)
        lines = [_ending(line) for line in lines[: end + 1]] + lines[end + 1 :]
    out = []
    fence = None
    for line in lines:
        marker = FENCE.match(line)
        if fence is None and marker:
            fence = marker.group(1)[0] * 3
        elif fence is not None:
            if marker and line.strip().startswith(fence):
                fence = None
        else:
            line = resolve_line(line)
        out.append(line)
    return Document(path=doc.path, text="".join(out), encoding=doc.encoding, context=context)


def resolve_line(line: str) -> str:
    """One line outside code: embeds dropped, links and tags read as text, callout markers removed."""
    if "[" not in line and "#" not in line:
        return line  # most lines: nothing to resolve (a re-index reads every line of the vault)
    body, ending = line.rstrip("\r\n"), line[len(line.rstrip("\r\n")) :]
    callout = CALLOUT.match(body)
    if callout:
        quote, kind, title = callout.groups()
        body = quote + (title or kind.capitalize())
    pieces = INLINE_CODE.split(body)  # [text, ticks, code, text, ticks, code, …]: code stays as written
    out = []
    for i, piece in enumerate(pieces):
        if i % 3 == 0:
            out.append(_resolve_text(piece))
        elif i % 3 == 2:
            out.append(f"{pieces[i - 1]}{piece}{pieces[i - 1]}")
    return "".join(out) + ending


def _resolve_text(text: str) -> str:
    text = EMBED.sub("", text)
    text = IMAGE.sub(lambda m: m.group(1), text)
    text = WIKILINK.sub(_link_text, text)
    return TAG.sub(lambda m: m.group(1), text)


def _link_text(match: re.Match) -> str:
    target, shown = match.group(1), match.group(2)
    if shown and shown.strip():
        return shown.strip()
    note, _, heading = target.partition("#")
    note = note.strip().rsplit("/", 1)[-1]
    heading = heading.strip().lstrip("^")
    return " > ".join(part for part in (note, heading) if part)


def _frontmatter_end(lines: list[str]) -> int:
    """Index of the closing `---` when the note starts with a frontmatter block, else 0."""
    if not lines or lines[0].strip() != "---":
        return 0
    for i in range(1, min(len(lines), MAX_FRONTMATTER_LINES)):
        if FRONTMATTER_END.match(lines[i]):
            return i
    return 0


def _frontmatter_context(block: str, path: str, warn: Callable[[str], None]) -> str:
    """title, aliases and tags as one line of searchable text; invalid YAML is reported, never fatal."""
    import yaml

    try:
        data = yaml.safe_load(block)
    except yaml.YAMLError as problem:
        where = getattr(problem, "problem_mark", None)
        line = f" (line {where.line + 2})" if where is not None else ""
        warn(f"{path}: invalid YAML frontmatter{line} — its title/aliases/tags are ignored; the note is still indexed")
        return ""
    if not isinstance(data, dict):
        return ""
    values = []
    for key in ("title", "aliases", "alias", "tags", "tag"):
        values += [value.lstrip("#") for value in _strings(data.get(key))]
    return " · ".join(dict.fromkeys(value for value in values if value))


def _strings(value) -> list[str]:
    if value is None:
        return []
    if isinstance(value, (list, tuple)):
        return [text for item in value for text in _strings(item)]
    if isinstance(value, str):
        return [part.strip() for part in re.split(r",", value) if part.strip()] if "," in value else [value.strip()]
    return [str(value)]


def _ending(line: str) -> str:
    return line[len(line.rstrip("\r\n")) :]
