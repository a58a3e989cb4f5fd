"""The conversation in the portal: messages, internal notes, asking the customer and their answer."""

from __future__ import annotations

import re
from typing import Any

from core.conversation import chat
from core.models import Request
from core.platform import outbox
from core.portal import Portal
from core.requests.lifecycle import Action
from core.requests.statuses import Status
from core.workflow import actions as workflow
from tests.support import World


def status(portal: Portal, request_id: int) -> str:
    with portal.database.reading() as s:
        found = s.get(Request, request_id)
        assert found is not None
        return found.status


def test_ask_the_customer_and_the_answer_in_the_portal(portal: Portal, world: World, make_web: Any) -> None:
    filed = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    staff, customer = make_web(), make_web()
    staff.login(world.staff.email)
    customer.login(world.admin.email)  # any user of the organisation may answer
    staff.post(f"/staff/requests/{filed.id}/take")
    staff.post(f"/staff/requests/{filed.id}/messages", {"kind": "internal", "body": "Kolla larmloggen först."})
    staff.post(f"/staff/requests/{filed.id}/messages", {"kind": "ask", "body": "Vilken dörr gäller det?"})
    assert status(portal, filed.id or 0) == Status.WAITING_FOR_CUSTOMER
    page = customer.get(f"/requests/{filed.id}").text
    assert "Vilken dörr gäller det?" in page and "Väntar på kund" in page
    assert "Kolla larmloggen" not in page  # internal notes never reach customers
    assert "Henrik Handläggare" in page and "(BBGRUPPEN)" in page
    customer.post(f"/requests/{filed.id}/messages", {"body": "Porten mot gården."})
    assert status(portal, filed.id or 0) == Status.IN_PROGRESS
    staff_page = staff.get(f"/staff/requests/{filed.id}").text
    assert "Porten mot gården." in staff_page and "(Brf Testet)" in staff_page and "Kolla larmloggen" in staff_page
    outbox.drain(portal)
    import email
    from email import policy
    from pathlib import Path

    mails = [
        email.message_from_bytes(p.read_bytes(), policy=policy.default)
        for p in (Path(portal.settings.data_dir) / "mail").glob("*.eml")
    ]
    to_staff = [m for m in mails if world.staff.email in str(m["To"])]
    assert len(to_staff) == 1 and "Porten mot gården." in to_staff[0].get_body(("plain",)).get_content()


def test_new_messages_are_fetched_since_a_marker_without_internal_notes(portal: Portal, world: World, web: Any) -> None:
    filed = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    workflow.perform(portal, world.staff, filed.id or 0, Action.TAKE)
    first = chat.post(portal, world.staff, filed.id or 0, "Vi tittar på det.")
    chat.post(portal, world.staff, filed.id or 0, "Intern: ring låssmeden", internal=True)
    second = chat.post(portal, world.staff, filed.id or 0, "Teknikern kommer i morgon.")
    web.login(world.member.email)
    fragment = web.get(f"/requests/{filed.id}/messages?since={first.id}").text
    assert "Teknikern kommer i morgon." in fragment and "Vi tittar på det." not in fragment
    assert "låssmeden" not in fragment
    assert web.get(f"/requests/{filed.id}/messages?since={second.id}").text.strip() == ""


def test_closed_requests_take_no_messages_and_empty_messages_are_refused(
    portal: Portal, world: World, web: Any
) -> None:
    filed = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    web.login(world.member.email)
    empty = web.post(f"/requests/{filed.id}/messages", {"body": "   "})
    assert empty.status_code == 422 and "Skriv ett meddelande." in empty.text
    workflow.perform(portal, world.member, filed.id or 0, Action.WITHDRAW)
    closed = web.post(f"/requests/{filed.id}/messages", {"body": "Hallå?"})
    assert closed.status_code == 409 and 'href="/"' in closed.text
    assert re.search(r"stängt|avslutat", closed.text)


def test_customers_cannot_write_internal_notes_or_ask(portal: Portal, world: World, web: Any) -> None:
    filed = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    web.login(world.member.email)
    web.post(f"/requests/{filed.id}/messages", {"kind": "internal", "body": "Hemligt?"})
    workflow.perform(portal, world.staff, filed.id or 0, Action.TAKE)
    web.login(world.staff.email)
    page = web.get(f"/staff/requests/{filed.id}").text
    assert "Hemligt?" in page and "Intern anteckning" not in page.split("Hemligt?")[0].rsplit("<li", 1)[1]
