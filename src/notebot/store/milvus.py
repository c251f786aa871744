"""The `milvus` store: the index as one Milvus collection, through pymilvus's MilvusClient.

The same code talks to Milvus Lite (a file path, embedded, one process per file) and to a Milvus
standalone server or cluster (http(s)://host:19530, + NOTEBOT_MILVUS_TOKEN).

    collection <alias>_<build id>: id (chunk id, primary key), file, headings (JSON), line_start,
        line_end, text, terms, dense (the chunk's vector), sparse (BM25, computed by Milvus)
    alias <alias>: what readers query; a rebuild fills a new collection, then moves the alias
    collection property notebot.manifest: the facts (format, embedder + dim, chunker, tokenizer,
        fingerprint, counts); readers refuse a mismatch with the fix, as for `local`
    collection property notebot.glossary: the vault's bilingual term pairs (glossary.py), mined at build
    collection property notebot.characters: how many chunks hold each Chinese character, counted at
        build (the refusal rule's weights: no query fetches every chunk to count them)
    collection <alias>_<build id>_terms: id (a term's hash), df (how many chunks hold it): the
        document frequencies answers weigh question terms by, looked up by primary key in one query
        (TEXT_MATCH counted them one query per term: ~0.5 s each in Lite, tens of seconds an answer)
    <index-dir>/manifest.json: which store, URI and alias, and the last build's manifest (for info)

`terms` is the chunk text as notebot's own tokenizer cuts it, each token written as a short hash
(so Milvus's `standard` analyzer keeps it whole): Milvus computes BM25 over exactly the tokens the
`local` store uses and keeps IDF current as chunks come and go; the client counts the same tokens'
document frequencies when it writes (it tokenises every chunk then anyway) and updates them by delta.
Measured against BM25 over `text` with the jieba analyzer in benchmarks/README.md.
Incremental re-indexing upserts new or moved chunks and deletes removed ones by id.
Hybrid search is notebot's own fusion (search/retrieve.py) over the engine's vector and BM25
searches, as for `local`: both stores rank alike by design.
"""

from __future__ import annotations

import hashlib
import json
import re
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from ..embed import Embedder, get_embedder
from ..errors import NotebotError, OutdatedIndex
from ..glossary import Glossary, mine_glossary
from ..records import Chunk
from ..redact import redact_url
from ..tokenize import chinese_character_counts, tokenize
from . import Scored, read_json
from .local import MANIFEST, write_json_atomic, writing

FORMAT = "milvus-4"  # 2: the glossary is a collection property; 3: the character counts too; 4: a terms collection
LITE_FILE = "milvus.db"
FACTS = "notebot.manifest"
GLOSSARY = "notebot.glossary"
CHARACTERS = "notebot.characters"
TERMS_SUFFIX = "_terms"  # the build's document frequencies live in <collection>_terms
LOOKUP_BATCH = 1000
TERMS_BATCH = 5000
UNUSED_VECTOR = [0.0, 0.0]
FIELDS = ["id", "file", "headings", "line_start", "line_end", "text", "context"]
CONNECT_TIMEOUT = 10.0  # seconds before an unreachable server is reported
INSERT_BATCH = 500
# What Milvus's BM25 reads: `terms` (notebot's own tokens, the default) or `text` (Milvus's jieba
# analyzer); benchmarks/scale.py --parity measures both.
LEXICAL_FIELD = "terms"

_clients: dict[tuple[str, str], object] = {}  # one client per URI and process: Lite allows one process per file


