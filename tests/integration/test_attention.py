"""A failed automatic step is never lost: the request waits above the queue until staff act, then the flag goes."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from core.access_control import TagState
from core.access_control.simulator import Fault, set_fault
from core.models import Request
from core.platform import outbox
from core.portal import Portal
from core.requests.lifecycle import Action
from core.workflow import actions as workflow


def failed_block(portal: Portal, world: Any) -> int:
    adapter = portal.access_control(world.system)
    tag = next(t for t in adapter.tags() if t.state == TagState.ACTIVE and t.holder_id)
    payload = {
        "system_id": world.system.id,
        "action": "block",
        "tag": {"kind": "by_number", "number": tag.number},
        "reason": "Borttappad",
    }
    filed = workflow.file(portal, world.member, "tag_block", payload, None)
    set_fault(portal.database, world.system.id, Fault.REFUSE)  # a refusal fails; no answer is retried
    outbox.drain(portal)
    with portal.database.reading() as session:
        request = session.get(Request, filed.id)
        assert request is not None and request.needs_attention and request.assignee_id is None
        assert request.status == "in_progress"
    return filed.id or 0


def test_a_failed_automatic_request_is_listed_above_the_queue(portal: Portal, world: Any, web: Any) -> None:
    request_id = failed_block(portal, world)
    web.login(world.staff.email)
    page = web.get("/staff/queue").text
    section = page.split('id="attention-title"', 1)[1].split("</section>", 1)[0]
    assert f"/staff/requests/{request_id}" in section
    workflow.perform(portal, world.staff, request_id, Action.TAKE)  # taken: no longer waiting for attention
    assert 'id="attention-title"' not in web.get("/staff/queue").text


def test_a_block_still_retried_after_the_alert_time_is_listed_above_the_queue_too(
    portal: Portal, world: Any, web: Any
) -> None:
    adapter = portal.access_control(world.system)
    tag = next(t for t in adapter.tags() if t.state == TagState.ACTIVE and t.holder_id)
    payload = {"system_id": world.system.id, "tag": {"kind": "by_number", "number": tag.number}, "reason": "Stulen"}
    set_fault(portal.database, world.system.id, Fault.UNAVAILABLE)
    filed = workflow.file(portal, world.member, "tag_block", payload, None)
    outbox.drain(portal)
    web.login(world.staff.email)
    assert 'id="attention-title"' not in web.get("/staff/queue").text  # retried, within the alert time
    portal.clock.advance(timedelta(minutes=portal.settings.fulfilment_alert_minutes + 5))  # type: ignore[attr-defined]
    outbox.drain(portal)
    section = web.get("/staff/queue").text.split('id="attention-title"', 1)[1].split("</section>", 1)[0]
    assert f"/staff/requests/{filed.id}" in section


def test_rejecting_a_flagged_request_clears_the_flag(portal: Portal, world: Any) -> None:
    request_id = failed_block(portal, world)
    workflow.perform(portal, world.staff, request_id, Action.REJECT, reason="Taggen hittades")
    with portal.database.reading() as session:
        request = session.get(Request, request_id)
        assert request is not None and request.status == "cancelled" and not request.needs_attention
