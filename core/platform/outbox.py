"""The outbox: side effects recorded with the change that causes them, handed out, retried, never lost.

A row is *pending* until a handler finished it (*done*) or it failed too often (*failed*, visible to staff,
who can retry it). Handlers are keyed by topic; a topic nobody handles yet stays pending untouched.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import structlog
from sqlalchemy import JSON, Column, Index, and_, delete, update
from sqlmodel import Field, Session, SQLModel, col, select

from core.platform import metrics, request_ids
from core.platform.columns import utc_column
from core.platform.db import insert_rows
from core.platform.logs import get_logger

if TYPE_CHECKING:
    from core.portal import Portal

Finish = Callable[[Session], None]
log = get_logger(__name__)


class OutboxStatus(StrEnum):
    PENDING = "pending"
    DONE = "done"
    FAILED = "failed"


class OutboxMessage(SQLModel, table=True):
    """A side effect recorded in the transaction that causes it; a relay hands it to the workers."""

    __tablename__ = "outbox"
    # The relay's index: rows waiting to be handed out are (pending, relayed_at NULL) in the order they become
    # due, so a relay round reads only the rows it hands out, not those in flight or waiting out a backoff.
    __table_args__ = (Index("ix_outbox_relay", "status", "relayed_at", "available_at", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    topic: str = Field(max_length=64)
    payload: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    status: str = Field(default=OutboxStatus.PENDING.value, max_length=16)
    attempts: int = 0
    last_error: str = Field(default="", max_length=4000)
    created_at: datetime = utc_column()
    available_at: datetime = utc_column()
    relayed_at: datetime | None = utc_column(nullable=True)
    """When the relay last handed it to the broker; handed again if not done a while later."""
    dedupe_key: str | None = Field(default=None, max_length=120, unique=True)
    """Set on rows made by other rows (one mail per recipient) so that re-running the maker adds nothing."""
    done_at: datetime | None = utc_column(nullable=True)
    request_id: str | None = Field(default=None, max_length=request_ids.MAX_LENGTH)
    """The web request (or inbound mail, or job) that caused this row: its log lines and this row's share it."""


Handler = Callable[["Portal", OutboxMessage], "Finish | None"]
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


def enqueue(
    session: Session,
    topic: str,
    payload: dict[str, Any] | Sequence[dict[str, Any]],
    dedupe_key: str | Sequence[str | None] | None = None,
    *,
    now: datetime,
    available_at: datetime | None = None,
) -> int:
    """Record background work in the caller's transaction: the one writer of outbox rows.

    The relay hands a row to a worker after the transaction commits, so nothing leaves the process for a
    change that rolls back. ``payload`` is one job's payload, or a list of payloads of one topic written as
    one statement (a released batch). A ``dedupe_key`` names a job that may be queued only once (one mail
    per recipient of an event, one reminder per question): a key already present is skipped, so re-running
    whatever queues it adds nothing. Each row carries the request id bound where it is queued (the web
    request's, or the job's that queues it). Returns how many rows were written.
    """
    payloads = [payload] if isinstance(payload, dict) else list(payload)
    keys: list[str | None] = (
        [dedupe_key] * len(payloads) if dedupe_key is None or isinstance(dedupe_key, str) else list(dedupe_key)
    )
    if len(keys) != len(payloads):
        raise ValueError("enqueue needs one dedupe key per payload")
    wanted = {key for key in keys if key is not None}
    if wanted:
        present = set(session.exec(select(OutboxMessage.dedupe_key).where(col(OutboxMessage.dedupe_key).in_(wanted))))
        pairs = [(p, k) for p, k in zip(payloads, keys, strict=True) if k is None or k not in present]
    else:
        pairs = list(zip(payloads, keys, strict=True))
    due = available_at or now
    request_id = request_ids.current()
    rows = [
        {
            "topic": topic,
            "payload": body,
            "status": OutboxStatus.PENDING.value,
            "attempts": 0,
            "last_error": "",
            "created_at": now,
            "available_at": due,
            "relayed_at": None,
            "dedupe_key": key,
            "done_at": None,
            "request_id": request_id,
        }
        for body, key in pairs
    ]
    insert_rows(session, OutboxMessage, rows)
    return len(rows)


def handlers(portal: Portal) -> dict[str, Handler]:
    """The core's handlers and the plugins' (the core's own topics win)."""
    return {**portal.plugin_outbox_handlers, **portal.core_outbox_handlers}


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
        handed: list[Any] = []
        if ids:
            handed = list(
                session.execute(
                    update(OutboxMessage)
                    .where(col(OutboxMessage.id).in_(ids))
                    .values(relayed_at=now)
                    .returning(col(OutboxMessage.id), col(OutboxMessage.topic), col(OutboxMessage.request_id))
                )
            )
    for row_id, topic, request_id in sorted(handed):  # the relay's part of a request id's trail
        log.info("job handed out", outbox_id=row_id, topic=topic, request_id=request_id)
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