def _pymilvus():
    import logging
    import os

    # gRPC's C core logs keepalive chatter ("too_many_pings") to stderr; notebot reports failures itself
    os.environ.setdefault("GRPC_VERBOSITY", "NONE")
    try:
        import pymilvus
    except ImportError:
        raise NotebotError("the milvus store needs pymilvus", "install it with: pip install 'notebot[milvus]'") from None
    # pymilvus logs every failed call with a traceback; notebot reports them as one line instead
    for name in ("pymilvus", "milvus_lite"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    return pymilvus


def _milvus_error(uri: str, problem: Exception) -> NotebotError:
    text = " ".join(str(getattr(problem, "message", "") or problem).split())[:200]
    return NotebotError(f"Milvus at {redact_url(uri)} failed: {text}",
                        "check that the server is running and --milvus-uri / NOTEBOT_MILVUS_URI is right, then try again")


def term_hash(token: str) -> str:
    return "t" + hashlib.blake2b(token.encode("utf-8"), digest_size=6).hexdigest()


def hashed_terms(text: str, tokenizer: str) -> str:
    return " ".join(term_hash(token) for token in tokenize(text, tokenizer))


class MilvusStore:
    """The `milvus` backend (the `Store` protocol)."""

    name = "milvus"

    def __init__(self, settings):
        self.index_dir = Path(settings.index_dir)
        pointer = self._pointer()
        uri = settings.milvus_uri
        if uri and not uri.startswith(("http://", "https://")):
            uri = str(Path(uri).resolve())  # remembered in the index folder: must not depend on the cwd
        self.uri_setting = uri or pointer.get("uri", "")
        self.uri = self.uri_setting or str(self.index_dir / LITE_FILE)
        self.token = settings.milvus_token
        self.alias = pointer.get("alias") or _alias_for(self.index_dir)
        self.lexical_field = LEXICAL_FIELD
        self.location = f"{redact_url(self.uri)} (collection alias {self.alias})"
        self._client = None
        if not self.uri.startswith(("http://", "https://")) and not self.uri.endswith(".db"):
            raise NotebotError(f"the Milvus Lite file {self.uri} does not end in .db",
                               "name a file like notes.db, or give a server as http(s)://host:19530")

    def _pointer(self) -> dict:
        try:
            data = read_json(self.index_dir / MANIFEST)
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) and data.get("store") == "milvus" else {}

    @property
    def client(self):
        if self._client is None:
            self._client = _connect(self.uri, self.token, self.index_dir)
        return self._client

    def close(self) -> None:
        """Let go of the connection (a Lite file is open to one process at a time)."""
        client = _clients.pop((self.uri, self.token), None)
        if client is not None:
            client.close()
        if not self.uri.startswith(("http://", "https://")):
            from milvus_lite.server_manager import server_manager_instance  # Lite serves its file in-process

            server_manager_instance.release_server(self.uri)
        self._client = None

    def describe(self) -> str:
        return f"milvus  {redact_url(self.uri)}  alias {self.alias} -> {self._current() or '(none)'}"

    def exists(self) -> bool:
        return bool(self._pointer()) or self._current() is not None

    # -- the facts stored with the collection

    def _current(self) -> str | None:
        """The collection the alias points at, or None before the first build."""
        try:
            return self.client.describe_alias(self.alias)["collection_name"]
        except NotebotError:
            raise
        except Exception as problem:  # noqa: BLE001 - pymilvus raises MilvusException subclasses for "no such alias"
            if _is_missing(problem):
                return None
            raise _milvus_error(self.uri, problem) from None

    def _facts(self, collection: str) -> dict:
        try:
            properties = self.client.describe_collection(collection).get("properties", {})
        except Exception as problem:  # noqa: BLE001
            raise _milvus_error(self.uri, problem) from None
        if FACTS not in properties:
            raise NotebotError(f"the Milvus collection {collection} at {redact_url(self.uri)} was not created by notebot",
                               "choose another --index-dir (its name names the collection), or drop that collection")
        return json.loads(properties[FACTS])

    def read_manifest(self) -> dict:
        pointer = self._pointer()
        collection = self._current()  # a teammate's index on a shared server needs no local folder
        if collection is None:
            raise NotebotError(f"no index {self.alias} at {redact_url(self.uri)}", "build it with: notebot index --store milvus")
        facts = self._facts(collection)
        self._load(collection)
        if facts.get("format_version") != FORMAT:
            raise OutdatedIndex(f"the Milvus collection {collection} has format {facts.get('format_version')}, this notebot reads {FORMAT}",
                               "rebuild it with: notebot index --store milvus   (vectors come from the embedding cache)")
        self._load(collection + TERMS_SUFFIX)
        local = pointer.get("manifest", {})
        files = local.get("corpus", {}).get("files", []) if local.get("corpus", {}).get("fingerprint") == facts["corpus"]["fingerprint"] else []
        return {**facts, "corpus": {**facts["corpus"], "files": files}, "collection": collection, "uri": self.uri_setting}

    def previous_manifest(self) -> dict | None:
        try:
            return self.read_manifest()
        except OutdatedIndex:
            return None  # nothing to keep: build afresh
        except NotebotError as problem:
            if problem.message.startswith("no index"):
                return None
            raise  # an unreachable server, or a collection that is not ours: never overwrite it

    def damage(self, manifest: dict) -> list[str]:
        """The collection holds the manifest's number of chunks (Milvus keeps its own data safe)."""
        collection = manifest["collection"]
        count = self._count(collection)
        damaged = [] if count == manifest["counts"]["chunks"] else [f"collection {collection} ({count} of {manifest['counts']['chunks']} chunks)"]
        try:
            properties = self.client.describe_collection(collection).get("properties", {})
            terms = self.client.has_collection(collection + TERMS_SUFFIX)
        except Exception as problem:  # noqa: BLE001
            raise _milvus_error(self.uri, problem) from None
        damaged += [f"collection {collection} (no {what})" for key, what in ((GLOSSARY, "glossary"), (CHARACTERS, "character counts"))
                    if key not in properties]
        return damaged if terms else [*damaged, f"collection {collection}{TERMS_SUFFIX} (missing)"]

    def _load(self, collection: str) -> None:
        """Collections come up released after a restart (always, in Lite): load before querying."""
        try:
            if "NotLoad" in str(self.client.get_load_state(collection).get("state")):
                self.client.load_collection(collection)
        except Exception as problem:  # noqa: BLE001
            raise _milvus_error(self.uri, problem) from None

    def _count(self, collection: str) -> int:
        try:
            return int(self.client.query(collection, filter="", output_fields=["count(*)"])[0]["count(*)"])
        except Exception as problem:  # noqa: BLE001
            raise _milvus_error(self.uri, problem) from None

    # -- writing

    def write(self, manifest: dict, chunks: list[Chunk], vectors: np.ndarray, previous: dict | None = None,
              rebuild: bool = False) -> None:
        facts = {**manifest, "format_version": FORMAT, "store": "milvus", "lexical": self.lexical_field,
                 "corpus": {k: v for k, v in manifest["corpus"].items() if k != "files"}}
        rows = [self._row(chunk, vector, manifest["tokenizer"]) for chunk, vector in zip(chunks, vectors)]
        texts = [c.text for c in chunks]
        properties = {FACTS: json.dumps(facts, ensure_ascii=False),
                      GLOSSARY: json.dumps(mine_glossary(texts).to_json(), ensure_ascii=False),
                      CHARACTERS: json.dumps(chinese_character_counts(texts), ensure_ascii=False)}
        try:
            current = self._current()
            if current and not rebuild and previous and _same_shape(self._facts(current), facts):
                self._update(current, rows)
                self.client.alter_collection_properties(current, properties)
            else:
                self._replace(current, rows, properties, manifest["embedder"]["dim"])
        except NotebotError:
            raise
        except Exception as problem:  # noqa: BLE001
            raise _milvus_error(self.uri, problem) from None
        with writing(self.index_dir):
            write_json_atomic(self.index_dir / MANIFEST, {"store": "milvus", "uri": self.uri_setting, "alias": self.alias,
                                                          "manifest": manifest})

    def _row(self, chunk: Chunk, vector: np.ndarray, tokenizer: str) -> dict:
        return {"id": chunk.id, "file": chunk.file, "headings": json.dumps(list(chunk.headings), ensure_ascii=False),
                "line_start": chunk.line_start, "line_end": chunk.line_end, "text": chunk.text, "context": chunk.context,
                "terms": hashed_terms(chunk.embed_text, tokenizer), "dense": np.asarray(vector, np.float32).tolist()}

    def _update(self, collection: str, rows: list[dict]) -> None:
        """Upsert chunks that are new, moved or re-described (frontmatter), delete chunks that are gone: by id;
        the document frequencies change by what those chunks add and take away."""
        stored = {}
        for batch in _iterate(self.client, collection, ["id", "line_start", "line_end", "context"]):
            stored.update({r["id"]: (r["line_start"], r["line_end"], r["context"]) for r in batch})
        changed = [r for r in rows if stored.get(r["id"]) != (r["line_start"], r["line_end"], r["context"])]
        gone = sorted(set(stored) - {r["id"] for r in rows})
        replaced = self._lookup(collection, "terms", [r["id"] for r in changed if r["id"] in stored] + gone)
        delta = _document_frequencies(r["terms"] for r in changed)
        delta.subtract(_document_frequencies(replaced.values()))
        for start in range(0, len(changed), INSERT_BATCH):
            self.client.upsert(collection, changed[start : start + INSERT_BATCH])
        for start in range(0, len(gone), INSERT_BATCH):
            self.client.delete(collection, ids=gone[start : start + INSERT_BATCH])
        self._update_terms(collection + TERMS_SUFFIX, {term: n for term, n in delta.items() if n})

    def _update_terms(self, name: str, delta: dict[str, int]) -> None:
        """Add each term's change in document frequency; a term no chunk holds any more is deleted."""
        stored = self._lookup(name, "df", sorted(delta))
        counts = {term: stored.get(term, 0) + n for term, n in delta.items()}
        kept = [{"id": term, "df": n, "unused": UNUSED_VECTOR} for term, n in sorted(counts.items()) if n > 0]
        for start in range(0, len(kept), TERMS_BATCH):
            self.client.upsert(name, kept[start : start + TERMS_BATCH])
        dropped = sorted(term for term, n in counts.items() if n <= 0)
        for start in range(0, len(dropped), TERMS_BATCH):
            self.client.delete(name, ids=dropped[start : start + TERMS_BATCH])

    def _lookup(self, collection: str, field: str, ids: list[str]) -> dict[str, object]:
        """id -> field, for the ids the collection holds, by primary key (LOOKUP_BATCH ids a query)."""
        found = {}
        for start in range(0, len(ids), LOOKUP_BATCH):
            batch = ids[start : start + LOOKUP_BATCH]
            rows = self.client.query(collection, filter=f"id in {json.dumps(batch)}", output_fields=["id", field])
            found.update({row["id"]: row[field] for row in rows})
        return found

    def _replace(self, current: str | None, rows: list[dict], properties: dict, dim: int) -> None:
        """Fill a new collection, then point the alias at it: readers never see a half-built index."""
        fresh = f"{self.alias}_{datetime.now(timezone.utc).strftime('%Y%m%dT%H%M%S')}_{uuid.uuid4().hex[:6]}"
        self._create(fresh, dim, properties)
        try:
            self._create_terms(fresh + TERMS_SUFFIX, _document_frequencies(r["terms"] for r in rows))
            for start in range(0, len(rows), INSERT_BATCH):
                self.client.insert(fresh, rows[start : start + INSERT_BATCH])
            self.client.flush(fresh)
            if current is None:
                self.client.create_alias(fresh, self.alias)
            else:
                self.client.alter_alias(fresh, self.alias)
        except BaseException:
            for name in (fresh, fresh + TERMS_SUFFIX):
                if self.client.has_collection(name):
                    self.client.drop_collection(name)
            raise
        for name in self.client.list_collections():  # earlier builds of this index, and crashed ones
            if name.startswith(self.alias + "_") and name not in (fresh, fresh + TERMS_SUFFIX):
                self.client.drop_collection(name)

    def _create_terms(self, name: str, frequencies: Counter) -> None:
        """The build's document frequencies, one row per term. Milvus keeps no collection without a
        vector field, so each row carries a constant two-dimensional one that no query reads."""
        DataType = _pymilvus().DataType
        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, max_length=32, is_primary=True)
        schema.add_field("df", DataType.INT64)
        schema.add_field("unused", DataType.FLOAT_VECTOR, dim=len(UNUSED_VECTOR))
        indexes = self.client.prepare_index_params()
        indexes.add_index("unused", index_type="FLAT", metric_type="L2")
        self.client.create_collection(name, schema=schema, index_params=indexes)
        rows = [{"id": term, "df": n, "unused": UNUSED_VECTOR} for term, n in sorted(frequencies.items())]
        for start in range(0, len(rows), TERMS_BATCH):
            self.client.insert(name, rows[start : start + TERMS_BATCH])
        self.client.flush(name)

    def _create(self, name: str, dim: int, properties: dict) -> None:
        pymilvus = _pymilvus()
        DataType, Function, FunctionType = pymilvus.DataType, pymilvus.Function, pymilvus.FunctionType
        schema = self.client.create_schema(auto_id=False, enable_dynamic_field=False)
        schema.add_field("id", DataType.VARCHAR, max_length=64, is_primary=True)
        schema.add_field("file", DataType.VARCHAR, max_length=4096)
        schema.add_field("headings", DataType.VARCHAR, max_length=8192)
        schema.add_field("line_start", DataType.INT64)
        schema.add_field("line_end", DataType.INT64)
        schema.add_field("text", DataType.VARCHAR, max_length=65535, enable_analyzer=True, analyzer_params={"tokenizer": "jieba"})
        schema.add_field("context", DataType.VARCHAR, max_length=8192)  # frontmatter title/aliases/tags
        schema.add_field("terms", DataType.VARCHAR, max_length=65535, enable_analyzer=True, analyzer_params={"tokenizer": "standard"})
        schema.add_field("dense", DataType.FLOAT_VECTOR, dim=dim)
        schema.add_field("sparse", DataType.SPARSE_FLOAT_VECTOR)
        schema.add_function(Function(name="bm25", function_type=FunctionType.BM25, input_field_names=[self.lexical_field],
                                     output_field_names=["sparse"]))
        indexes = self.client.prepare_index_params()
        indexes.add_index("dense", index_type="FLAT", metric_type="IP")
        indexes.add_index("sparse", index_type="SPARSE_INVERTED_INDEX", metric_type="BM25")
        self.client.create_collection(name, schema=schema, index_params=indexes, properties=properties)

    # -- reading

    def open(self, embedder: str | None = None) -> "MilvusIndex":
        manifest = self.read_manifest()
        built_with = manifest["embedder"]["name"]
        if embedder and embedder != built_with:
            raise NotebotError(
                f"the index {self.alias} at {redact_url(self.uri)} was built with embedder {built_with!r}, not {embedder!r}",
                f"rebuild it with: notebot index --store milvus --embedder {embedder}   (or drop --embedder / NOTEBOT_EMBEDDER)",
            )
        return MilvusIndex(self, manifest)


