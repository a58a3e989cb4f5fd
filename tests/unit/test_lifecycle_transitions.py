"""One test per lifecycle transition, and the refusals DESIGN.md asks for, against the real schema."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, select

from core.conversation.chat import add_message
from core.models import ChatMessage, Organisation, Request, RequestHistory, User
from core.platform.errors import Conflict
from core.platform.outbox import OutboxMessage
from core.portal import Portal
from core.requests.filing import file_request
from core.requests.lifecycle import TRANSITIONS, Action, apply
from core.requests.statuses import Status
from tests.plugins.sample_types import SamplePlugin
from tests.support import World


@pytest.fixture
def extra_plugins() -> list[Any]:
    return [SamplePlugin()]


def file(portal: Portal, user: User, type_key: str = "sample_manual", carry_out_on: Any = None) -> Request:
    with portal.database.writing() as s:
        org = s.get(Organisation, user.organisation_id)
        assert org is not None
        return file_request(
            s,
            request_type=portal.registry.require(type_key),
            user=user,
            organisation=org,
            payload={"note": "hello"},
            carry_out_on=carry_out_on,
            clock=portal.clock,
            hooks=portal.hooks,
        )


def act(portal: Portal, request: Request, action: Action, actor: User | None, **kwargs: Any) -> Request:
    """Apply ``action``; ``internal_note`` / ``customer_message`` are posted with it, as a fulfilment's are."""
    notes = [(kwargs.pop(key, ""), key == "internal_note") for key in ("internal_note", "customer_message")]
    with portal.database.writing() as s:
        fresh = s.get(Request, request.id)
        assert fresh is not None
        changed = apply(
            s,
            fresh,
            action,
            actor,
            request_type=portal.registry.get(fresh.type_key),
            clock=portal.clock,
            hooks=portal.hooks,
            **kwargs,
        )
        for body, internal in notes:
            if body:
                add_message(
                    s,
                    changed,
                    author=None,
                    body=body,
                    internal=internal,
                    via="system",
                    clock=portal.clock,
                    hooks=portal.hooks,
                )
        return changed


def last_history(portal: Portal, request: Request) -> RequestHistory:
    with portal.database.reading() as s:
        row = s.exec(
            select(RequestHistory)
            .where(RequestHistory.request_id == request.id)
            .order_by(col(RequestHistory.id).desc())
        ).first()
        assert row is not None
        return row


def topics(portal: Portal) -> list[str]:
    with portal.database.reading() as s:
        return [m.topic for m in s.exec(select(OutboxMessage).order_by(col(OutboxMessage.id)))]


def test_every_action_has_a_named_test() -> None:
    names = set(globals())
    for action in TRANSITIONS:
        assert f"test_{action.value}" in names, f"no named test for {action.value}"


def test_file(portal: Portal, world: World) -> None:
    request = file(portal, world.member)
    assert request.status == Status.PENDING and request.queued_at is not None and request.version == 1
    row = last_history(portal, request)
    assert (row.action, row.from_status, row.to_status, row.actor_id) == ("file", None, "pending", world.member.id)
    assert topics(portal) == ["request_filed"]


def test_file_with_future_date_is_scheduled_and_not_queued(portal: Portal, world: World) -> None:
    request = file(portal, world.member, carry_out_on=(portal.clock.now() + timedelta(days=3)).date())
    assert request.status == Status.SCHEDULED and request.queued_at is None


def test_release(portal: Portal, world: World) -> None:
    request = file(portal, world.member, carry_out_on=(portal.clock.now() + timedelta(days=3)).date())
    released = act(portal, request, Action.RELEASE, None)
    assert released.status == Status.PENDING and released.queued_at is not None
    assert last_history(portal, request).actor_id is None


def test_take(portal: Portal, world: World) -> None:
    taken = act(portal, file(portal, world.member), Action.TAKE, world.staff)
    assert taken.status == Status.IN_PROGRESS and taken.assignee_id == world.staff.id


def test_take_refused_for_customers_and_for_held_requests(portal: Portal, world: World) -> None:
    request = file(portal, world.member)
    with pytest.raises(Conflict, match="not allowed"):
        act(portal, request, Action.TAKE, world.member)
    act(portal, request, Action.TAKE, world.staff)
    with pytest.raises(Conflict):
        act(portal, request, Action.TAKE, world.colleague)


def test_take_refused_for_automatic_types_waiting_for_the_worker(portal: Portal, world: World) -> None:
    request = file(portal, world.member, "sample_automatic")
    with pytest.raises(Conflict, match="automatically"):
        act(portal, request, Action.TAKE, world.staff)
    assert topics(portal) == ["request_filed", "start_fulfilment"]


def test_start_fulfilment(portal: Portal, world: World) -> None:
    started = act(portal, file(portal, world.member, "sample_automatic"), Action.START_FULFILMENT, None)
    assert started.status == Status.IN_PROGRESS and started.fulfilment_running and started.assignee_id is None
    assert last_history(portal, started).actor_id is None


