"""The request id: one word that ties together every log line, outbox row and job a web request caused.

The web binds it for the length of a request (from a sane ``X-Request-ID`` sent by the proxy, else a new one);
:func:`core.platform.outbox.enqueue` writes it on every row it adds, and the worker binds the row's id while it
runs that row's job, so the jobs a job queues (one mail per recipient) carry it on. ``grep <id>`` over the logs
of every process then shows the whole path of a filing. A context variable, not a parameter: it crosses the
thread a sync handler runs in (anyio copies the context) and reaches code that knows nothing of the web.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, MutableMapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

MAX_LENGTH = 64
"""The outbox column's width; a longer header is not taken."""
_SANE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,63}")
"""What a proxy's id may look like: no spaces, quotes or control characters that could forge log lines."""

_current: ContextVar[str | None] = ContextVar("bbportal_request_id", default=None)


def new() -> str:
    """A fresh id (32 hex digits)."""
    return uuid.uuid4().hex


def accept(header: str | None) -> str:
    """The incoming ``X-Request-ID`` when it is sane (a proxy's or load balancer's id keeps the trail), else new."""
    if header and _SANE.fullmatch(header):
        return header
    return new()


def current() -> str | None:
    """The id bound in this context (a web request, a job), or None outside both."""
    return _current.get()


@contextmanager
def bound(request_id: str | None) -> Iterator[None]:
    """Bind ``request_id`` for the block (None: none), restoring what was bound before."""
    token = _current.set(request_id)
    try:
        yield
    finally:
        _current.reset(token)


def add_to_event(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """structlog processor: every log line written while an id is bound carries it as ``request_id``."""
    request_id = _current.get()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    return event
