"""Bad input gets a clear 4xx, never a 500; things found in review stay fixed."""

from __future__ import annotations

from typing import Any

from sqlmodel import select

from core.models import User
from core.platform import outbox
from core.platform.outbox import OutboxMessage
from core.portal import Portal
from core.workflow import actions as workflow
from tests.support import World

HUGE = "9" * 30


def test_ids_beyond_the_schema_are_404_not_500(portal: Portal, world: World, make_web: Any) -> None:
    customer, staff = make_web(), make_web()
    customer.login(world.member.email)
    staff.login(world.staff.email)
    for url in (
        f"/requests/{HUGE}",
        "/requests/3000000000",
        f"/requests/{HUGE}/messages?since=1",
        f"/api/v1/requests/{HUGE}",
    ):
        assert customer.get(url).status_code == 404, url
    assert customer.get(f"/requests?cursor={HUGE}").status_code == 200
    assert customer.get(f"/requests/1/messages?since={HUGE}").status_code == 404
    assert staff.get(f"/staff/requests/{HUGE}").status_code == 404
    assert staff.get("/staff/queue?organisation=²&cursor=0|x|²").status_code == 200
    filed = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    staff.post(f"/staff/requests/{filed.id}/take")
    assert staff.post(f"/staff/requests/{filed.id}/assign", {"assignee_id": HUGE}).status_code == 409


def test_a_non_ascii_csrf_token_is_a_403(world: World, web: Any) -> None:
    web.login(world.member.email)
    response = web.client.post("/requests/new/fault_report", data={"_csrf": "åäö"})
    assert response.status_code == 403


def test_an_overlong_reason_or_login_is_refused_clearly(portal: Portal, world: World, web: Any) -> None:
    filed = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    web.login(world.staff.email)
    response = web.post(f"/staff/requests/{filed.id}/reject", {"reason": "x" * 2500})
    assert response.status_code == 409 and "under 2 000 tecken" in response.text
    web.get("/login")
    assert web.post("/login", {"email": "a" * 400 + "@x.se", "password": "nope"}).status_code == 401


def test_retrying_a_finished_job_does_nothing(portal: Portal, world: World) -> None:
    workflow.file(portal, world.member, "fault_report", world.fault(), None)
    outbox.drain(portal)
    with portal.database.reading() as s:
        done = s.exec(select(OutboxMessage).where(OutboxMessage.topic == "send_mail")).one()
    outbox.retry(portal, done.id or 0)
    with portal.database.reading() as s:
        assert s.get(OutboxMessage, done.id).status == "done"  # type: ignore[union-attr]


def test_the_development_mail_page_is_for_administrators_only(world: World, make_web: Any) -> None:
    anonymous, customer, admin = make_web(), make_web(), make_web()
    assert anonymous.get("/dev/mail", follow_redirects=False).status_code == 302
    customer.login(world.member.email)
    assert customer.get("/dev/mail").status_code == 404
    admin.login(world.staff_admin.email)
    assert admin.get("/dev/mail").status_code == 200


def test_answer_needed_only_means_no_receipt(portal: Portal, world: World) -> None:
    with portal.database.writing() as s:
        member = s.get(User, world.member.id)
        assert member is not None
        member.notify = "answer_needed"
        s.add(member)
    workflow.file(portal, world.member, "fault_report", world.fault(), None)
    outbox.drain(portal)
    with portal.database.reading() as s:
        assert list(s.exec(select(OutboxMessage).where(OutboxMessage.topic == "send_mail"))) == []
