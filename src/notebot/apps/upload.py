"""Saving uploaded notes into the corpus: safe names, no path traversal, size-limited, no duplicates."""

from __future__ import annotations

import re
import unicodedata
from pathlib import Path

from ..ingest.load import NOTE_SUFFIXES, decode_note

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
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
