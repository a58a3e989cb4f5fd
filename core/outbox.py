"""The outbox: side effects recorded with the change that causes them, handed out, retried, never lost.

A row is *pending* until a handler finished it (*done*) or it failed too often (*failed*, visible to staff,
who can retry it). Handlers are keyed by topic; a topic nobody handles yet stays pending untouched.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, update
from sqlmodel import Session, col, select

from core import fulfilment
from core.models import OutboxMessage, OutboxStatus
from core.portal import Portal

Finish = Callable[[Session], None]
Handler = Callable[[Portal, OutboxMessage], Finish | None]
"""A topic's handler. The core's own handlers may return a write (``Finish``) that is done in the transaction
that marks the row done: a handler whose effect is only rows in the database (the fan-out) then costs one
writer's turn, and a re-run after a crash finds both or neither. What a plugin's handler returns is ignored."""
MAX_ATTEMPTS = 8
JOB_TIME_LIMIT = timedelta(minutes=10)
"""The actors' time limit: no job runs longer."""
REDELIVER_AFTER = JOB_TIME_LIMIT + timedelta(minutes=1)
"""A row handed to the broker but not done after this long was lost with its message: hand it out again.

A worker killed mid-job is covered sooner by the broker itself (Redis redelivers in seconds); this is the
net under messages lost with an in-memory broker or a relay that died between marking and sending. It is
longer than any job may run, so a slow job is never handed to a second worker while it still runs.
"""


def _start_fulfilment(portal: Portal, message: OutboxMessage) -> None:
    fulfilment.start_automatic(portal, int(message.payload["request_id"]))


def _fulfil(portal: Portal, message: OutboxMessage) -> None:
    fulfilment.run(portal, int(message.payload["request_id"]))


def _fan_out(portal: Portal, message: OutboxMessage) -> Finish | None:
    from core import notifications

    return notifications.fan_out(portal, message)


def _send_mail(portal: Portal, message: OutboxMessage) -> None:
    from core import notifications

    notifications.send(portal, portal.mailer, message)


LEAF_TOPICS = frozenset({"send_mail"})
"""Topics whose handlers never queue further work: after one, no relay round is owed (each costs a scan)."""

HANDLERS: dict[str, Handler] = {
    "start_fulfilment": _start_fulfilment,
    "fulfil": _fulfil,
    "request_filed": _fan_out,
    "status_changed": _fan_out,
    "send_mail": _send_mail,
}


def handlers(portal: Portal) -> dict[str, Handler]:
    """The core's handlers and the plugins' (the core's own topics win)."""
    return {**portal.plugin_outbox_handlers, **HANDLERS}


def backoff(attempts: int) -> timedelta:
    """5 s, 10 s, 20 s … capped at 30 minutes."""
    return timedelta(seconds=min(5 * 2 ** max(attempts - 1, 0), 1800))


def due_for_relay(portal: Portal, limit: int = 100) -> list[int]:
    """Pending rows with a handler whose time has come and that are not in flight; marks them relayed.

    Relays running at once never hand out the same row: SQLite serialises the write transactions, and on
    PostgreSQL rows another relay is marking are skipped (``FOR UPDATE SKIP LOCKED``). The relay looks
    first in a read transaction and takes a writer's turn only when something is due: it runs twice a second
    and after every job, and on SQLite an empty turn would still keep the web's writers waiting.
    """
    now = portal.clock.now()
    waiting, lost = _due_queries(portal, now, limit)
    with portal.database.reading() as session:
        if session.exec(waiting.limit(1)).first() is None and session.exec(lost.limit(1)).first() is None:
            return []
    with portal.database.writing() as session:
        if not portal.database.is_sqlite:
            waiting, lost = waiting.with_for_update(skip_locked=True), lost.with_for_update(skip_locked=True)
        # At most ``limit`` rows a round, the oldest of what the two found; the rest go in the next round.
        ids = sorted({i for i in [*session.exec(waiting), *session.exec(lost)] if i is not None})[:limit]
        if ids:
            session.execute(update(OutboxMessage).where(col(OutboxMessage.id).in_(ids)).values(relayed_at=now))
    return ids


