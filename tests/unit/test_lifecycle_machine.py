"""Random sequences of legal and illegal actions by every kind of actor; the lifecycle's invariants hold."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from sqlmodel import col, func, select

from core.models import Organisation, Request, RequestHistory, User
from core.platform.errors import Conflict
from core.portal import Portal
from core.requests.filing import file_request
from core.requests.lifecycle import TRANSITIONS, Action, apply, refusal
from core.requests.statuses import CLOSED, Status
from tests.plugins.sample_types import SamplePlugin
from tests.support import World

ACTIONS = [a for a in TRANSITIONS if a != Action.FILE]
TYPES = ["sample_automatic", "sample_approval", "sample_manual", "fault_report"]


@pytest.fixture
def extra_plugins() -> list[Any]:
    return [SamplePlugin()]


def test_lifecycle_state_machine(portal: Portal, world: World) -> None:
    actors: dict[str, User | None] = {
        "member": world.member,
        "admin": world.admin,
        "outsider": world.outsider,
        "staff": world.staff,
        "colleague": world.colleague,
        "system": None,
    }

    class Lifecycle(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.request_ids: list[int] = []

        @rule(type_key=st.sampled_from(TYPES), scheduled=st.booleans())
        def file(self, type_key: str, scheduled: bool) -> None:
            request_type = portal.registry.require(type_key)
            payload: dict[str, Any] = {"note": "x"} if type_key != "fault_report" else world.fault()
            when = None
            if scheduled and request_type.allows_carry_out_on:
                when = "2026-12-24"
            with portal.database.writing() as s:
                org = s.get(Organisation, world.org.id)
                assert org is not None
                request = file_request(
                    s,
                    request_type=request_type,
                    user=world.member,
                    organisation=org,
                    payload=payload,
                    carry_out_on=when,
                    clock=portal.clock,
                    hooks=portal.hooks,
                )
            self.request_ids.append(request.id or 0)

        @precondition(lambda self: self.request_ids)
        @rule(
            data=st.data(),
            action=st.sampled_from(ACTIONS),
            actor=st.sampled_from(sorted(actors)),
            reason=st.sampled_from(["", "Dubblett"]),
            assignee=st.sampled_from(["colleague", "staff", "member"]),
        )
        def act(self, data: st.DataObject, action: Action, actor: str, reason: str, assignee: str) -> None:
            request_id = data.draw(st.sampled_from(self.request_ids))
            with portal.database.writing() as s:
                before = s.get(Request, request_id)
                assert before is not None
                snapshot = (before.status, before.version, before.assignee_id, before.fulfilment_running)
                request_type = portal.registry.get(before.type_key)
                expected_refusal = refusal(before, action, actors[actor], request_type, reason)
                try:
                    after = apply(
                        s,
                        before,
                        action,
                        actors[actor],
                        request_type=request_type,
                        clock=portal.clock,
                        hooks=portal.hooks,
                        reason=reason,
                        assignee=actors[assignee],
                    )
                except Conflict:
                    s.rollback()
                    again = s.get(Request, request_id)
                    assert again is not None
                    assert (again.status, again.version, again.assignee_id, again.fulfilment_running) == snapshot
                    return
            assert expected_refusal is None, f"{action} by {actor} went through although: {expected_refusal}"
            assert snapshot[0] not in CLOSED, "a closed request changed"
            target = TRANSITIONS[action].target
            assert after.status == (target or snapshot[0])
            assert after.version == snapshot[1] + 1

        @invariant()
        def status_equals_last_history_row(self) -> None:
            with portal.database.reading() as s:
                for request_id in self.request_ids:
                    request = s.get(Request, request_id)
                    assert request is not None
                    last = s.exec(
                        select(RequestHistory)
                        .where(RequestHistory.request_id == request_id)
                        .order_by(col(RequestHistory.id).desc())
                    ).first()
                    assert last is not None and last.to_status == request.status
                    rows = s.exec(
                        select(func.count()).select_from(RequestHistory).where(RequestHistory.request_id == request_id)
                    ).one()
                    assert rows == request.version, "every transition writes exactly one history row"

        @invariant()
        def running_and_holding_fit_the_status(self) -> None:
            with portal.database.reading() as s:
                for request_id in self.request_ids:
                    request = s.get(Request, request_id)
                    assert request is not None
                    status = Status(request.status)
                    if request.fulfilment_running:
                        assert (
                            status == Status.IN_PROGRESS and request.assignee_id is None
                        ) or portal.registry.require(request.type_key).fulfilment_mode.value == "on_approval"
                    if status in (Status.SCHEDULED, Status.PENDING):
                        assert request.assignee_id is None and not request.fulfilment_running
                    if status == Status.SCHEDULED:
                        assert request.queued_at is None
                    if status in (Status.PENDING, Status.IN_PROGRESS, Status.WAITING_FOR_CUSTOMER):
                        assert request.queued_at is not None

    run_state_machine_as_test(Lifecycle, settings=settings(stateful_step_count=30))
