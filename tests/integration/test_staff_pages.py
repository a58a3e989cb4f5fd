"""The staff pages: the queue's order and filters, take, hand back, pass on, reject with a reason."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from core.portal import Portal
from core.workflow import actions as workflow
from tests.support import World


def numbers_in(page: str) -> list[int]:
    return [int(n) for n in re.findall(r'href="/staff/requests/(\d+)"', page)]


def test_queue_urgent_first_then_oldest(portal: Portal, world: World, web: Any) -> None:
    first = workflow.file(portal, world.member, "fault_report", world.fault(location="Första"), None)
    portal.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    second = workflow.file(portal, world.member, "fault_report", world.fault(location="Andra"), None)
    portal.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    urgent = workflow.file(portal, world.member, "fault_report", world.fault(urgency="urgent"), None)
    other = workflow.file(portal, world.outsider, "fault_report", world.fault(system_id=world.other_system.id), None)
    web.login(world.staff.email)
    page = web.get("/staff/queue").text
    assert numbers_in(page) == [urgent.id, first.id, second.id, other.id]
    assert "Brådskande" in page and "Annan AB" in page
    filtered = web.get(f"/staff/queue?organisation={world.other_org.id}").text
    assert numbers_in(filtered) == [other.id]


def test_queue_pages_keep_the_order(portal: Portal, world: World, web: Any) -> None:
    filed = [workflow.file(portal, world.member, "fault_report", world.fault(), None).id for _ in range(30)]
    web.login(world.staff.email)
    first = web.get("/staff/queue").text
    cursor = re.search(r'cursor=([^"]+)" rel="next"', first).group(1)  # type: ignore[union-attr]
    from html import unescape

    second = web.get("/staff/queue?cursor=" + unescape(cursor)).text
    assert numbers_in(first) + numbers_in(second) == filed


def test_take_hand_back_and_pass_on(portal: Portal, world: World, make_web: Any) -> None:
    filed = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    henrik, klara = make_web(), make_web()
    henrik.login(world.staff.email)
    klara.login(world.colleague.email)
    assert "Ni har nu tagit ärendet." in henrik.post(f"/staff/requests/{filed.id}/take", follow_redirects=True).text
    lost = klara.post(f"/staff/requests/{filed.id}/take")
    assert lost.status_code == 409 and "Henrik Handläggare har redan tagit detta ärende." in lost.text
    back = henrik.post(f"/staff/requests/{filed.id}/hand_back", follow_redirects=True).text
    assert "Väntar på hantering" in back
    klara.post(f"/staff/requests/{filed.id}/take")
    passed = klara.post(
        f"/staff/requests/{filed.id}/assign", {"assignee_id": str(world.staff.id)}, follow_redirects=True
    )
    assert passed.status_code == 200
    assert "Slutfört" in henrik.post(f"/staff/requests/{filed.id}/complete", follow_redirects=True).text


def test_reject_asks_for_a_reason_and_the_customer_sees_it(portal: Portal, world: World, make_web: Any) -> None:
    filed = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    staff, customer = make_web(), make_web()
    staff.login(world.staff.email)
    assert staff.get(f"/staff/requests/{filed.id}/reject").status_code == 200
    missing = staff.post(f"/staff/requests/{filed.id}/reject", {"reason": " "})
    assert missing.status_code == 409 and "Ange en anledning." in missing.text
    staff.post(f"/staff/requests/{filed.id}/reject", {"reason": "Dubblett av ett annat ärende"})
    customer.login(world.member.email)
    page = customer.get(f"/requests/{filed.id}").text
    assert "Makulerad" in page and "Dubblett av ett annat ärende" in page


def test_staff_see_every_organisation(portal: Portal, world: World, web: Any) -> None:
    ours = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    theirs = workflow.file(portal, world.outsider, "fault_report", world.fault(system_id=world.other_system.id), None)
    web.login(world.staff.email)
    assert set(numbers_in(web.get("/staff/requests").text)) == {ours.id, theirs.id}
    assert web.get(f"/staff/requests/{theirs.id}").status_code == 200
