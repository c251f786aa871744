"""One Settings object: defaults, overridden by NOTEBOT_* environment variables, overridden by flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

from .errors import NotebotError
from .redact import REDACTED, redact_url
from .tokenize import TOKENIZERS

MODES = ("hybrid", "vector", "lexical")
ANSWERERS = ("extractive", "llm")
STORES = ("", "local", "milvus")


@dataclass(frozen=True)
class Settings:
    corpus_dir: Path = Path("corpus")
    index_dir: Path = Path("index")
    embedder: str = ""  # empty: e5-small-q4 for a new index, the index's own for a query
    tokenizer: str = "cjk-bigram-v1"
    mode: str = "hybrid"
    k: int = 5
    answerer: str = "extractive"
    llm_base_url: str = ""
    llm_model: str = ""
    llm_api_key: str = ""
    llm_timeout: float = 60.0  # seconds per read: connecting, the first token, the gap between tokens
    llm_deadline: float = 120.0  # seconds for a whole LLM answer (follow-up rewrite included), however it trickles
    llm_max_tokens: int = 1024  # sent as max_tokens
    llm_max_chars: int = 8000  # the streamed text is cut here, for servers that ignore max_tokens
    llm_retries: int = 1  # the openai client's own retries (connection errors, 408/409/429/5xx)
    host: str = "127.0.0.1"
    port: int = 7860
    auth: str = ""  # "user:password" turns on the web UI's login
    lock_timeout: float = 60.0  # seconds a second index run waits for the one writing the index
    upload_max_mb: float = 10.0  # per upload request (one file is at most 5 MB)
    corpus_max_mb: float = 100.0  # uploads are refused once the notes folder would pass this
    login_max_failures: int = 5  # wrong passwords in a row from one address before it is locked out
    login_lockout_seconds: float = 300.0
    store: str = ""  # local | milvus; empty: the store the index remembers, else local
    milvus_uri: str = ""  # a file path runs Milvus Lite, http(s)://host:19530 a server; empty: index_dir/milvus.db
    milvus_token: str = ""  # "user:password" or an API key for a Milvus server

    @classmethod
    def load(cls, environ: dict[str, str] | None = None, **flags) -> "Settings":
        """Defaults < NOTEBOT_<FIELD> environment variables < flags that are not None."""
        environ = os.environ if environ is None else environ
        values = {}
        for f in fields(cls):
            raw = environ.get(f"NOTEBOT_{f.name.upper()}")
            if raw is not None and raw != "":
                values[f.name] = _convert(f"NOTEBOT_{f.name.upper()}", raw, f.type)
        values.update({k: v for k, v in flags.items() if v is not None})
        return replace(cls(), **values).validated()

    def validated(self) -> "Settings":
        if self.mode not in MODES:
            raise NotebotError(f"unknown retrieval mode {self.mode!r}", f"use one of: {', '.join(MODES)}")
        if self.answerer not in ANSWERERS:
            raise NotebotError(f"unknown answerer {self.answerer!r}", f"use one of: {', '.join(ANSWERERS)}")
        if not 1 <= self.k <= 100:
            raise NotebotError(f"-k {self.k} is out of range", "ask for 1 to 100 passages")
        if self.tokenizer not in TOKENIZERS:
            raise NotebotError(f"unknown tokenizer {self.tokenizer!r}", f"use one of: {', '.join(TOKENIZERS)}")
        self._check_llm_limits()
        if self.auth and ":" not in self.auth:
            raise NotebotError("NOTEBOT_AUTH must look like user:password", "set it as user:password or unset it")
        if Path(self.index_dir).exists() and not Path(self.index_dir).is_dir():
            raise NotebotError(f"index folder {self.index_dir} is a file", "pass a folder with --index-dir or NOTEBOT_INDEX_DIR (it is created if missing)")
        if self.lock_timeout < 0:
            raise NotebotError(f"NOTEBOT_LOCK_TIMEOUT {self.lock_timeout:g} is negative", "set it to the seconds to wait, 0 for no wait")
        for name in ("upload_max_mb", "corpus_max_mb", "login_max_failures", "login_lockout_seconds"):
            if getattr(self, name) <= 0:
                raise NotebotError(f"NOTEBOT_{name.upper()}={getattr(self, name)} must be positive", "set a number above 0 or unset it")
        if self.store not in STORES:
            raise NotebotError(f"unknown store {self.store!r}", f"use one of: {', '.join(s for s in STORES if s)}")
        if "://" in self.milvus_uri and not self.milvus_uri.startswith(("http://", "https://")):
            raise NotebotError(f"the Milvus URI {self.milvus_uri!r} is not a file path or http(s)://host:port",
                               "set --milvus-uri / NOTEBOT_MILVUS_URI to a file path (Milvus Lite) or http(s)://host:19530")
        return replace(self, corpus_dir=Path(self.corpus_dir), index_dir=Path(self.index_dir))

    def _check_llm_limits(self) -> None:
        limits = [
            ("NOTEBOT_LLM_TIMEOUT", self.llm_timeout, 0.001, 3600),
            ("NOTEBOT_LLM_DEADLINE", self.llm_deadline, 0.001, 86400),
            ("NOTEBOT_LLM_MAX_TOKENS", self.llm_max_tokens, 1, 1_000_000),
            ("NOTEBOT_LLM_MAX_CHARS", self.llm_max_chars, 1, 10_000_000),
            ("NOTEBOT_LLM_RETRIES", self.llm_retries, 0, 10),
        ]
        for name, value, low, high in limits:
            if not low <= value <= high:
                raise NotebotError(f"{name}={value} is out of range", f"set it between {low:g} and {high:g}, or unset it")

    def __repr__(self) -> str:  # settings can end up in logs and tracebacks: never with a secret
        return f"Settings({', '.join(f'{k}={v!r}' for k, v in self.redacted().items())})"

    def redacted(self) -> dict:
        """Settings for reports and logs: paths as text; the API key, the login and URL secrets never shown."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data = {k: str(v) if isinstance(v, Path) else v for k, v in data.items()}
        data["llm_base_url"] = redact_url(self.llm_base_url)
        data["llm_api_key"] = REDACTED if self.llm_api_key else ""
        data["auth"] = REDACTED if self.auth else ""
        data["milvus_token"] = REDACTED if self.milvus_token else ""
        data["milvus_uri"] = redact_url(self.milvus_uri)
        return data


def _convert(name: str, raw: str, kind) -> object:
    kind = str(kind)
    try:
        if kind == "int":
            return int(raw)
        if kind == "float":
            return float(raw)
    except ValueError:
        raise NotebotError(f"{name}={raw!r} is not a number", f"set {name} to a number or unset it") from None
    if kind == "Path":
        return Path(raw)
    return raw