def test_start_fulfilment_refused_for_other_modes(portal: Portal, world: World) -> None:
    with pytest.raises(Conflict):
        act(portal, file(portal, world.member, "sample_approval"), Action.START_FULFILMENT, None)


def test_carry_out(portal: Portal, world: World) -> None:
    request = act(portal, file(portal, world.member, "sample_approval"), Action.TAKE, world.staff)
    running = act(portal, request, Action.CARRY_OUT, world.staff)
    assert running.fulfilment_running and running.status == Status.IN_PROGRESS
    assert topics(portal)[-1] == "fulfil"


def test_carry_out_refused_for_manual_types_and_for_non_holders(portal: Portal, world: World) -> None:
    manual = act(portal, file(portal, world.member, "sample_manual"), Action.TAKE, world.staff)
    with pytest.raises(Conflict):
        act(portal, manual, Action.CARRY_OUT, world.staff)
    approval = act(portal, file(portal, world.member, "sample_approval"), Action.TAKE, world.staff)
    with pytest.raises(Conflict, match="holds"):
        act(portal, approval, Action.CARRY_OUT, world.colleague)


def test_fulfilment_succeeded(portal: Portal, world: World) -> None:
    request = act(portal, file(portal, world.member, "sample_automatic"), Action.START_FULFILMENT, None)
    done = act(portal, request, Action.FULFILMENT_SUCCEEDED, None, customer_message="Klart.")
    assert done.status == Status.COMPLETED and not done.fulfilment_running


def test_fulfilment_failed(portal: Portal, world: World) -> None:
    request = act(portal, file(portal, world.member, "sample_automatic"), Action.START_FULFILMENT, None)
    failed = act(portal, request, Action.FULFILMENT_FAILED, None, internal_note="adapter timed out")
    assert failed.status == Status.IN_PROGRESS and failed.needs_attention and not failed.fulfilment_running
    with portal.database.reading() as s:
        notes = list(s.exec(select(ChatMessage).where(ChatMessage.request_id == request.id)))
    assert [(n.body, n.internal) for n in notes] == [("adapter timed out", True)]
    # Anyone on staff may retry a failed automatic request, or take it over by hand.
    retried = act(portal, failed, Action.CARRY_OUT, world.colleague)
    assert retried.fulfilment_running
    failed_again = act(portal, retried, Action.FULFILMENT_FAILED, None)
    taken = act(portal, failed_again, Action.TAKE, world.staff)
    assert taken.assignee_id == world.staff.id and not taken.needs_attention


def test_fulfilment_delayed(portal: Portal, world: World) -> None:
    """Still being retried, but flagged: staff may step in (take over, retry now, reject), nothing else."""
    request = act(portal, file(portal, world.member, "sample_automatic"), Action.START_FULFILMENT, None)
    with pytest.raises(Conflict, match="being carried out"):
        act(portal, request, Action.TAKE, world.staff)  # not while it is merely running
    delayed = act(portal, request, Action.FULFILMENT_DELAYED, None)
    assert delayed.status == Status.IN_PROGRESS and delayed.needs_attention and delayed.fulfilment_running
    assert last_history(portal, delayed).action == "fulfilment_delayed"
    assert topics(portal).count("status_changed") == 1  # the start only: a flag is no status change
    with pytest.raises(Conflict, match="being carried out"):
        act(portal, delayed, Action.ASK_CUSTOMER, world.staff)
    taken = act(portal, delayed, Action.TAKE, world.staff)  # the take-over ends the automatic retries
    assert taken.assignee_id == world.staff.id and not taken.fulfilment_running and not taken.needs_attention
    again = act(portal, file(portal, world.member, "sample_automatic"), Action.START_FULFILMENT, None)
    again = act(portal, act(portal, again, Action.FULFILMENT_DELAYED, None), Action.REJECT, world.staff, reason="x")
    assert again.status == Status.CANCELLED and not again.fulfilment_running and not again.needs_attention


def test_fulfilment_outcomes_need_a_running_fulfilment(portal: Portal, world: World) -> None:
    request = act(portal, file(portal, world.member), Action.TAKE, world.staff)
    for action in (Action.FULFILMENT_SUCCEEDED, Action.FULFILMENT_FAILED):
        with pytest.raises(Conflict, match="No fulfilment"):
            act(portal, request, action, None)


def test_ask_customer(portal: Portal, world: World) -> None:
    request = act(portal, file(portal, world.member), Action.TAKE, world.staff)
    waiting = act(portal, request, Action.ASK_CUSTOMER, world.staff)
    assert waiting.status == Status.WAITING_FOR_CUSTOMER and waiting.assignee_id == world.staff.id


def test_customer_answered(portal: Portal, world: World) -> None:
    request = act(
        portal, act(portal, file(portal, world.member), Action.TAKE, world.staff), Action.ASK_CUSTOMER, world.staff
    )
    with pytest.raises(Conflict):
        act(portal, request, Action.CUSTOMER_ANSWERED, world.outsider)
    answered = act(portal, request, Action.CUSTOMER_ANSWERED, world.admin)
    assert answered.status == Status.IN_PROGRESS and answered.assignee_id == world.staff.id


