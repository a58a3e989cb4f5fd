"""What ``/readyz`` checks: each part a web process needs to do its work, named, with why it fails.

A load balancer or an orchestrator takes a web process out of rotation while one check fails; the body says
which. The checks answer for the installation as this process sees it: the database (and its schema), Redis
when the portal uses it, and the background side — which runs elsewhere, so it is judged by its heartbeat
and by the outbox rows it should have handed out by now.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from sqlalchemy import text

from core.migrate import histories_not_at_head
from core.platform import heartbeat, outbox

if TYPE_CHECKING:
    from core.portal import Portal

OK = "ok"
NOT_CHECKED = "not checked: the database is unreachable"
"""The checks that read the database, while it cannot be reached: only ``database`` is named as failing."""
REDIS_TIMEOUT_SECONDS = 2.0


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, str]
    """Each check's name and ``"ok"``, or what is wrong (shown to anyone: no addresses, no secrets)."""

    @property
    def failing(self) -> list[str]:
        return [name for name, outcome in self.checks.items() if outcome not in (OK, NOT_CHECKED)]

    def as_json(self) -> dict[str, object]:
        return {"status": "ready" if not self.failing else "unready", "failing": self.failing, "checks": self.checks}


def check(portal: Portal) -> Readiness:
    """Run every check; a check that raises fails with the error's kind (its text may name hosts)."""
    checks: dict[str, str] = {"database": _run(_database, portal)}
    needs_database = [("migrations", _migrations), ("background", _background), ("outbox", _outbox)]
    for name, probe in needs_database:
        checks[name] = NOT_CHECKED if checks["database"] != OK else _run(probe, portal)
    if portal.settings.redis_url:
        checks["redis"] = _run(_redis, portal)
    return Readiness(checks)


def _run(probe: Callable[[Portal], str], portal: Portal) -> str:
    try:
        return probe(portal)
    except Exception as exc:  # whatever a check meets is its failure, never the probe's 500
        return f"failed ({type(exc).__name__})"


def _database(portal: Portal) -> str:
    with portal.database.reading() as session:
        session.execute(text("SELECT 1"))
    return OK


def _migrations(portal: Portal) -> str:
    behind = histories_not_at_head(portal.database, portal.plugins)
    return OK if not behind else f"not at the newest revision (run 'bbportal db upgrade'): {', '.join(behind)}"


def _background(portal: Portal) -> str:
    with portal.database.reading() as session:
        beat = heartbeat.last_beat(session, heartbeat.RELAY)
    if beat is None:
        return "no heartbeat yet: is the background work (or 'bbportal relay') running?"
    age = portal.clock.now() - beat
    if age > heartbeat.MAX_AGE:
        return f"no heartbeat for {_seconds(age)} s (limit {_seconds(heartbeat.MAX_AGE)} s)"
    return OK


def _outbox(portal: Portal) -> str:
    oldest = outbox.oldest_waiting(portal)
    if oldest is None:
        return OK
    waited = portal.clock.now() - oldest
    limit = timedelta(minutes=portal.settings.outbox_max_wait_minutes)
    if waited > limit:
        return f"the oldest due job has waited {_seconds(waited)} s for the relay (limit {_seconds(limit)} s)"
    return OK


def _redis(portal: Portal) -> str:
    import redis

    client = redis.Redis.from_url(
        portal.settings.redis_url, socket_connect_timeout=REDIS_TIMEOUT_SECONDS, socket_timeout=REDIS_TIMEOUT_SECONDS
    )
    try:
        client.ping()
    finally:
        client.close()
    return OK


def _seconds(span: timedelta) -> int:
    return int(span.total_seconds())
