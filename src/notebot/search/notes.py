"""Note-level evidence: in a vault a question is usually about one note, so rank notes as well as chunks.

Two views of each note, both derived at first use from what the index already holds (no extra
embedding, nothing new on disk):
- its best chunk's cosine with the question (a note is as relevant as its most relevant passage);
- BM25 over its outline — file title and headings — which names the note's topics in the words
  learners use, often English even when the body is Chinese.
Both are off by default (search/retrieve.py), so this is derived only when their weights are on.
"""

from __future__ import annotations

import weakref
from dataclasses import dataclass

import numpy as np

from ..store import Index
from ..store.lexical import LexicalIndex, build_lexical


@dataclass
class VaultEvidence:
    note_of: np.ndarray  # note number of each chunk, in index order
    positions: dict[str, int]  # chunk id -> its place in index order
    outlines: LexicalIndex  # BM25, one document per note: title and headings

    @property
    def notes(self) -> int:
        return self.outlines.n_docs

    def best_chunk_per_note(self, chunk_scores: np.ndarray) -> np.ndarray:
        best = np.full(self.notes, -np.inf, dtype=np.float32)
        np.maximum.at(best, self.note_of, chunk_scores)
        return best

    def outline_scores(self, query: str) -> np.ndarray:
        return self.outlines.scores(query)


_EVIDENCE: "weakref.WeakKeyDictionary[Index, VaultEvidence]" = weakref.WeakKeyDictionary()


def vault_evidence(index: Index) -> VaultEvidence:
    """Built once per loaded index (~0.3 s for 4k chunks), then shared by every query."""
    evidence = _EVIDENCE.get(index)
    if evidence is None:
        evidence = _EVIDENCE[index] = _derive(index)
    return evidence


def _derive(index: Index) -> VaultEvidence:
    chunks = list(index.chunks)  # parsed once (a few ms per thousand chunks), read four times below
    numbers: dict[str, int] = {}
    outlines: list[list[str]] = []
    note_of = []
    for chunk in chunks:
        if chunk.file not in numbers:
            numbers[chunk.file] = len(outlines)
            outlines.append([_title(chunk.file)])
        outline = outlines[numbers[chunk.file]]
        outline.extend(h for h in chunk.headings if h not in outline)
        note_of.append(numbers[chunk.file])
    tokenizer = index.manifest.get("tokenizer", "cjk-bigram-v1")
    return VaultEvidence(
        note_of=np.asarray(note_of, dtype=np.int64),
        positions={chunk.id: i for i, chunk in enumerate(chunks)},
        outlines=LexicalIndex(build_lexical(["\n".join(lines) for lines in outlines], tokenizer), len(outlines), tokenizer),
    )


def _title(path: str) -> str:
    """`ml/text-classification.md` -> `text classification` (file names are often the note's topic)."""
    stem = path.rsplit("/", 1)[-1].rsplit(".", 1)[0]
    return stem.replace("-", " ").replace("_", " ")