def test_hand_back(portal: Portal, world: World) -> None:
    request = file(portal, world.member)
    queued_at = request.queued_at
    back = act(portal, act(portal, request, Action.TAKE, world.staff), Action.HAND_BACK, world.staff)
    assert back.status == Status.PENDING and back.assignee_id is None and back.queued_at == queued_at


def test_assign(portal: Portal, world: World) -> None:
    request = act(portal, file(portal, world.member), Action.TAKE, world.staff)
    passed = act(portal, request, Action.ASSIGN, world.staff, assignee=world.colleague)
    assert passed.assignee_id == world.colleague.id and passed.status == Status.IN_PROGRESS
    with pytest.raises(Conflict):
        act(portal, passed, Action.ASSIGN, world.colleague, assignee=world.member)


def test_complete(portal: Portal, world: World) -> None:
    done = act(portal, act(portal, file(portal, world.member), Action.TAKE, world.staff), Action.COMPLETE, world.staff)
    assert done.status == Status.COMPLETED
    assert [t for t in topics(portal) if t == "status_changed"] == ["status_changed", "status_changed"]


def test_withdraw(portal: Portal, world: World) -> None:
    request = file(portal, world.member)
    with pytest.raises(Conflict):
        act(portal, request, Action.WITHDRAW, world.outsider)
    withdrawn = act(portal, request, Action.WITHDRAW, world.admin)  # any user of the organisation
    assert withdrawn.status == Status.CANCELLED
    assert last_history(portal, request).actor_id == world.admin.id


def test_withdraw_refused_once_work_has_started(portal: Portal, world: World) -> None:
    request = act(portal, file(portal, world.member), Action.TAKE, world.staff)
    with pytest.raises(Conflict):
        act(portal, request, Action.WITHDRAW, world.member)


def test_reject(portal: Portal, world: World) -> None:
    request = file(portal, world.member)
    with pytest.raises(Conflict, match="reason"):
        act(portal, request, Action.REJECT, world.staff, reason="  ")
    rejected = act(portal, request, Action.REJECT, world.staff, reason="Dubblett av BB-1")
    assert rejected.status == Status.CANCELLED
    assert last_history(portal, request).reason == "Dubblett av BB-1"


def test_nothing_is_cancelled_while_its_fulfilment_runs(portal: Portal, world: World) -> None:
    running = act(portal, file(portal, world.member, "sample_automatic"), Action.START_FULFILMENT, None)
    with pytest.raises(Conflict, match="carried out right now"):
        act(portal, running, Action.REJECT, world.staff, reason="no")


@pytest.mark.parametrize("closing", [Action.COMPLETE, Action.REJECT])
def test_closed_is_closed(portal: Portal, world: World, closing: Action) -> None:
    request = act(portal, file(portal, world.member), Action.TAKE, world.staff)
    closed = act(portal, request, closing, world.staff, reason="klart")
    for action in TRANSITIONS:
        if action == Action.FILE:
            continue
        with pytest.raises(Conflict):
            act(portal, closed, action, world.staff, reason="x", assignee=world.colleague)
        with pytest.raises(Conflict):
            act(portal, closed, action, world.member, reason="x")


def test_a_stale_copy_cannot_overwrite_a_newer_change(portal: Portal, world: World) -> None:
    request = file(portal, world.member)
    act(portal, request, Action.TAKE, world.staff)  # `request` is now one version behind
    with portal.database.writing() as s, pytest.raises(Conflict, match="same moment"):
        apply(
            s,
            request,
            Action.WITHDRAW,
            world.member,
            request_type=portal.registry.get(request.type_key),
            clock=portal.clock,
            hooks=portal.hooks,
        )


def test_reschedule(portal: Portal, world: World) -> None:
    request = file(portal, world.member, carry_out_on=(portal.clock.now() + timedelta(days=3)).date())
    later = (portal.clock.now() + timedelta(days=9)).date()
    moved = act(portal, request, Action.RESCHEDULE, world.admin, carry_out_on=later)  # any user of the organisation
    assert moved.status == Status.SCHEDULED and moved.carry_out_on == later
    assert last_history(portal, request).details == {"carry_out_on": later.isoformat()}
    with pytest.raises(Conflict, match="later date"):
        act(portal, moved, Action.RESCHEDULE, world.member, carry_out_on=portal.clock.now().date())
    with pytest.raises(Conflict):
        act(portal, moved, Action.RESCHEDULE, world.outsider, carry_out_on=later)


def test_bring_forward(portal: Portal, world: World) -> None:
    request = file(portal, world.member, carry_out_on=(portal.clock.now() + timedelta(days=3)).date())
    now = act(portal, request, Action.BRING_FORWARD, world.member)
    assert now.status == Status.PENDING and now.queued_at == portal.clock.now()
    assert now.carry_out_on == portal.clock.now().date()
