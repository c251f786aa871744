"""Retrieval modes over an Index: BM25, vectors, and their fusion by reciprocal rank (with note-level
evidence, and for answers line evidence: each top passage's best line)."""

from __future__ import annotations

import re
from typing import Protocol

import numpy as np

from ..errors import NotebotError
from ..question_words import NUMBER_QUESTION, without_note_talk
from ..records import Chunk, Hit
from ..settings import MODES
from ..store import Index, Scored
from ..tokenize import CJK as CJK_CHARS, normalize
from .coverage import weigh_slots
from .dictionary import translations
from .line_ranking import LineMatrix, line_matrix
from .lines import line_vectors, overlap, own_line_texts, term_weights
from .notes import VaultEvidence, vault_evidence

CHINESE = re.compile(f"[{CJK_CHARS}]")
MAX_QUERY_CHARS = 2000  # e5 reads 512 tokens; the rest of a pasted essay only adds noise
RRF_K = 5  # measured on the dev set with and without distractors (benchmarks/README.md)
CANDIDATES = 50
# The glossary ranking weighs half a chunk ranking. Note votes are off: on the whole vault (4,210
# chunks) they cost dev Hit@1 0.800 -> 0.725 for one more dev-wide Hit@5 question; the glossary alone
# lifts dev-wide Hit@5 0.786 -> 0.857 (benchmarks/README.md, "Retrieval in a vault").
NOTE_RRF_K = 5
NOTE_DEPTH = 20  # notes ranked per view; the rest get no vote
NOTE_SCAN = 1000  # chunks whose cosine ranks notes: a note not among them ranks below every note that is
NOTE_VECTOR_WEIGHT = 0.0
NOTE_OUTLINE_WEIGHT = 0.0
GLOSSARY_WEIGHT = 0.5
# Once every line of the index is embedded (search/line_ranking.py): chunks ranked by their best line
# join the fusion at the weight of a chunk ranking. Measured on the whole vault (benchmarks/README.md,
# "Line ranking"): dev-wide Hit@5 0.857 -> 0.929 under `ask`, dev Hit@1 0.850 -> 0.875, `corpus/`
# alone unchanged; weights 0.75–1.25 alike, 1.5 and up cost Hit@1 everywhere.
LINE_RANKING_WEIGHT = 1.0
# A question with English words is also read with the Chinese words for them (search_text): its vector
# and line rankings are then run for both readings, each at this share of their weight, so the
# vectors' total say is unchanged. Measured on the whole vault and `corpus/` (benchmarks/README.md,
# "An English question read in Chinese too"): half and half lost fewer answers than the translated
# reading alone, and found more passages than the question alone.
TRANSLATED_SHARE = 0.5
# Line evidence (answers only): the fused top 5 are ranked once more by their best single line's
# cosine with the question (the line read with its heading path, search/lines.py), and that ranking
# joins the fusion at the weight of a chunk ranking: in a long note the passages all look alike as
# 600-character wholes, but only one holds the line that answers. Measured on the whole vault:
# dev-wide Hit@1 0.518 -> 0.661, dev 0.800 -> 0.850; corpus/ alone 0.900 -> 0.925. Embedding a
# line costs ~40 ms on 2 cores the first time, so only each passage's 5 lines richest in the
# question's terms are embedded (4 to 10 measured alike; every line: twice the lines, no better),
# and plain search leaves it off and stays instant (benchmarks/README.md, "Line evidence").
LINE_DEPTH = 5
LINE_WEIGHT = 1.0
LINES_PER_PASSAGE = 5
# Until every line is embedded the fusion has no line ranking, and a passage whose line answers
# may sit just below the first five: the re-rank then reads the top UNRANKED_LINE_DEPTH, those
# below the first five by their TAIL_LINES_PER_PASSAGE lines richest in the question's terms (14
# more lines to embed for a new question). Measured on the whole vault as built (benchmarks/README.md,
# 2026-12-03 09:10): dev-wide Hit@5 0.875 -> 0.911, the three held-out vault sets 5 more passages in
# their top 5 and 2 more first; one line per passage found fewer. Once the line ranking joins the
# fusion a deeper re-rank counts the same evidence twice (warmed: dev-wide Hit@5 0.929 -> 0.893).
UNRANKED_LINE_DEPTH = 12
TAIL_LINES_PER_PASSAGE = 2
# The same re-rank also ranks the passages by how much of the question their best single line holds,
# read with its heading path (search/coverage.py: IDF-weighted content slots, each counted once,
# through translations both ways): siblings in a long note share the subject's words and vectors
# alike, but one line holds the question's asking word too ("Observer pattern 有哪些缺点？": the
# line "缺点：" under Observer Pattern). Passages that tie share a rank. At half a ranking's weight;
# it needs no vectors and is no part of the fusion, so it reads the top 12 on a warmed index too.
# Plain hybrid search (no line vectors read) reorders only its first five by it: read deeper, it
# lifted more vault passages into the top 5 but pushed one `corpus/` answer out of two files' top 5.
# Measured on the whole vault and `corpus/` (benchmarks/README.md, 2026-12-03 11:35).
# A number question ("…最多能覆盖几个区域？") is answered by a line stating a number: its passages are
# ranked by their lines that state one (a passage with none gets no vote), so the section's introduction
# that names the subject no longer outranks the sibling holding its number. Measured on every set
# (benchmarks/README.md, 2026-12-04 17:50): 2 more passages first, 4 more higher, 1 lower (4th to 5th).
# Each rank's vote is scaled by the passage's share of the best coverage, so one holding none of the
# question (near only by its vector) gets none (benchmarks/README.md, 2026-12-04 20:10: over 21 question
# files 16 passages more first, 4 fewer; two near-topic questions no longer refused).
LINE_COVERAGE_WEIGHT = 0.5
COVERAGE_DEPTH = 12
# The passage the answer opens in is chosen by the same two votes at a stronger say; the passages after
# it keep the order above. In a vault a passage naming the subject (a section's introduction, another
# note's section) often outranks the one whose line answers, and stronger votes lift that one; applied
# to the whole order they also reorder the passages an answer quotes its further lines from (`corpus/`
# number probes keywords 26 -> 24). Measured on every set as built (benchmarks/README.md, 2026-12-05
# 03:39): vault Hit@1 held out 102 -> 105 of 160, dev files 107 -> 109 of 152; coverage at 1.0 lifted
# more but led "EFS 使用哪种协议？" with another service's line that names EFS and 协议. Only until every
# line is embedded: once the line ranking joins the fusion it counts the same evidence twice (warmed
# vault: dev files 109 -> 108, held out 105 -> 104).
FIRST_LINE_WEIGHT = 1.5
FIRST_COVERAGE_WEIGHT = 0.75


