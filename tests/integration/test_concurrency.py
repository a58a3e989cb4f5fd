"""Two staff members take the same request at the same moment: exactly one gets it, the other is told who."""

from __future__ import annotations

import threading
from typing import Any

from core.models import Request
from core.platform.errors import Conflict
from core.portal import Portal
from core.requests.lifecycle import Action
from core.workflow import actions as workflow
from tests.support import World


def race(portal: Portal, request_id: int, people: list[Any]) -> list[Any]:
    barrier = threading.Barrier(len(people))
    outcomes: list[Any] = [None] * len(people)

    def take(index: int) -> None:
        barrier.wait()
        try:
            outcomes[index] = workflow.perform(portal, people[index], request_id, Action.TAKE)
        except Conflict as exc:
            outcomes[index] = exc

    threads = [threading.Thread(target=take, args=(i,)) for i in range(len(people))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    return outcomes


def test_exactly_one_of_two_takes_wins(portal: Portal, world: World) -> None:
    for _round in range(5):
        filed = workflow.file(portal, world.member, "fault_report", world.fault(), None)
        outcomes = race(portal, filed.id or 0, [world.staff, world.colleague])
        winners = [o for o in outcomes if isinstance(o, Request)]
        losers = [o for o in outcomes if isinstance(o, Conflict)]
        assert len(winners) == 1 and len(losers) == 1, outcomes
        holder = world.staff if winners[0].assignee_id == world.staff.id else world.colleague
        assert losers[0].params == {"name": holder.name}
        with portal.database.reading() as s:
            stored = s.get(Request, filed.id)
            assert stored is not None and stored.version == 2 and stored.assignee_id == holder.id
