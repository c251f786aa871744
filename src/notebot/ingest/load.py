"""Load the corpus: every .md/.markdown/.txt file under a folder, decoded without guessing wrong."""

from __future__ import annotations

import unicodedata
from collections.abc import Callable
from pathlib import Path

from ..errors import NotebotError
from ..records import Document

NOTE_SUFFIXES = (".md", ".markdown", ".txt")


def find_note_files(corpus_dir: Path) -> list[Path]:
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise NotebotError(f"corpus folder {corpus_dir} does not exist", "create it and put your .md notes in it, or pass another folder")
    files = [p for p in corpus_dir.rglob("*") if p.is_file() and p.suffix.lower() in NOTE_SUFFIXES]
    files = [p for p in files if not any(part.startswith(".") for part in p.relative_to(corpus_dir).parts)]
    return sorted(files, key=lambda p: p.relative_to(corpus_dir).as_posix())


def load_corpus(corpus_dir: Path, warn: Callable[[str], None] = lambda message: None) -> list[Document]:
    """Documents in sorted path order; undecodable files are skipped with a warning naming them."""
    corpus_dir = Path(corpus_dir)
    documents = []
    for path in find_note_files(corpus_dir):
        relative = path.relative_to(corpus_dir).as_posix()
        try:
            text, encoding = decode_note(path.read_bytes())
        except UnicodeDecodeError as problem:
            warn(f"skipped {relative}: {problem.reason} (save it as UTF-8 to include it)")
            continue
        except OSError as problem:
            warn(f"skipped {relative}: cannot read it ({problem.strerror})")
            continue
        if encoding != "utf-8":
            warn(f"{relative} is {encoding.upper()}, not UTF-8: decoded as {encoding.upper()}")
        documents.append(Document(path=relative, text=text, encoding=encoding))
    return documents


def decode_note(data: bytes) -> tuple[str, str]:
    """UTF-8 (BOM stripped), else GB18030 when the result reads as text; anything else is refused.

    GB18030 accepts many byte strings that are not Chinese text, so its result must look like
    text (mostly CJK, ASCII and common punctuation) before we trust it. No latin-1 fallback: it
    never fails, which is exactly how mojibake gets into an index.
    """
    if b"\x00" in data:
        raise UnicodeDecodeError("utf-8", data, 0, 1, "binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    try:
        text = data.decode("gb18030")
    except UnicodeDecodeError:
        raise UnicodeDecodeError("utf-8", data, 0, 1, "neither UTF-8 nor GB18030 text") from None
    if not _reads_as_text(text):
        raise UnicodeDecodeError("utf-8", data, 0, 1, "neither UTF-8 nor GB18030 text")
    return text, "gb18030"


def _reads_as_text(text: str) -> bool:
    if not text:
        return True
    plausible = 0
    for ch in text:
        if ch.isascii() or "\u4e00" <= ch <= "\u9fff" or "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef":
            plausible += 1
        elif unicodedata.category(ch)[0] in "LPN" and not ("\ue000" <= ch <= "\uf8ff"):
            plausible += 0.5
    return plausible / len(text) >= 0.9