class Retriever(Protocol):
    """One retrieval mode: the best n (chunk, score) pairs for a query, best first."""

    def __call__(self, index: Index, query: str, n: int, query_vector: np.ndarray | None = None) -> Scored: ...


def search(index: Index, query: str, k: int = 5, mode: str = "hybrid", query_vector: np.ndarray | None = None,
           line_evidence: bool = False, line_coverage: bool = True) -> list[Hit]:
    """The k best chunks for the query, best first. `query_vector`, when the caller already embedded
    the query (ask() needs it for the refusal rule and line scores), spares embedding it again.
    `line_evidence` (hybrid mode, for answers) re-ranks the top LINE_DEPTH (UNRANKED_LINE_DEPTH
    until the fusion ranks by lines, the first place then chosen at the FIRST_* weights) by their
    best line, and the top COVERAGE_DEPTH by line coverage; without it hybrid search re-ranks its
    first five by line coverage only (no vectors), unless `line_coverage` is off."""
    query = clean_query(query)
    if mode not in MODES:
        raise NotebotError(f"unknown retrieval mode {mode!r}", f"use one of: {', '.join(MODES)}")
    if k < 1:
        raise NotebotError(f"-k {k} asks for no passages", "ask for at least 1")
    k = min(k, len(index))
    by_lines = line_evidence and mode == "hybrid" and _all_embedded(index)
    if by_lines and query_vector is None:
        query_vector = embed_query(index, query)  # once, for the chunks and their lines
    ranked = RETRIEVERS[mode](index, query, max(k, CANDIDATES), query_vector)
    if by_lines:
        unranked = fused_line_ranking(index) is None
        ranked = by_best_line(index, query, ranked, query_vector, UNRANKED_LINE_DEPTH if unranked else LINE_DEPTH,
                              stronger_first=unranked)
    elif mode == "hybrid" and line_coverage:  # no line vectors read: only the first five reordered by line coverage
        ranked = by_best_line(index, query, ranked, query_vector, depth=0, coverage_depth=LINE_DEPTH)
    return [Hit(chunk, float(score), rank) for rank, (chunk, score) in enumerate(ranked[:k], start=1)]


