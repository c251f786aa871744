"""Plain records passed between the pipeline stages."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Document:
    """One note file as loaded: `path` is relative to the corpus root, with / separators."""

    path: str
    text: str
    encoding: str
    context: str = ""  # searchable words about the whole note (frontmatter title, aliases, tags)


@dataclass(frozen=True)
class Chunk:
    """A heading section (or a piece of a long one) of a note.

    `line_start`/`line_end` are 1-based and inclusive, in the source file.
    `text` is the original markdown of the piece, unstripped.
    """

    id: str
    file: str
    headings: tuple[str, ...]
    line_start: int
    line_end: int
    text: str
    context: str = ""  # the note's frontmatter title/aliases/tags (ingest/markdown.py), empty for most notes

    @property
    def heading_path(self) -> str:
        return " > ".join(self.headings)

    @property
    def where(self) -> str:
        """The note's name and the heading path, then the note's frontmatter words when it has any."""
        title = self.file.rsplit("/", 1)[-1].rsplit(".", 1)[0]
        where = " > ".join((title, *self.headings))
        # only notes with frontmatter: every other embed_text (and its cached vector) is unchanged
        return f"{where} | {self.context}" if self.context else where

    @property
    def embed_text(self) -> str:
        """What the embedder and the lexical index see: heading context first, then the text."""
        return f"{self.where}\n{self.text}"

    def to_json(self) -> dict:
        data = {"id": self.id, "file": self.file, "headings": list(self.headings), "line_start": self.line_start,
                "line_end": self.line_end, "text": self.text}
        if self.context:
            data["context"] = self.context
        return data

    @classmethod
    def from_json(cls, data: dict) -> "Chunk":
        return cls(**{**data, "headings": tuple(data["headings"])})


@dataclass(frozen=True)
class Hit:
    """A chunk retrieved for a query, with its rank (1-based) and the retriever's score."""

    chunk: Chunk
    score: float
    rank: int

    def citation(self) -> dict:
        c = self.chunk
        return {
            "file": c.file,
            "heading_path": c.heading_path,
            "lines": [c.line_start, c.line_end],
            "chunk_id": c.id,
            "score": round(self.score, 4),
        }


@dataclass
class Answer:
    """What `ask()` returns: the answer text with [n] citations into `hits` (1-based)."""

    question: str
    text: str
    lang: str
    refused: bool
    hits: list[Hit]
    answerer: str
    notice: str = ""  # visible remark, e.g. "LLM unreachable, extractive answer shown"
    search_query: str = ""  # the question after follow-up resolution
    timings: dict[str, float] = field(default_factory=dict)
    quoted: dict[int, list[int]] = field(default_factory=dict)  # citation [n] -> note line numbers quoted from it

    def to_json(self) -> dict:
        return {
            "question": self.question,
            "answer": self.text,
            "lang": self.lang,
            "refused": self.refused,
            "answerer": self.answerer,
            "notice": self.notice,
            "search_query": self.search_query,
            "citations": [h.citation() | {"quoted_lines": self.quoted.get(n, [])} for n, h in enumerate(self.hits, start=1)],
            "timings": {k: round(v, 2) for k, v in self.timings.items()},
        }
