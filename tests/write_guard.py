"""A guard, active in the whole test suite, that fails a test when anything but the one writer of a fact writes it.

DESIGN.md's "one writer per fact": a request's status and history are written by ``core.requests.lifecycle``,
chat messages by ``core.conversation.chat.add_message``, outbox rows by ``core.platform.outbox`` (``enqueue``
adds them; the relay and the worker mark them), and mail jobs (``send_mail`` rows) are queued only by the mail
service's ``queue``. Every statement that reaches the database is looked at (SQLAlchemy's
``before_cursor_execute``, and the plain INSERTs ``core.platform.db.insert_rows`` sends straight to SQLite's driver);
one that writes a guarded table is allowed only when the allowed writer is on the call stack. Statements that
test code sends itself (seeding a table) are allowed: the guard is about the product's code.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine

import core.platform.db

ROOT = Path(__file__).resolve().parent.parent
PRODUCT = (str(ROOT / "core") + "/", str(ROOT / "plugins") + "/")
WRITE = re.compile(r'^\s*(INSERT\s+INTO|UPDATE|DELETE\s+FROM)\s+"?(\w+)"?', re.IGNORECASE)

LIFECYCLE = (str(ROOT / "core" / "requests" / "lifecycle.py"), None)
WRITERS: dict[str, tuple[tuple[str, str | None], ...]] = {
    "request_history": (LIFECYCLE,),
    "chat_message": ((str(ROOT / "core" / "conversation" / "chat.py"), "add_message"),),
    "outbox": ((str(ROOT / "core" / "platform" / "outbox.py"), None),),
    "sent_mail": ((str(ROOT / "core" / "mail" / "service.py"), "_remember"),),
    "request_search": ((str(ROOT / "core" / "requests" / "search.py"), None),),
}
"""Table → the allowed writers: (file, function or None for any function of the file)."""
MAIL = ((str(ROOT / "core" / "mail" / "service.py"), "queue"),)
"""Mail jobs (``send_mail`` rows) are queued only by the mail service: kinds and recipients, never raw payloads."""
REQUEST_STATUS = (LIFECYCLE,)
"""``request`` rows are created and their status changed only by the lifecycle; other columns are free."""

NEVER_THE_CULPRIT = (core.platform.db.__file__, str(ROOT / "core" / "platform" / "outbox.py"))
"""Where writes pass through, not where they are decided: a finding names the caller."""

violations: list[str] = []


def _allowed(writers: tuple[tuple[str, str | None], ...]) -> bool:
    frame = sys._getframe(2)
    innermost_product: str | None = None
    while frame is not None:
        filename = frame.f_code.co_filename
        for path, function in writers:
            if filename == path and (function is None or frame.f_code.co_name == function):
                return True
        if "/migrations/" in filename:
            return True  # a migration carries stored rows over to a new shape: it writes as the schema's owner
        if innermost_product is None and filename.startswith(PRODUCT) and filename not in NEVER_THE_CULPRIT:
            innermost_product = f"{filename.removeprefix(str(ROOT) + '/')}:{frame.f_lineno} {frame.f_code.co_name}"
        frame = frame.f_back  # type: ignore[assignment]
    if innermost_product is None:
        return True  # the test's own statement (seeding), not the product's
    violations.append(innermost_product)
    return False


def check(statement: str, parameters: Any = None) -> None:
    match = WRITE.match(statement)
    if match is None:
        return
    verb, table = match.group(1).upper(), match.group(2).lower()
    if table in WRITERS:
        if not _allowed(WRITERS[table]):
            violations[-1] = f"{verb.split()[0]} {table} from {violations[-1]}"
        elif (
            table == "outbox" and verb.startswith("INSERT") and "'send_mail'" in repr(parameters) and not _allowed(MAIL)
        ):
            violations[-1] = f"INSERT outbox (send_mail) from {violations[-1]}"
    elif table == "request":
        set_clause = statement.partition(" SET ")[2].partition(" WHERE ")[0] if verb == "UPDATE" else ""
        writes_status = verb.startswith("INSERT") or re.search(r"\bstatus\b", set_clause) is not None
        if writes_status and not _allowed(REQUEST_STATUS):
            violations[-1] = f"{verb.split()[0]} request (status) from {violations[-1]}"


def _before_cursor_execute(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
    check(statement, parameters)


@contextmanager
def installed() -> Iterator[None]:
    """Watch every engine's statements and ``insert_rows``' SQLite fast path while the block runs."""
    real: Callable[..., Any] = core.platform.db._sqlite_insert

    def watched(table: Any, names: tuple[str, ...], dialect: Any) -> Callable[..., Any]:
        run = real(table, names, dialect)

        def guarded(connection: Any, rows: Any, returning_id: bool) -> Any:
            check(f"INSERT INTO {table.name} ({', '.join(names)})", rows)
            return run(connection, rows, returning_id)

        return guarded

    event.listen(Engine, "before_cursor_execute", _before_cursor_execute)
    core.platform.db._sqlite_insert = watched  # type: ignore[assignment]
    try:
        yield
    finally:
        core.platform.db._sqlite_insert = real  # type: ignore[assignment]
        event.remove(Engine, "before_cursor_execute", _before_cursor_execute)
