"""Log lines of every process in one shape: readable text, or one JSON object a line, each with its request id.

structlog renders both its own events and the standard library's records (uvicorn, Dramatiq, SQLAlchemy and
the portal's ``logging.getLogger`` lines) through one :class:`structlog.stdlib.ProcessorFormatter`, so a
collector reads a single format. Every line written while a request id is bound (a web request, a job; see
:mod:`core.platform.request_ids`) carries it, which is what makes ``grep <id>`` over all logs show a filing's
path through the web, the relay, the workers and the mail.

Each process calls :func:`configure` once at its start (``serve`` hands :func:`uvicorn_config` to uvicorn,
which applies it in every web process); structlog itself is routed to the standard library when this module
is imported, so a structlog line written before (or without) :func:`configure` goes where the process's
other lines go, never straight to stdout.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import MutableMapping
from typing import IO, Any

import structlog

from core.platform import request_ids
from core.platform.settings import Settings

TIMESTAMP = structlog.processors.TimeStamper(fmt="iso", utc=True)
SHARED: list[Any] = [
    structlog.contextvars.merge_contextvars,
    request_ids.add_to_event,
    structlog.stdlib.add_log_level,
    structlog.stdlib.add_logger_name,
    TIMESTAMP,
]
"""What every line gets, whether structlog or the standard library wrote it."""

_OURS = "_bbportal_handler"


def _route_structlog_to_logging() -> None:
    structlog.configure(
        processors=[
            structlog.stdlib.filter_by_level,
            *SHARED,
            structlog.stdlib.PositionalArgumentsFormatter(),
            structlog.processors.StackInfoRenderer(),
            structlog.stdlib.ProcessorFormatter.wrap_for_formatter,
        ],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=True,
    )


_route_structlog_to_logging()


def get_logger(name: str) -> Any:
    """A structlog logger for ``name``: ``log.info("mail sent", kind=…, message_id=…)``."""
    return structlog.stdlib.get_logger(name)


def formatter(rendering: str = "text") -> logging.Formatter:
    """The formatter of every handler: ``json`` (one object a line) or ``text`` (``key=value`` after the event)."""
    renderer: Any
    if rendering == "json":
        renderer = structlog.processors.JSONRenderer()
        last: list[Any] = [structlog.processors.format_exc_info, renderer]
    else:
        # Plain tracebacks: the rich ones the console renderer prefers print every frame's locals, and a log
        # file must never hold a password or a token that happened to be in a variable.
        last = [
            structlog.dev.ConsoleRenderer(
                colors=False, pad_event_to=0, exception_formatter=structlog.dev.plain_traceback
            )
        ]
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*SHARED, structlog.stdlib.ExtraAdder(), _drop_colour],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *last],
    )


def _drop_colour(_logger: Any, _method: str, event: MutableMapping[str, Any]) -> MutableMapping[str, Any]:
    """uvicorn hands each line a second copy with terminal colour codes (``color_message``): not for a log file."""
    event.pop("color_message", None)
    return event


class _StandardError(logging.StreamHandler):
    """Writes to whatever ``sys.stderr`` is when a line is written (Dramatiq points it at its log pipe, test
    runners swap it), not to the stream that was current when the handler was made."""

    def __init__(self) -> None:
        super().__init__()

    @property
    def stream(self) -> IO[str]:
        return sys.stderr

    @stream.setter
    def stream(self, _value: IO[str]) -> None:
        pass


def configure(settings: Settings, *, stream: IO[str] | None = None, replace: bool = False) -> logging.Handler:
    """Write this process's log lines (the root logger's) to standard error, or ``stream``, in the set format.

    ``replace`` drops the root's other handlers first (a Dramatiq worker process: its handler writes
    Dramatiq's own format). Calling it again replaces the handler it added before. Returns the handler.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if replace or getattr(handler, _OURS, False):
            root.removeHandler(handler)
    added: logging.Handler = _StandardError() if stream is None else logging.StreamHandler(stream)
    setattr(added, _OURS, True)
    added.setFormatter(formatter(settings.resolved_log_format))
    root.addHandler(added)
    root.setLevel(settings.log_level)
    return added


def uvicorn_config(settings: Settings) -> dict[str, Any]:
    """uvicorn's ``log_config``: its server and access lines through the root handler, in the set format.

    A dict (not a handler object) because uvicorn applies it again in each web process it starts.
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"portal": {"()": "core.platform.logs.formatter", "rendering": settings.resolved_log_format}},
        "handlers": {"stderr": {"class": "logging.StreamHandler", "formatter": "portal", "stream": "ext://sys.stderr"}},
        "root": {"handlers": ["stderr"], "level": settings.log_level},
        "loggers": {
            "uvicorn": {"handlers": [], "propagate": True},
            "uvicorn.error": {"level": "INFO"},
            "uvicorn.access": {"handlers": [], "propagate": True},
        },
    }