def clean_query(query: str) -> str:
    query = " ".join((query or "").split())
    if not query:
        raise NotebotError("the question is empty", "type a question, e.g. notebot search \"S3 对象最大多大\"")
    return query[:MAX_QUERY_CHARS]


def _all_embedded(index: Index) -> bool:
    """Lines are scored by vectors: not while a first run is still embedding (apps/watch.py)."""
    vectors = index.manifest.get("vectors", {})
    return vectors.get("embedded") != 0 and vectors.get("complete", True)


def vector(index: Index, query: str, n: int, query_vector: np.ndarray | None = None) -> Scored:
    if index.manifest.get("vectors", {}).get("embedded") == 0:
        return []  # a first run's keyword-only index (apps/watch.py): no model load for nothing
    return index.vector_search(embed_query(index, query) if query_vector is None else query_vector, n)


def embed_query(index: Index, query: str) -> np.ndarray:
    return embed_queries(index, [query])[0]


def embed_queries(index: Index, queries: list[str]) -> np.ndarray:
    """The queries' vectors, each made without the words that speak of the notes ("in my notes",
    "笔记里": question_words.NOTE_TALK), which only pull a question toward passages that talk alike."""
    return index.embedder.embed_queries([without_note_talk(query) for query in queries])


def search_text(index: Index, query: str) -> str:
    """The question followed by the Chinese words the dictionary and the vault's glossary give for
    its English words, as the notes write them ("transistor count double" + 晶体管 数量 翻倍;
    "eviction policy 是什么？" + 驱逐策略), leaving out words it already holds: e5 matches English
    words with a Chinese passage far more weakly than the same words in Chinese. A question with
    no English word is left as it is: the dictionary's English senses of Chinese words are too
    loose to search by (处理: treat, process). An -ed / -ing word adds no translation by its base
    form here, unlike line scores and coverage (measured: it moved passages both ways, one held-out
    answer out of the top 10). Reading the mixed questions (Chinese with English terms) so too
    measured Hit@1 +2 and Hit@5 +1 on the vault sets, Hit@1 +1 on `corpus/`, no passage lost from
    the top 5, for a second embedding of those questions (~12 ms; benchmarks/README.md)."""
    if not re.search(r"[a-z]", normalize(query)):
        return query  # no English word: the lookups would find only English senses, all left out
    found = [word for word in translations(index, query, base_forms=False) + index.glossary.expand(query)
             if CHINESE.search(word) and word not in query]
    return f"{query} {' '.join(dict.fromkeys(found))}" if found else query


def lexical(index: Index, query: str, n: int, query_vector: np.ndarray | None = None) -> Scored:
    return index.lexical_search(query, n)


