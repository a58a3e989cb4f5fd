"""Access logs without secrets: one-time link tokens in paths are replaced before a line is written.

uvicorn logs every request line; a password or reset link's token in it would let anyone who reads the
logs use the link before its owner does. The filter works on any path whose segment after a known prefix
is a token; plugin pages that put a token in their path register their prefix with :func:`secret_path`.
"""

from __future__ import annotations

import logging
import re

SECRET_PATHS: set[str] = {"/password/"}
"""Path prefixes whose next segment is a secret token (``/password/forgot`` is a page, not a token)."""


def secret_path(prefix: str) -> None:
    """Have the access log hide the path segment after ``prefix`` (e.g. ``"/password-reset/"``)."""
    SECRET_PATHS.add(prefix if prefix.endswith("/") else prefix + "/")


NOT_TOKENS = frozenset({"forgot"})
"""Segments after a secret prefix that are pages, not tokens."""


def _redact(text: str) -> str:
    for prefix in sorted(SECRET_PATHS):
        pattern = re.compile(re.escape(prefix) + r"([^/?\s\"]+)")

        def hide(match: re.Match[str], prefix: str = prefix) -> str:
            return match.group(0) if match.group(1) in NOT_TOKENS else prefix + "[redacted]"

        text = pattern.sub(hide, text)
    return text


class RedactTokens(logging.Filter):
    """Rewrites the request line of uvicorn's access log records (their arguments hold the path)."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(_redact(a) if isinstance(a, str) else a for a in record.args)
        elif isinstance(record.msg, str):
            record.msg = _redact(record.msg)
        return True


def install() -> None:
    """Idempotent: every app built in a process (tests build many) shares the one filter."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, RedactTokens) for f in access.filters):
        access.addFilter(RedactTokens())
