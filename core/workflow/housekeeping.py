"""Housekeeping: once a day, remove what no longer serves anyone, and say how much.

- sessions that have expired (they let no one in; the table would only grow),
- log-in failures older than the throttle's memory (they no longer count, see ``core/accounts/throttle.py``),
- background jobs done more than ``BBPORTAL_OUTBOX_KEEP_DAYS`` ago (pending and failed ones stay),
- staged files never recorded, older than a day (a filing that failed, a process that died, a form left with
  its files): files under the storage's upload and fulfilment keys that no attachment row names,
- and whatever the plugins say has expired (``bbportal_housekeeping``: the log extract's files after
  ``BBPORTAL_EXTRACT_KEEP_DAYS``).

Each kind is logged with its count and counted in ``bbportal_housekeeping_removed_total{kind=...}``
(prometheus_client's default registry); a kind whose step fails is logged, counted in
``bbportal_housekeeping_failures_total{kind=...}``, and the other kinds still run. Nothing is removed that
still counts for something, so a run too many (two processes, the CLI by hand) only finds less to do.

The background side calls :func:`run_if_due` every few minutes; the first of its processes to claim the
day's run (a conditional update of the ``housekeeping`` heartbeat row) runs it, so several relays on several
hosts run it once a day between them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, cast

from prometheus_client import Counter
from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col

from core.accounts import auth, throttle
from core.platform import outbox
from core.platform.heartbeat import Heartbeat, last_beat
from core.requests import attachments
from core.requests.context import HousekeepingContext

if TYPE_CHECKING:
    from core.portal import Portal

log = logging.getLogger(__name__)

EVERY = timedelta(days=1)
"""How often the background side runs it."""
STAGED_MAX_AGE = timedelta(days=1)
"""A staged file this old that no row names was never recorded (a form is not kept open for a day)."""
HEARTBEAT = "housekeeping"
"""The heartbeat row that says when the day's run was claimed (not a liveness beat: readiness ignores it)."""
CORE_KINDS = ("sessions", "login_attempts", "outbox", "staged_files")

REMOVED = Counter("bbportal_housekeeping_removed", "Things housekeeping removed, by kind.", ["kind"])
FAILURES = Counter("bbportal_housekeeping_failures", "Housekeeping steps that failed, by kind.", ["kind"])
for _kind in CORE_KINDS:  # present from the start (0), so an alert can tell "nothing removed" from "not run"
    REMOVED.labels(kind=_kind)
    FAILURES.labels(kind=_kind)


def _sessions(portal: Portal, now: datetime) -> int:
    with portal.database.writing() as session:
        return auth.remove_expired_sessions(session, now)


def _login_attempts(portal: Portal, now: datetime) -> int:
    with portal.database.writing() as session:
        return throttle.forget_old_attempts(session, now, throttle.LoginPolicy.of(portal.settings))


def _outbox(portal: Portal, now: datetime) -> int:
    return outbox.remove_done(portal, now - timedelta(days=portal.settings.outbox_keep_days))


def _staged_files(portal: Portal, now: datetime) -> int:
    return attachments.remove_unrecorded(portal.database, portal.storage, now - STAGED_MAX_AGE)


CORE_STEPS: dict[str, Callable[[Portal, datetime], int]] = {
    "sessions": _sessions,
    "login_attempts": _login_attempts,
    "outbox": _outbox,
    "staged_files": _staged_files,
}


def run(portal: Portal) -> dict[str, int]:
    """One housekeeping run, now: every kind, the core's and the plugins'; returns the counts by kind."""
    now = portal.clock.now()
    removed: dict[str, int] = {}
    for kind, step in CORE_STEPS.items():
        _record(removed, kind, lambda step=step: step(portal, now))  # type: ignore[misc]
    context = HousekeepingContext(
        database=portal.database, clock=portal.clock, settings=portal.settings, storage=portal.storage, now=now
    )
    # Each plugin on its own: one that fails does not keep the others from their housekeeping.
    for impl in portal.plugins.hook.bbportal_housekeeping.get_hookimpls():
        arguments = {name: context for name in impl.argnames if name == "context"}
        try:
            answer = cast("dict[str, int] | None", impl.function(**arguments)) or {}
        except Exception:
            log.exception("housekeeping of plugin %s failed", impl.plugin_name)
            FAILURES.labels(kind=f"plugin:{impl.plugin_name}").inc()
            continue
        for kind, count in answer.items():
            _record(removed, str(kind), lambda count=count: int(count))  # type: ignore[misc]
    log.info("housekeeping done: %s", ", ".join(f"{count} {kind}" for kind, count in removed.items()) or "nothing")
    return removed


def _record(removed: dict[str, int], kind: str, step: Callable[[], int]) -> None:
    try:
        count = step()
    except Exception:
        log.exception("housekeeping of %s failed", kind)
        FAILURES.labels(kind=kind).inc()
        return
    removed[kind] = removed.get(kind, 0) + count
    REMOVED.labels(kind=kind).inc(count)
    log.info("housekeeping removed %d %s", count, kind)


def run_if_due(portal: Portal) -> dict[str, int] | None:
    """Run housekeeping if no process has in the last :data:`EVERY`; None when it was not due (or another
    process claimed it first)."""
    now = portal.clock.now()
    with portal.database.reading() as session:
        last = last_beat(session, HEARTBEAT)
    if last is not None and now - last < EVERY:
        return None  # read first: on SQLite a claim is a writer's turn, and this is asked every few minutes
    if not _claim(portal, now):
        return None
    return run(portal)


def _claim(portal: Portal, now: datetime) -> bool:
    """Take the day's run: a conditional update only one process can win (the first run inserts the row)."""
    with portal.database.writing() as session:
        taken = session.execute(
            update(Heartbeat)
            .where(col(Heartbeat.name) == HEARTBEAT, col(Heartbeat.beat_at) <= now - EVERY)
            .values(beat_at=now)
        )
        if taken.rowcount:  # type: ignore[attr-defined]
            return True
        if session.get(Heartbeat, HEARTBEAT) is not None:
            return False  # another process ran it within the day
        try:
            with session.begin_nested():
                session.add(Heartbeat(name=HEARTBEAT, beat_at=now))
        except IntegrityError:  # another process made the row a moment ago: the run is theirs
            return False
        return True