def hybrid(index: Index, query: str, n: int, query_vector: np.ndarray | None = None) -> Scored:
    """Reciprocal-rank fusion of chunk rankings (vector, BM25, BM25 of the glossary's translations of
    the query's terms, and by best line once every line of a local index is embedded; the vector
    and line rankings for the question and for its search_text when that adds words), plus — when
    its weights are on — a vote for each chunk's note from two note rankings (best chunk cosine, BM25
    over title + headings). Rank sums tie often (1st + 3rd = 3rd + 1st), so ties go to the chunk
    with the higher sum of scores, each scaled by its list's best score; then corpus order.
    Every store runs this same fusion over its own searches (Milvus answers each in the engine), so
    they rank alike by design; the fusion's work is per candidate (a few hundred), never per chunk."""
    depth = max(n, CANDIDATES)
    note_votes = bool(NOTE_VECTOR_WEIGHT or NOTE_OUTLINE_WEIGHT)
    lines = fused_line_ranking(index)
    if lines is not None and query_vector is None:
        query_vector = embed_query(index, query)  # once, for the chunks and their lines
    every = vector(index, query, max(depth, NOTE_SCAN) if note_votes else depth, query_vector)  # notes are ranked by their best chunk
    keywords = lexical(index, query, depth)
    translated = search_text(index, query) if every else query  # no vectors yet: nothing to read it with
    share = TRANSLATED_SHARE if translated != query else 0.0
    rankings = [(every[:depth], 1.0 - share, None), (keywords, 1.0, None)]
    # While a first run is still embedding, a chunk without a vector has no vector rank: it is credited
    # its keyword rank a second time, so an unembedded answer is not buried under embedded near-misses.
    unembedded = index.missing_vectors() if hasattr(index, "missing_vectors") else set()
    if unembedded:
        rankings.append((keywords, 1.0, unembedded))
    glossary_terms = index.glossary.expand(query)
    if glossary_terms and GLOSSARY_WEIGHT:
        rankings.append((lexical(index, " ".join(glossary_terms), depth), GLOSSARY_WEIGHT, None))
    if lines is not None:
        rankings.append((lines.ranking(index, query_vector, depth), LINE_RANKING_WEIGHT * (1.0 - share), None))
    if share:
        translated_vector = embed_query(index, translated)
        rankings.append((index.vector_search(translated_vector, depth), share, None))
        if lines is not None:
            rankings.append((lines.ranking(index, translated_vector, depth), LINE_RANKING_WEIGHT * share, None))
    fused: dict[str, float] = {}
    strength: dict[str, float] = {}
    chunks: dict[str, Chunk] = {}
    for ranking, weight, only in rankings:
        best = max((score for _, score in ranking), default=1.0) or 1.0
        for rank, (chunk, score) in enumerate(ranking, start=1):
            if only is not None and chunk.id not in only:
                continue
            chunks.setdefault(chunk.id, chunk)
            fused[chunk.id] = fused.get(chunk.id, 0.0) + weight / (RRF_K + rank)
            strength[chunk.id] = strength.get(chunk.id, 0.0) + weight * score / best
    if note_votes:
        _add_note_votes(index, every, query, not unembedded, fused, chunks)
    ranked = sorted(chunks.values(), key=lambda c: (-fused[c.id], -strength.get(c.id, 0.0), c.file, c.line_start, c.line_end))
    return [(chunk, fused[chunk.id]) for chunk in ranked[:depth] if fused[chunk.id] > 0]


def fused_line_ranking(index: Index) -> LineMatrix | None:
    """The line matrix hybrid fusion ranks chunks by, once every line is gathered (and its weight is on)."""
    return line_matrix(index) if LINE_RANKING_WEIGHT else None


def by_best_line(index: Index, query: str, ranked: Scored, query_vector: np.ndarray | None, depth: int = LINE_DEPTH,
                 coverage_depth: int = COVERAGE_DEPTH, stronger_first: bool = False) -> Scored:
    """The first `depth` results re-fused with their rank by best line cosine (best_line_cosines), the
    first `coverage_depth` with their rank by best line coverage; the rest unchanged (each result only
    gains, so the head stays above the tail). `stronger_first` (lines read, `depth`, but no line
    ranking in the fusion): the first place goes to the passage these votes favour at their stronger
    FIRST_* weights."""
    window = max(depth, coverage_depth)
    head = ranked[:window]
    line_votes = np.zeros(len(head))
    line_rank = np.full(len(head), np.inf)  # below `depth`: no line read, no line vote
    best = best_line_cosines(index, query, [chunk for chunk, _ in head[:depth]], query_vector) if depth else np.zeros(0)
    if np.isfinite(best).any():
        line_rank[np.lexsort((np.arange(len(best)), -best))] = np.arange(1, len(best) + 1)
        line_votes[: len(best)] = 1.0 / (RRF_K + line_rank[: len(best)])
    slots = weigh_slots(query, index)
    wants_number = NUMBER_QUESTION.search(query) is not None
    coverage = np.array([slots.line_coverage(chunk, stating_a_number=wants_number) for chunk, _ in head])
    coverage_rank = 1 + (coverage[None, :] > coverage[:, None]).sum(axis=1)  # ties share the better rank
    best_coverage = coverage.max(initial=0.0)  # a rank says which passage holds more, not how much more
    coverage_votes = (coverage / best_coverage if best_coverage > 0 else coverage) / (RRF_K + coverage_rank)
    fused = np.array([score for _, score in head], dtype=float)
    scores = fused + (LINE_WEIGHT * line_votes + LINE_COVERAGE_WEIGHT * coverage_votes)
    order = _by_score(scores, line_rank)
    if stronger_first and depth and len(order) > 1:
        first = _by_score(fused + FIRST_LINE_WEIGHT * line_votes + FIRST_COVERAGE_WEIGHT * coverage_votes, line_rank)[0]
        scores[first] = max(scores[first], scores[order[0]])  # scores stay in order: answers weigh passages by them
        order = [first] + [i for i in order if i != first]
    return [(head[i][0], float(scores[i])) for i in order] + ranked[window:]


