"""Saving uploaded notes into the corpus: safe names, no path traversal, size-limited (per file, per
upload, per corpus: every byte added costs embedding time), no duplicates."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from ..ingest.load import NOTE_SUFFIXES, decode_note

MB = 1024 * 1024
MAX_UPLOAD_BYTES = 5 * MB  # per file
UNSAFE = re.compile(r"[^\w\-. ]+")  # \w keeps CJK letters


def safe_name(original: str) -> str:
    """The file's own name only (no folders), reduced to letters, digits, CJK, - _ . and spaces."""
    name = unicodedata.normalize("NFC", original.replace("\\", "/").rsplit("/", 1)[-1]).strip()
    name = UNSAFE.sub("_", name).strip(" .")
    stem, dot, suffix = name.rpartition(".")
    if not dot or not stem.strip("._ "):
        return ""
    return f"{stem[:80]}.{suffix.lower()}"


def save_upload(source: Path, original_name: str, corpus_dir: Path) -> str:
    """Copy one uploaded file into corpus_dir; returns a one-line report of what happened."""
    name = safe_name(original_name)
    if not name or not name.endswith(NOTE_SUFFIXES):
        return f"skipped {original_name}: only .md, .markdown and .txt notes can be added"
    data = Path(source).read_bytes()
    if len(data) > MAX_UPLOAD_BYTES:
        return f"skipped {original_name}: larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB"
    try:
        _, encoding = decode_note(data)
    except UnicodeDecodeError as problem:
        return f"skipped {original_name}: {problem.reason} (save it as UTF-8)"
    corpus_dir = Path(corpus_dir)
    corpus_dir.mkdir(parents=True, exist_ok=True)
    target = corpus_dir / name
    stem, suffix = target.stem, target.suffix
    number = 1
    while target.exists():
        if target.read_bytes() == data:
            return f"{original_name} is already in the notes as {target.name}"
        number += 1
        target = corpus_dir / f"{stem}-{number}{suffix}"
    target.write_bytes(data)  # the user's bytes as given: an encoding is never rewritten on a guess
    note = "" if encoding == "utf-8" else f" ({encoding.upper()} text, kept as given)"
    return f"added {target.name}{note}"


def save_uploads(files: list[tuple[Path, str]], corpus_dir: Path, max_request_mb: float, max_corpus_mb: float) -> list[str]:
    """Save one upload request's (file, original name) pairs within the caps; one report line per file."""
    total = sum(Path(source).stat().st_size for source, _ in files)
    if total > max_request_mb * MB:
        return [f"nothing added: this upload is {total / MB:.1f} MB, more than the {max_request_mb:g} MB allowed at once "
                "— add fewer files at a time (NOTEBOT_UPLOAD_MAX_MB)"]
    used = corpus_bytes(corpus_dir)
    lines = []
    for source, name in files:
        size = Path(source).stat().st_size
        if used + size > max_corpus_mb * MB:
            lines.append(f"skipped {name}: the notes folder would grow past {max_corpus_mb:g} MB (NOTEBOT_CORPUS_MAX_MB)")
            continue
        line = save_upload(Path(source), name, corpus_dir)
        if line.startswith("added"):
            used += size
        lines.append(line)
    return lines


def corpus_bytes(corpus_dir: Path) -> int:
    """Bytes of the notes under corpus_dir (what a re-index would embed)."""
    corpus_dir = Path(corpus_dir)
    if not corpus_dir.is_dir():
        return 0
    return sum(p.stat().st_size for p in corpus_dir.rglob("*") if p.is_file() and p.name.lower().endswith(NOTE_SUFFIXES))