def oldest_waiting(portal: Portal) -> datetime | None:
    """When the oldest row the relay should have handed out by now became due (None: nothing waits).

    The relay's own first query, on its index; ``/readyz`` fails when this is too long ago.
    """
    waiting, _lost = _due_queries(portal, portal.clock.now(), 1)
    with portal.database.reading() as session:
        first = session.exec(waiting.with_only_columns(col(OutboxMessage.available_at))).first()
    return first


def unmark_relayed(portal: Portal, ids: list[int]) -> None:
    """The broker did not take these: hand them out again at the next round, not after the safety delay."""
    if not ids:
        return
    with portal.database.writing() as session:
        session.execute(update(OutboxMessage).where(col(OutboxMessage.id).in_(ids)).values(relayed_at=None))


def forget_in_flight(portal: Portal) -> int:
    """The broker lost whatever was in flight: hand it out again at the next round; returns how many rows.

    At start of the embedded worker (its in-memory broker died with the last process), and when the relay
    finds that Redis lost its data (a restart without persistence): without this, those rows would wait out
    :data:`REDELIVER_AFTER`. A job still running while this happens may run a second time; jobs are idempotent.
    """
    with portal.database.writing() as session:
        forgotten = session.execute(
            update(OutboxMessage)
            .where(col(OutboxMessage.status) == OutboxStatus.PENDING.value, col(OutboxMessage.relayed_at).is_not(None))
            .values(relayed_at=None)
        )
    return int(forgotten.rowcount or 0)  # type: ignore[attr-defined]


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
    # The row's request id is this job's: its log lines carry it, and so do the rows it queues (its mails).
    with request_ids.bound(message.request_id), structlog.contextvars.bound_contextvars(outbox_id=message_id):
        return _run(portal, message, handler)


def _run(portal: Portal, message: OutboxMessage, handler: Handler) -> str | None:
    message_id, topic = message.id or 0, message.topic
    started = time.perf_counter()
    try:
        try:
            result = handler(portal, message)
        finally:
            metrics.observe(metrics.JOB_SECONDS, time.perf_counter() - started, topic=topic)
    except Exception as exc:
        _record_failure(portal, message_id, topic, f"{type(exc).__name__}: {exc}")
        return None
    except BaseException as exc:  # Dramatiq's time limit, a shutdown: count the attempt, then let it through
        _record_failure(portal, message_id, topic, f"{type(exc).__name__}: {exc}")
        raise
    # Only the core's own handlers finish in the done mark's transaction; a plugin's return value is ignored.
    finish = result if portal.core_outbox_handlers.get(message.topic) is handler else None
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
        _record_failure(portal, message_id, topic, f"{type(exc).__name__}: {exc}")
        return None
    metrics.count(metrics.JOBS, topic=topic, outcome="done")
    log.info("job done", topic=topic)
    return topic


def _record_failure(portal: Portal, message_id: int, topic: str, error: str) -> None:
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
        attempts, outcome = message.attempts, message.status
    # Visible at once, not only as last_error on a row waiting out its backoff (a mail server that refuses us).
    if outcome == OutboxStatus.FAILED.value:
        metrics.count(metrics.JOBS, topic=topic, outcome="failed")
        log.error("job failed for the last time", topic=topic, attempts=attempts, error=error)
    else:
        metrics.count(metrics.JOBS, topic=topic, outcome="retry")
        log.warning("job failed; it runs again", topic=topic, attempts=attempts, error=error)


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


REMOVE_BATCH = 5000
"""Housekeeping deletes done rows this many at a time: each batch is one short write transaction, so the
relay and the web never wait long behind it (on SQLite every write is a turn of the one writer)."""


def remove_done(portal: Portal, done_before: datetime) -> int:
    """Housekeeping: delete rows done before ``done_before``; returns how many.

    Only done rows go: pending ones are work still to do and failed ones wait for staff (``bbportal jobs``).
    A done row's dedupe key stops guarding once it is deleted, so the makers that run again much later (the
    reminders) do not rely on it alone.
    """
    removed = 0
    while True:
        with portal.database.writing() as session:
            ids = list(
                session.exec(
                    select(OutboxMessage.id)
                    .where(
                        col(OutboxMessage.status) == OutboxStatus.DONE.value,
                        col(OutboxMessage.done_at) < done_before,
                    )
                    .limit(REMOVE_BATCH)
                )
            )
            if ids:
                session.execute(delete(OutboxMessage).where(col(OutboxMessage.id).in_(ids)))
        removed += len(ids)
        if len(ids) < REMOVE_BATCH:
            return removed


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
