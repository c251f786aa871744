"""Load the corpus: every .md/.markdown/.txt file under a folder, decoded without guessing wrong."""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..errors import NotebotError
from ..records import Document
from .markdown import read_markdown

NOTE_SUFFIXES = (".md", ".markdown", ".txt")
MARKDOWN_SUFFIXES = (".md", ".markdown")


def find_note_files(corpus_dir: Path, warn: Callable[[str], None] = lambda message: None) -> list[Path]:
    """Note files in sorted path order; a file whose name is not UTF-8 is skipped with a warning naming its bytes."""
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        raise NotebotError(f"corpus folder {corpus_dir} does not exist", "create it and put your .md notes in it, or pass another folder")
    files = []
    # os.walk (scandir: no stat per non-note) and hidden folders (.git, .obsidian, .trash) never entered:
    # a vault of 100k attachments costs a directory listing, not 100k stat calls.
    for folder, subfolders, names in os.walk(corpus_dir):
        subfolders[:] = [name for name in subfolders if not name.startswith(".")]
        for name in names:
            path = Path(folder, name)
            if name.startswith(".") or path.suffix.lower() not in NOTE_SUFFIXES or not path.is_file():
                continue
            relative = path.relative_to(corpus_dir)
            try:
                relative.as_posix().encode("utf-8")  # undecodable bytes arrive as lone surrogates (PEP 383)
            except UnicodeEncodeError:
                warn(f"skipped {os.fsencode(relative)!r}: its name is not UTF-8 (rename the file to include it)")
                continue
            files.append(path)
    return sorted(files, key=lambda p: p.relative_to(corpus_dir).as_posix())


def load_corpus(corpus_dir: Path, warn: Callable[[str], None] = lambda message: None) -> list[Document]:
    """Documents in sorted path order; undecodable files are skipped with a warning naming them."""
    return [note.document for note in scan_corpus(corpus_dir, warn=warn)]


@dataclass(frozen=True)
class NoteFile:
    """One note as a build sees it. `document` is None when the note was not read: its size and
    mtime are those recorded in `known`, so its text (and `sha256`) is the one recorded there."""

    path: str  # relative to the corpus, / separators
    size: int
    mtime_ns: int
    sha256: str  # of the text as notebot reads it (Document.text): what the corpus fingerprint hashes
    encoding: str
    document: Document | None


RACY_NS = 2_000_000_000  # mtime granularity margin (FAT: 2 s): a file this close to the last scan is re-read


def scan_corpus(corpus_dir: Path, known: dict[str, dict] | None = None, scanned_at_ns: int = 0,
                warn: Callable[[str], None] = lambda message: None) -> list[NoteFile]:
    """Every note in sorted path order. A note whose size and mtime match `known` (path -> a
    NoteFile's fields, from the previous build, whose scan began at `scanned_at_ns`) is not read,
    unless it was modified within RACY_NS of that scan — a same-size save in the same mtime tick
    would otherwise go unseen (git's "racily clean" rule)."""
    corpus_dir = Path(corpus_dir)
    known = known or {}
    notes = []
    for path in find_note_files(corpus_dir, warn):
        relative = path.relative_to(corpus_dir).as_posix()
        try:
            stat = path.stat()  # before reading: a save after it shows as a new mtime next time
        except OSError as problem:  # vanished since the listing
            warn(f"skipped {relative}: cannot read it ({problem.strerror})")
            continue
        entry = known.get(relative)
        if (entry and entry.get("size") == stat.st_size and entry.get("mtime_ns") == stat.st_mtime_ns
                and stat.st_mtime_ns < scanned_at_ns - RACY_NS and entry.get("sha256")):
            notes.append(NoteFile(relative, stat.st_size, stat.st_mtime_ns, entry["sha256"], entry.get("encoding", "utf-8"), None))
            continue
        document = read_note(path, relative, warn)
        if document is not None:
            digest = hashlib.sha256(document.text.encode()).hexdigest()
            notes.append(NoteFile(relative, stat.st_size, stat.st_mtime_ns, digest, document.encoding, document))
    return notes


def read_note(path: Path, relative: str, warn: Callable[[str], None] = lambda message: None) -> Document | None:
    """One note as notebot reads it; None (with a warning) when it cannot be read or decoded."""
    try:
        text, encoding = decode_note(path.read_bytes())
    except UnicodeDecodeError as problem:
        warn(f"skipped {relative}: {problem.reason} (save it as UTF-8 to include it)")
        return None
    except OSError as problem:
        warn(f"skipped {relative}: cannot read it ({problem.strerror})")
        return None
    if encoding != "utf-8":
        warn(f"{relative} is {encoding.upper()}, not UTF-8: decoded as {encoding.upper()}")
    document = Document(path=relative, text=text, encoding=encoding)
    if path.suffix.lower() in MARKDOWN_SUFFIXES:
        document = read_markdown(document, warn)  # Obsidian-style syntax, same line numbers
    return document


def decode_note(data: bytes) -> tuple[str, str]:
    """UTF-8 (BOM stripped); else GB18030 or CP1252 only on evidence; anything else is refused.

    Both legacy codecs accept byte strings that are not text in them (Latin-1 "Grüße" decodes as
    GB18030 "Gr\ue3eae"), so the bytes must look like the language, not merely decode:
    - GB18030: most non-ASCII characters are GB2312's common part (punctuation, full-width forms and
      the 3,755 level-1 hanzi, which carry almost all of written Chinese). Latin-1 letters are bytes
      0xC0-0xFF followed by ASCII, which never forms one of those.
    - CP1252 (Windows Western, a superset of Latin-1's letters): the text is mostly ASCII and its other
      characters are Latin letters or common punctuation, in short runs, as in "Größe" or "façade";
      Chinese read as CP1252 is long runs of symbols.
    No latin-1 fallback: it never fails, which is exactly how mojibake gets into an index.
    """
    if b"\x00" in data:
        raise UnicodeDecodeError("utf-8", data, 0, 1, "binary file (contains NUL bytes)")
    try:
        return data.decode("utf-8-sig"), "utf-8"
    except UnicodeDecodeError:
        pass
    for encoding, looks_right in (("gb18030", _reads_as_chinese), ("cp1252", _reads_as_western)):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        if looks_right(text):
            return text, encoding
    raise UnicodeDecodeError("utf-8", data, 0, 1, "not UTF-8, and neither GB18030 nor CP1252 fit its bytes")


def _reads_as_chinese(text: str) -> bool:
    foreign = [ch for ch in text if not ch.isascii()]
    if not foreign:
        return True
    common = 0
    for ch in foreign:
        code = ch.encode("gb18030")
        if len(code) == 2 and 0xA1 <= code[1] <= 0xFE and (0xA1 <= code[0] <= 0xA9 or 0xB0 <= code[0] <= 0xD7):
            common += 1
    return common / len(foreign) >= 0.8


WESTERN_PUNCTUATION = set("\u00a0‘’‚“”„–—…•€£¥¢«»°±×÷·§©®™¡¿´¨²³¹¼½¾µºª†‡‰‹›¦¬¯¸")
WESTERN_RUN = re.compile(r"[^\x00-\x7f]{4,}")


def _reads_as_western(text: str) -> bool:
    foreign = [ch for ch in text if not ch.isascii()]
    if not all(ch in WESTERN_PUNCTUATION or ("\u00c0" <= ch <= "\u024f" and ch.isalpha()) for ch in foreign):
        return False
    accented = sum(ch.isalpha() for ch in foreign)
    return accented <= 0.4 * sum(ch.isalpha() for ch in text) and not WESTERN_RUN.search(text)
