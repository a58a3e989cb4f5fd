"""Observers see every path through the pipeline: a recording plugin watches each way a request is filed,
changes status or gets a message (pages, API, release, automatic steps, staff actions, answers in the portal
and by mail, both quarantine actions)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest

from core.conversation import intake
from core.platform import outbox
from core.portal import Portal
from core.requests.lifecycle import Action
from core.requests.scheduling import release_due
from core.workflow import actions as workflow
from tests.integration.test_api import token_for
from tests.integration.test_intake import reply, waiting_request
from tests.plugins.recorder import BatchRecorder, Recorder
from tests.plugins.sample_types import SamplePlugin
from tests.support import World

RECORDER = Recorder()
BATCH = BatchRecorder()


@pytest.fixture
def extra_plugins() -> list[Any]:
    RECORDER.seen.clear()
    BATCH.calls.clear()
    return [RECORDER, BATCH, SamplePlugin()]


def test_filing_from_a_page_and_from_the_api(portal: Portal, world: World, web: Any) -> None:
    web.login(world.member.email)
    page = web.post("/requests/new/fault_report", {**world.fault(), "system_id": str(world.system.id)})
    assert page.status_code in (200, 302, 303), page.text[:500]
    api = web.client.post(
        "/api/v1/requests",
        headers=token_for(portal, world.member),
        json={"type": "fault_report", "data": world.fault(), "carry_out_on": None},
    )
    assert api.status_code == 201, api.text
    filed = RECORDER.of("filed")
    assert len(filed) == 2 and filed[1][1] == api.json()["id"]
    assert all(event[2] == "pending" for event in filed)


def test_a_release_is_one_batched_event_and_every_request_s_change(portal: Portal, world: World, clock: Any) -> None:
    day = date(2026, 12, 3)
    ids = [workflow.file(portal, world.member, "order", world.later_change(), day).id for _ in range(3)]
    BATCH.calls.clear()
    clock.set(datetime(2026, 12, 3, 6, 0, 30, tzinfo=UTC))  # 07:00:30 in Stockholm
    assert release_due(portal) == ids
    assert BATCH.calls == [[(i, "scheduled", "pending", "release") for i in ids]]
    assert RECORDER.of("status") == [("status", i, "scheduled>pending", "release") for i in ids]


def test_automatic_steps_and_their_messages(portal: Portal, world: World) -> None:
    filed = workflow.file(portal, world.member, "sample_automatic", {"note": "x"}, None)
    outbox.drain(portal)
    assert [e[2:] for e in RECORDER.of("status", filed.id)] == [
        ("pending>in_progress", "start_fulfilment"),
        ("in_progress>completed", "fulfilment_succeeded"),
    ]
    assert sorted(e[2:] for e in RECORDER.of("message", filed.id)) == [("system", False), ("system", True)]
    assert [c for call in BATCH.calls for c in call if c[0] == filed.id] == [
        (filed.id, "pending", "in_progress", "start_fulfilment"),
        (filed.id, "in_progress", "completed", "fulfilment_succeeded"),
    ]


def test_every_staff_action(portal: Portal, world: World) -> None:
    def act(request_id: int, action: Action, **extra: Any) -> None:
        workflow.perform(portal, world.staff, request_id, action, **extra)

    manual = workflow.file(portal, world.member, "sample_manual", {"note": "x"}, None).id or 0
    act(manual, Action.TAKE)
    act(manual, Action.ASSIGN, assignee_id=world.colleague.id)  # no status change: no event
    workflow.perform(portal, world.colleague, manual, Action.HAND_BACK)
    act(manual, Action.TAKE)
    act(manual, Action.COMPLETE)
    approval = workflow.file(portal, world.member, "sample_approval", {"note": "x"}, None).id or 0
    act(approval, Action.TAKE)
    act(approval, Action.CARRY_OUT)  # no status change; its outcome is the worker's
    outbox.drain(portal)
    rejected = workflow.file(portal, world.member, "sample_manual", {"note": "x"}, None).id or 0
    act(rejected, Action.REJECT, reason="Dubblett")
    assert [e[2:] for e in RECORDER.of("status", manual)] == [
        ("pending>in_progress", "take"),
        ("in_progress>pending", "hand_back"),
        ("pending>in_progress", "take"),
        ("in_progress>completed", "complete"),
    ]
    assert [e[2:] for e in RECORDER.of("status", approval)] == [
        ("pending>in_progress", "take"),
        ("in_progress>completed", "fulfilment_succeeded"),
    ]
    assert [e[2:] for e in RECORDER.of("status", rejected)] == [("pending>cancelled", "reject")]


def test_questions_and_answers_in_the_portal_and_by_mail(portal: Portal, world: World, web: Any) -> None:
    asked = waiting_request(portal, world)  # staff took it and asked through the lifecycle
    web.login(world.member.email)
    web.post(f"/requests/{asked.id}/messages", {"body": "Porten mot gården."})
    assert RECORDER.of("status", asked.id)[-1][2:] == ("waiting_for_customer>in_progress", "customer_answered")
    assert RECORDER.of("message", asked.id)[-1][2:] == ("portal", False)

    by_mail = waiting_request(portal, world)
    outcome = intake.receive(portal, reply(portal, by_mail, world.member.email, "Det gäller porten."))
    assert outcome.status == "attached"
    assert RECORDER.of("status", by_mail.id)[-1][2:] == ("waiting_for_customer>in_progress", "customer_answered")
    assert RECORDER.of("message", by_mail.id)[-1][2:] == ("email", False)

    staff = web.__class__(web.client)
    staff.login(world.staff.email)
    staff.post(f"/staff/requests/{by_mail.id}/messages", {"kind": "ask", "body": "Vilken port?"})
    assert RECORDER.of("status", by_mail.id)[-1][2:] == ("in_progress>waiting_for_customer", "ask_customer")
    assert RECORDER.of("message", by_mail.id)[-1][2:] == ("portal", False)


def test_both_quarantine_actions(portal: Portal, world: World, web: Any) -> None:
    closed = waiting_request(portal, world)
    workflow.perform(portal, world.staff, closed.id or 0, Action.REJECT, reason="Dubblett")
    waiting = waiting_request(portal, world)
    first = intake.receive(portal, reply(portal, closed, world.member.email, "Gäller porten mot gården."))
    second = intake.receive(portal, reply(portal, closed, world.member.email, "Låset i källaren."))
    assert (first.status, second.status) == ("quarantined", "quarantined")
    web.login(world.staff.email)
    attached = web.post(
        f"/staff/quarantine/{first.inbound_mail_id}/attach", {"request": f"BB-{waiting.id}"}, follow_redirects=False
    )
    assert attached.status_code in (302, 303), attached.text[:500]
    assert RECORDER.of("message", waiting.id)[-1][2:] == ("email", False)
    # The mail is the customer's answer: the request they were asked about is worked on again.
    assert RECORDER.of("status", waiting.id)[-1][2:] == ("waiting_for_customer>in_progress", "customer_answered")

    filed = web.post(
        f"/staff/quarantine/{second.inbound_mail_id}/new",
        {
            "type": "fault_report",
            "user": world.member.email,
            **{k: str(v) for k, v in world.fault(description="Låset i källaren.").items()},
        },
        follow_redirects=False,
    )
    assert filed.status_code in (302, 303), filed.text[:500]
    new_id = int(filed.headers["location"].split("?")[0].rsplit("/", 1)[1])
    assert RECORDER.of("filed", new_id) == [("filed", new_id, "pending")]
    assert RECORDER.of("message", new_id) == [("message", new_id, "email", False)]
