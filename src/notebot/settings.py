"""One Settings object: defaults, overridden by NOTEBOT_* environment variables, overridden by flags."""

from __future__ import annotations

import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

from .errors import NotebotError
from .tokenize import TOKENIZERS

MODES = ("hybrid", "vector", "lexical")
ANSWERERS = ("extractive", "llm")


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
    llm_timeout: float = 60.0
    host: str = "127.0.0.1"
    port: int = 7860
    auth: str = ""  # "user:password" turns on the web UI's login

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
        if self.auth and ":" not in self.auth:
            raise NotebotError("NOTEBOT_AUTH must look like user:password", "set it as user:password or unset it")
        return replace(self, corpus_dir=Path(self.corpus_dir), index_dir=Path(self.index_dir))

    def redacted(self) -> dict:
        """Settings for reports and logs: paths as text, the API key never shown."""
        data = {f.name: getattr(self, f.name) for f in fields(self)}
        data = {k: str(v) if isinstance(v, Path) else v for k, v in data.items()}
        data["llm_api_key"] = "***" if self.llm_api_key else ""
        data["auth"] = "***" if self.auth else ""
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