class MilvusIndex:
    """A Milvus collection behind its alias, as the `Index` protocol. Every query goes through the
    alias, so a rebuild elsewhere is picked up by the next query."""

    def __init__(self, store: MilvusStore, manifest: dict, embedder: Embedder | None = None):
        self.store = store
        self.manifest = manifest
        self.location = store.location
        self.cache_dir = store.index_dir  # the embedding cache stays in --index-dir: lines are embedded once
        self._embedder = embedder
        self._chunks: list[Chunk] | None = None
        self._glossary: Glossary | None = None
        self._characters: dict[str, int] | None = None

    def __len__(self) -> int:
        return self.manifest["counts"]["chunks"]

    @property
    def embedder(self) -> Embedder:
        if self._embedder is None:
            self._embedder = get_embedder(self.manifest["embedder"]["name"])
        return self._embedder

    @property
    def glossary(self) -> Glossary:
        """The vault's glossary, as mined when the collection was written (fetched on first use)."""
        if self._glossary is None:
            self._glossary = self._property(GLOSSARY, "glossary", Glossary.from_json)
        return self._glossary

    @property
    def character_frequencies(self) -> dict[str, int]:
        """How many chunks hold each Chinese character, as counted when the collection was written."""
        if self._characters is None:
            self._characters = self._property(CHARACTERS, "character counts",
                                               lambda data: {str(char): int(count) for char, count in data.items()})
        return self._characters

    def _property(self, key: str, what: str, parse):
        collection = self.store.alias  # the build queries reach now, as for every query
        properties = self._call(self.store.client.describe_collection, collection).get("properties", {})
        try:
            return parse(json.loads(properties[key]))
        except (KeyError, ValueError, TypeError, AttributeError):
            raise NotebotError(f"the Milvus collection {collection} at {redact_url(self.store.uri)} has no readable {what}",
                               "repair it with: notebot index") from None

    @property
    def chunks(self) -> Sequence[Chunk]:
        """Every chunk in corpus order, fetched on first use (evaluation reads them all)."""
        if self._chunks is None:
            rows = [r for batch in self._call(_iterate, self.store.client, self.store.alias, FIELDS) for r in batch]
            self._chunks = sorted((_chunk(r) for r in rows), key=lambda c: (c.file, c.line_start, c.line_end))
        return self._chunks

    def _call(self, method, *args, **kwargs):
        try:
            return method(*args, **kwargs)
        except NotebotError:
            raise
        except Exception as problem:  # noqa: BLE001 - a server that goes away mid-query: one line
            raise _milvus_error(self.store.uri, problem) from None

    def _search(self, data, field: str, metric: str, n: int) -> Scored:
        found = self._call(self.store.client.search, self.store.alias, data=[data], anns_field=field, limit=n,
                           output_fields=FIELDS, search_params={"metric_type": metric})
        # Milvus Lite reports BM25 as a negative distance; BM25 scores are never negative
        return [(_chunk(hit["entity"]), abs(float(hit["distance"]))) for hit in found[0]]

    def vector_search(self, vector: np.ndarray, n: int) -> Scored:
        return self._search(np.asarray(vector, np.float32).tolist(), "dense", "IP", min(n, 16384))

    def _lexical_query(self, query: str) -> str:
        if self.manifest.get("lexical") == "text":
            return query
        return hashed_terms(query, self.manifest["tokenizer"])

    def lexical_search(self, query: str, n: int) -> Scored:
        text = self._lexical_query(query)
        if not text.strip():
            return []
        return self._search(text, "sparse", "BM25", min(n, 16384))

    def tokens(self, text: str) -> list[str]:
        return tokenize(text, self.manifest["tokenizer"])

    def document_frequencies(self, terms: list[str]) -> dict[str, int]:
        """From the build's terms collection, in one query per LOOKUP_BATCH terms."""
        hashes = {term: term_hash(term) for term in terms}
        keys = sorted(set(hashes.values()))
        try:
            found = self._call(self.store._lookup, self.manifest["collection"] + TERMS_SUFFIX, "df", keys)
        except NotebotError:  # a rebuild elsewhere dropped the build this index was opened on: follow the alias
            self.manifest = {**self.manifest, "collection": self._call(self.store._current)}
            found = self._call(self.store._lookup, self.manifest["collection"] + TERMS_SUFFIX, "df", keys)
        return {term: int(found[key]) for term, key in hashes.items() if found.get(key)}

    def next_chunk(self, chunk: Chunk) -> Chunk | None:
        return self._neighbour(chunk, f"line_start > {chunk.line_start}", min)

    def previous_chunk(self, chunk: Chunk) -> Chunk | None:
        return self._neighbour(chunk, f"line_end < {chunk.line_start}", max)

    def _neighbour(self, chunk: Chunk, condition: str, nearest) -> Chunk | None:
        """The nearest chunk of the same file on one side (`nearest` = min after, max before), when it
        is in the same section."""
        rows = self._call(self.store.client.query, self.store.alias,
                          filter=f'file == "{_quoted(chunk.file)}" and {condition}', output_fields=FIELDS)
        if not rows:
            return None
        neighbour = _chunk(nearest(rows, key=lambda r: (r["line_start"], r["line_end"])))
        return neighbour if neighbour.headings == chunk.headings else None


