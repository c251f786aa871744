"""What is safe to show: URLs without their secrets, text without known secrets.

A base URL can carry credentials (http://user:password@host/v1, ...?api-key=...). Settings, reports,
`eval --json`, the UI's answerer label, CLI notes and error messages show URLs only through
redact_url(); text that may echo a secret (server errors, model answers) goes through scrub().
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import unquote

REDACTED = "***"
# Query parameter names that carry credentials: api-key, api_key, key, token, access_token, sig, password…
SECRET_PARAM = re.compile(r"(?i)(key|token|secret|passw|pwd|auth|sig|credential|session)")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_URL_IN_TEXT = re.compile(r"\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s\"'<>]+")


def redact_url(url: str) -> str:
    """http://user:pw@host/v1?api-key=abc&v=1 -> http://***@host/v1?api-key=***&v=1"""
    scheme, userinfo, rest, mark, query = _split(url)
    if mark:
        rest += mark + "&".join(_redact_param(p) for p in query.split("&"))
    return scheme + (REDACTED + "@" if userinfo is not None else "") + rest


def url_secrets(url: str) -> list[str]:
    """The secret parts of a URL (userinfo, its password, secret query values), raw and %-decoded."""
    _, userinfo, _, _, query = _split(url)
    found = []
    if userinfo:
        found += [userinfo, userinfo.partition(":")[2]]
    for param in query.split("&"):
        name, sep, value = param.partition("=")
        if sep and SECRET_PARAM.search(name):
            found.append(value)
    found += [unquote(s) for s in found]
    return sorted({s for s in found if s}, key=len, reverse=True)


def scrub(text: str, secrets: Iterable[str]) -> str:
    """`text` with every secret replaced by ***, longest first (a password inside a userinfo goes too)."""
    for secret in sorted(set(secrets), key=len, reverse=True):
        if secret:
            text = text.replace(secret, REDACTED)
    return text


def _split(url: str) -> tuple[str, str | None, str, str, str]:
    """(scheme://, userinfo or None, host/path, "?" or "#" or "", query). A fragment counts as query:
    some flows put tokens there."""
    scheme = _SCHEME.match(url)
    scheme = scheme[0] if scheme else ""
    rest = url[len(scheme):]
    rest, mark, query = rest.partition("?") if "?" in rest else rest.partition("#")
    # The last "@" before the path ends the userinfo; a password with a raw "@" or "/" still ends up hidden.
    userinfo = None
    if "@" in rest:
        userinfo, _, rest = rest.rpartition("@")
    return scheme, userinfo, rest, mark, query


def _redact_param(param: str) -> str:
    name, sep, _ = param.partition("=")
    return f"{name}={REDACTED}" if sep and SECRET_PARAM.search(name) else param


class RedactURLs(logging.Filter):
    """A log filter that redacts every URL in a record (httpx logs each request's full URL at INFO)."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if "://" in message:
            record.msg, record.args = _URL_IN_TEXT.sub(lambda m: redact_url(m[0]), message), ()
        return True


def redact_logged_urls(*logger_names: str) -> None:
    """Put a RedactURLs filter on these loggers, once."""
    for name in logger_names:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RedactURLs) for f in logger.filters):
            logger.addFilter(RedactURLs())