def _by_score(scores: np.ndarray, line_rank: np.ndarray) -> list[int]:
    """Positions best first. Sums of reciprocal ranks often tie exactly: a tie goes to the passage
    with the better line."""
    return sorted(range(len(scores)), key=lambda i: (-round(float(scores[i]), 12), line_rank[i], i))


def best_line_cosines(index: Index, query: str, chunks: list[Chunk], query_vector: np.ndarray) -> np.ndarray:
    """Each passage's best line cosine with the question. Of each of the first LINE_DEPTH passages
    the LINES_PER_PASSAGE lines sharing most of the question's terms are read (ties: the first
    lines), of each further one TAIL_LINES_PER_PASSAGE, so a question embeds at most 39 lines,
    once; a passage without a quotable line (all code, say) gets -inf."""
    weights = term_weights(query, index)
    texts, owners = [], []
    for position, chunk in enumerate(chunks):
        lines = own_line_texts(chunk)
        read = LINES_PER_PASSAGE if position < LINE_DEPTH else TAIL_LINES_PER_PASSAGE
        by_terms = sorted(range(len(lines)), key=lambda i: -overlap(lines[i], weights, index))[:read]
        texts += [lines[i] for i in sorted(by_terms)]
        owners += [position] * len(by_terms)
    best = np.full(len(chunks), -np.inf)
    if texts:
        np.maximum.at(best, owners, line_vectors(index, texts) @ np.asarray(query_vector, dtype=np.float32))
    return best


def _add_note_votes(index: Index, every: Scored, query: str, by_vectors: bool, fused: dict[str, float],
                    chunks: dict[str, Chunk]) -> None:
    """Every chunk of a note gets its note's vote (read from the index: for experiments on small vaults)."""
    evidence = vault_evidence(index)
    cosine = np.full(len(index), -1.0, dtype=np.float32)
    for chunk, score in every:
        cosine[evidence.positions[chunk.id]] = score
    votes = _note_votes(evidence, cosine, query, by_vectors)[evidence.note_of]
    for i in np.flatnonzero(votes):
        chunk = index.chunks[int(i)]
        chunks.setdefault(chunk.id, chunk)
        fused[chunk.id] = fused.get(chunk.id, 0.0) + float(votes[i])


def _note_votes(evidence: VaultEvidence, cosine: np.ndarray, query: str, by_vectors: bool = True) -> np.ndarray:
    """Each note's reciprocal rank among notes, by its best chunk and by its outline. While a first run
    is still embedding, notes without vectors cannot be ranked by cosine, so that view is left out."""
    votes = np.zeros(evidence.notes)
    if evidence.notes < 2:
        return votes  # one note: nothing to choose between
    by_outline = evidence.outline_scores(query)
    views = [(by_outline, NOTE_OUTLINE_WEIGHT, by_outline > 0)]
    if by_vectors:
        by_best_chunk = evidence.best_chunk_per_note(cosine)
        views.append((by_best_chunk, NOTE_VECTOR_WEIGHT, by_best_chunk > -1))
    for scores, weight, matched in views:
        order = np.lexsort((np.arange(len(scores)), -scores))[:NOTE_DEPTH]
        order = order[matched[order]]
        votes[order] += weight / (NOTE_RRF_K + np.arange(1, len(order) + 1))
    return votes


RETRIEVERS: dict[str, Retriever] = {"hybrid": hybrid, "vector": vector, "lexical": lexical}
