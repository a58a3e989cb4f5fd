"""Requests scheduled for a later date: when they are due, and releasing them into the queue.

A request "carried out on" a date joins the queue on that date at the configured time of day in
Europe/Stockholm, with that moment (not the moment a worker noticed) as its place in line, so a release
after downtime keeps the order of the dates. This module says which requests are due and when; the
release itself is the lifecycle's RELEASE transition, applied to a batch at a time (``lifecycle.release``).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import select as sa_select
from sqlmodel import col

from core.models import Request
from core.platform.clock import LOCAL_ZONE, Clock
from core.requests.lifecycle import release
from core.requests.statuses import Status

if TYPE_CHECKING:
    from core.portal import Portal

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
    cutoff = latest_due_date(clock.now(), release_time)
    with portal.database.writing() as session:
        due = (
            sa_select(col(Request.id))
            .where(col(Request.status) == Status.SCHEDULED.value, col(Request.carry_out_on) <= cutoff)
            .order_by(col(Request.carry_out_on), col(Request.id))
            .limit(limit)
        )
        return release(
            session,
            due,
            joined_queue_at=lambda day: due_moment(day, release_time),
            clock=clock,
            hooks=portal.hooks,
            registry=portal.registry,
        )