def _chunk(row: dict) -> Chunk:
    return Chunk(row["id"], row["file"], tuple(json.loads(row["headings"])), int(row["line_start"]), int(row["line_end"]), row["text"],
                 row.get("context", ""))


def _document_frequencies(term_lists) -> Counter:
    """How many of the chunks (each given as its space-separated term hashes) hold each term."""
    counts: Counter = Counter()
    for terms in term_lists:
        counts.update(set(terms.split()))
    return counts


def _quoted(text: str) -> str:
    return text.replace("\\", "\\\\").replace('"', '\\"')


def _iterate(client, collection: str, fields: list[str]) -> Iterator[list[dict]]:
    iterator = client.query_iterator(collection, batch_size=1000, filter="", output_fields=fields)
    try:
        while batch := iterator.next():
            yield batch
    finally:
        iterator.close()


def _same_shape(old: dict, new: dict) -> bool:
    """Whether an incremental update can keep the collection (same vectors, same lexical terms)."""
    keys = ("format_version", "embedder", "chunker", "tokenizer", "lexical")
    return all(old.get(k) == new.get(k) for k in keys)


def _is_missing(problem: Exception) -> bool:
    text = str(problem).lower()
    return "not found" in text or "not exist" in text or "doesn't exist" in text


def _alias_for(index_dir: Path) -> str:
    """notebot_<index folder name>: readable, and the same for every teammate using that name."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", Path(index_dir).resolve().name) or "index"
    return f"notebot_{name}"[:200]


def _connect(uri: str, token: str, index_dir: Path):
    key = (uri, token)
    if key in _clients:
        return _clients[key]
    pymilvus = _pymilvus()
    lite = not uri.startswith(("http://", "https://"))
    if lite:
        import logging

        # Lite serves gRPC inside this process and logs calls it lacks (query_iterator asks for a timestamp)
        logging.getLogger("grpc._server").setLevel(logging.CRITICAL)
        with writing(index_dir):
            Path(uri).parent.mkdir(parents=True, exist_ok=True)
    try:
        client = pymilvus.MilvusClient(uri=uri, token=token, timeout=CONNECT_TIMEOUT)
    except Exception as problem:  # noqa: BLE001
        text = " ".join(str(getattr(problem, "message", "") or problem).split())[:200]
        if lite:
            raise NotebotError(f"cannot open the Milvus Lite file {uri}: {text}",
                               "make its folder writable, and stop any other process using it (one process per Lite file)") from None
        raise NotebotError(f"cannot reach Milvus at {redact_url(uri)}: {text}",
                           "start the server, or fix --milvus-uri / NOTEBOT_MILVUS_URI (and NOTEBOT_MILVUS_TOKEN)") from None
    _clients[key] = client
    return client
