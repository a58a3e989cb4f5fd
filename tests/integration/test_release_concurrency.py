"""Several releasers at once (threads with their own connections): every request released exactly once."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, date, datetime, timedelta

from sqlmodel import select

from core.models import Request, RequestHistory
from core.platform.clock import FixedClock
from core.portal import Portal
from core.requests.scheduling import release_due
from core.requests.statuses import Status
from core.workflow import actions as workflow
from tests.support import World


def test_parallel_releasers_release_each_request_once(portal: Portal, world: World) -> None:
    first_day = date(2026, 12, 1)
    ids = [
        workflow.file(
            portal, world.member, "order", world.later_change(), (first_day + timedelta(days=n % 5)).isoformat()
        ).id
        for n in range(120)
    ]
    late = FixedClock(datetime(2026, 12, 10, 12, 0, tzinfo=UTC))
    barrier = threading.Barrier(4)
    results: list[list[int]] = []
    errors: list[BaseException] = []

    def releaser() -> None:
        barrier.wait()
        try:
            results.append(release_due(portal, clock=late, limit=17))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=releaser) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    released = Counter(i for result in results for i in result)
    assert set(released) == set(ids) and set(released.values()) == {1}
    with portal.database.reading() as s:
        rows = s.exec(select(RequestHistory).where(RequestHistory.action == "release")).all()
        assert Counter(r.request_id for r in rows) == Counter(ids)
        assert {r.status for r in s.exec(select(Request))} == {Status.PENDING.value}