def _due_queries(portal: Portal, now: datetime, limit: int) -> tuple[Any, Any]:
    """Rows never handed out, and rows handed out so long ago that their message must have been lost.

    Two queries, not one with OR: the first walks the relay's index (``ix_outbox_relay``) in the order the
    rows became due and stops at ``limit``; rows in flight (thousands after a burst of filings) and rows
    waiting out a backoff are never read. The second reads only rows handed out long ago (few, if any).
    """
    due = (
        col(OutboxMessage.status) == OutboxStatus.PENDING.value,
        col(OutboxMessage.topic).in_(list(handlers(portal))),
        col(OutboxMessage.available_at) <= now,
    )
    waiting = (
        select(OutboxMessage.id)
        .where(col(OutboxMessage.relayed_at).is_(None), *due)
        .order_by(col(OutboxMessage.available_at), col(OutboxMessage.id))
    )
    lost = (
        select(OutboxMessage.id)
        .where(col(OutboxMessage.relayed_at) < now - REDELIVER_AFTER, *due)
        .order_by(col(OutboxMessage.id))
    )
    return waiting.limit(limit), lost.limit(limit)


def unmark_relayed(portal: Portal, ids: list[int]) -> None:
    """The broker did not take these: hand them out again at the next round, not after the safety delay."""
    if not ids:
        return
    with portal.database.writing() as session:
        session.execute(update(OutboxMessage).where(col(OutboxMessage.id).in_(ids)).values(relayed_at=None))


def forget_in_flight(portal: Portal) -> None:
    """At start of the embedded worker: its in-memory broker lost whatever was in flight before."""
    with portal.database.writing() as session:
        session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.status) == OutboxStatus.PENDING.value, col(OutboxMessage.relayed_at).is_not(None))
            .values(relayed_at=None)
        )


def process(portal: Portal, message_id: int) -> str | None:
    """Run the handler of one outbox row unless it is already done; record success or a retry with backoff.

    Returns the row's topic when its handler ran to the end, else None."""
    with portal.database.reading() as session:
        message = session.get(OutboxMessage, message_id)
    if message is None or message.status != OutboxStatus.PENDING.value:
        return None
    handler = handlers(portal).get(message.topic)
    if handler is None:
        return None
    try:
        result = handler(portal, message)
    except Exception as exc:
        _record_failure(portal, message_id, f"{type(exc).__name__}: {exc}")
        return None
    except BaseException as exc:  # Dramatiq's time limit, a shutdown: count the attempt, then let it through
        _record_failure(portal, message_id, f"{type(exc).__name__}: {exc}")
        raise
    # Only the core's own handlers finish in the done mark's transaction; a plugin's return value is ignored.
    finish = result if HANDLERS.get(message.topic) is handler else None
    now = portal.clock.now()
    try:
        with portal.database.writing() as session:
            marked = session.execute(
                update(OutboxMessage)
                .where(
                    and_(col(OutboxMessage.id) == message_id, col(OutboxMessage.status) == OutboxStatus.PENDING.value)
                )
                .values(status=OutboxStatus.DONE.value, done_at=now, attempts=OutboxMessage.attempts + 1)
            )
            if finish is not None and marked.rowcount == 1:  # type: ignore[attr-defined]
                finish(session)  # not when another worker finished the row meanwhile
    except Exception as exc:
        if finish is None:
            # The work is done and only its mark failed: the row stays handed out, and the relay hands it out
            # again after REDELIVER_AFTER (a mail may then go twice, with the same Message-ID).
            raise
        _record_failure(portal, message_id, f"{type(exc).__name__}: {exc}")
        return None
    return message.topic


def _record_failure(portal: Portal, message_id: int, error: str) -> None:
    now = portal.clock.now()
    with portal.database.writing() as session:
        message = session.get(OutboxMessage, message_id)
        if message is None or message.status != OutboxStatus.PENDING.value:
            return
        message.attempts += 1
        message.last_error = error[:4000]
        message.relayed_at = None
        if message.attempts >= MAX_ATTEMPTS:
            message.status = OutboxStatus.FAILED.value
        else:
            message.available_at = now + backoff(message.attempts)
        session.add(message)


def retry(portal: Portal, message_id: int) -> None:
    """Staff retry a failed message: it is pending again, due now, with a fresh attempt count."""
    with portal.database.writing() as session:
        message = session.get(OutboxMessage, message_id)
        if message is None or message.status != OutboxStatus.FAILED.value:
            return  # a job already done (a double click, a stale page) is never run again
        message.status = OutboxStatus.PENDING.value
        message.attempts = 0
        message.available_at = portal.clock.now()
        message.relayed_at = None
        session.add(message)


def drain(portal: Portal, rounds: int = 20) -> int:
    """Process everything due now, synchronously (tests, CLI); returns how many rows were handled."""
    handled = 0
    for _ in range(rounds):
        ids = due_for_relay(portal)
        if not ids:
            break
        for message_id in ids:
            handled += process(portal, message_id) is not None
    return handled
