"""Requests scheduled for a later date: when they are due, and releasing them into the queue.

A request "carried out on" a date joins the queue on that date at the configured time of day in
Europe/Stockholm, with that moment (not the moment a worker noticed) as its place in line, so a release
after downtime keeps the order of the dates. Release is one conditional ``UPDATE … RETURNING`` per batch:
a row is released by exactly one transaction however many releasers run at once, because the update only
matches rows that are still ``scheduled``.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy import select as sa_select
from sqlmodel import col

from core.clock import LOCAL_ZONE, Clock
from core.context import HookContext
from core.lifecycle import Action
from core.models import OutboxMessage, Request, RequestHistory
from core.portal import Portal
from core.request_types import FulfilmentMode
from core.statuses import Status

BATCH = 2000


def parse_release_time(value: str) -> time:
    hours, minutes = value.split(":")
    return time(int(hours), int(minutes))


def due_moment(carry_out_on: date, release_time: time) -> datetime:
    """The UTC moment a request for ``carry_out_on`` joins the queue (local wall time, DST included)."""
    return datetime.combine(carry_out_on, release_time, tzinfo=LOCAL_ZONE).astimezone(UTC)


def latest_due_date(now: datetime, release_time: time) -> date:
    """The newest carry-out date that is due at ``now``: today once the release time has passed, else yesterday."""
    today = now.astimezone(LOCAL_ZONE).date()
    return today if now >= due_moment(today, release_time) else today - timedelta(days=1)


def _write_side_rows(portal: Portal, session: Any, ordered: list[Any], now: datetime) -> None:
    """History and outbox rows for a released batch, written in bulk (one statement each)."""
    released = {"from_status": Status.SCHEDULED.value, "to_status": Status.PENDING.value}
    session.execute(
        insert(RequestHistory),
        [
            {
                "request_id": request_id,
                "at": now,
                "actor_id": None,
                "action": Action.RELEASE.value,
                "reason": "",
                "details": {},
                **released,
            }
            for request_id, _day, _type in ordered
        ],
    )
    # Types that may be automatic get a start_fulfilment row; start_automatic checks the request's own mode.
    automatic = {t.key for t in portal.registry if FulfilmentMode.AUTOMATIC in t.modes()}
    outbox_rows = []
    for request_id, _day, type_key in ordered:
        outbox_rows.append(
            _outbox_row("status_changed", now, request_id=request_id, action=Action.RELEASE.value, **released)
        )
        if type_key in automatic:
            outbox_rows.append(_outbox_row("start_fulfilment", now, request_id=request_id))
    session.execute(insert(OutboxMessage), outbox_rows)


def _outbox_row(topic: str, now: datetime, **payload: Any) -> dict[str, Any]:
    return {
        "topic": topic,
        "payload": payload,
        "status": "pending",
        "attempts": 0,
        "last_error": "",
        "created_at": now,
        "available_at": now,
        "relayed_at": None,
        "done_at": None,
        "dedupe_key": None,
    }


def release_due(portal: Portal, *, clock: Clock | None = None, limit: int = BATCH) -> list[int]:
    """Release every scheduled request that is due, oldest date first; returns the released ids."""
    clock = clock or portal.clock
    release_time = parse_release_time(portal.settings.release_time)
    released: list[int] = []
    while True:
        batch = _release_batch(portal, clock, release_time, limit)
        released.extend(batch)
        if len(batch) < limit:
            return released


def _release_batch(portal: Portal, clock: Clock, release_time: time, limit: int) -> list[int]:
    now = clock.now()
    cutoff = latest_due_date(now, release_time)
    with portal.database.writing() as session:
        due = (
            sa_select(col(Request.id))
            .where(col(Request.status) == Status.SCHEDULED.value, col(Request.carry_out_on) <= cutoff)
            .order_by(col(Request.carry_out_on), col(Request.id))
            .limit(limit)
        )
        rows = session.execute(
            update(Request)
            .where(col(Request.id).in_(due), col(Request.status) == Status.SCHEDULED.value)
            .values(status=Status.PENDING.value, version=Request.version + 1, updated_at=now)
            .returning(col(Request.id), col(Request.carry_out_on), col(Request.type_key))
        ).all()
        ordered = sorted(rows, key=lambda r: (r[1], r[0]))
        by_date: dict[date, list[int]] = {}
        for request_id, carry_out_on, _type_key in ordered:
            by_date.setdefault(carry_out_on, []).append(request_id)
        for carry_out_on, ids in by_date.items():  # everyone due at one moment joins the queue at that moment
            session.execute(
                update(Request).where(col(Request.id).in_(ids)).values(queued_at=due_moment(carry_out_on, release_time))
            )
        if ordered:
            _write_side_rows(portal, session, ordered, now)
        session.flush()
        if rows and portal.hooks.bbportal_status_changed.get_hookimpls():
            context = HookContext(session=session, actor=None, clock=clock)
            for request in session.exec(sa_select(Request).where(col(Request.id).in_([r[0] for r in rows]))).scalars():  # type: ignore[call-overload]
                portal.hooks.bbportal_status_changed(
                    request=request,
                    from_status=Status.SCHEDULED,
                    to_status=Status.PENDING,
                    action=Action.RELEASE.value,
                    context=context,
                )
    return [row[0] for row in rows]
