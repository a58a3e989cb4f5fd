"""What waits for the customer stands out: the start page names the requests, the navigation counts them."""

from __future__ import annotations

import html
import re
from typing import Any

from sqlalchemy import event

from core.portal import Portal
from core.workflow import actions as workflow
from tests.support import World


def ask(staff: Any, request_id: int, question: str) -> None:
    staff.post(f"/staff/requests/{request_id}/take")
    staff.post(f"/staff/requests/{request_id}/messages", {"kind": "ask", "body": question})


def badge(page: str) -> str | None:
    found = re.search(
        r'href="/requests">[^<]*<span class="badge">(\d+\+?)<span class="visually-hidden">([^<]*)</span>', page
    )
    return f"{found.group(1)}{found.group(2)}" if found else None


def three_waiting(portal: Portal, world: World, make_web: Any) -> Any:
    """Three of the member's requests asked a question by staff; the member's web client, logged in."""
    customer, staff = make_web(), make_web()
    staff.login(world.staff.email)
    for n in range(3):
        filed = workflow.file(portal, world.member, "fault_report", world.fault(location=f"Port {n}"), None)
        ask(staff, filed.id or 0, "Vilken dörr?")
    customer.login(world.member.email)
    return customer


def test_the_start_page_and_the_navigation_show_what_waits_for_the_customer(
    portal: Portal, world: World, make_web: Any
) -> None:
    customer, staff = make_web(), make_web()
    customer.login(world.member.email)
    staff.login(world.staff.email)
    start = customer.get("/").text
    assert "väntar på svar från er" not in start and badge(start) is None  # nothing waits: nothing shown

    first = workflow.file(portal, world.member, "fault_report", world.fault(location="Port 1"), None)
    second = workflow.file(portal, world.member, "fault_report", world.fault(location="Port 2"), None)
    workflow.file(portal, world.member, "fault_report", world.fault(location="Port 3"), None)  # not asked
    ask(staff, first.id or 0, "Vilken dörr?")
    start = html.unescape(customer.get("/").text)
    assert '<a href="/requests?view=waiting">1 ärende väntar på svar från er</a>' in start
    assert f'<a href="/requests/{first.id}">{first.number}' in start
    assert f'href="/requests/{second.id}"' not in start
    assert badge(start) == "1 väntar på svar från er"

    ask(staff, second.id or 0, "Vilken port?")
    page = html.unescape(customer.get(f"/requests/{first.id}").text)  # every page's navigation counts them
    assert badge(page) == "2 väntar på svar från er"
    start = html.unescape(customer.get("/").text)
    assert "2 ärenden väntar på svar från er" in start

    customer.post(f"/requests/{first.id}/messages", {"body": "Porten mot gården."})  # answered: no longer waits
    assert badge(html.unescape(customer.get("/requests").text)) == "1 väntar på svar från er"


def test_another_organisations_waiting_requests_are_not_counted(portal: Portal, world: World, make_web: Any) -> None:
    customer, staff = make_web(), make_web()
    staff.login(world.staff.email)
    other = workflow.file(portal, world.outsider, "fault_report", world.fault(system_id=world.other_system.id), None)
    ask(staff, other.id or 0, "Vilken dörr?")
    customer.login(world.member.email)
    start = customer.get("/").text
    assert badge(start) is None and other.number not in start


def test_the_navigation_count_is_one_query_per_page(portal: Portal, world: World, make_web: Any) -> None:
    customer = three_waiting(portal, world, make_web)
    counts: list[str] = []

    def seen(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_args: Any) -> None:
        if "count(" in statement.lower() and "waiting_for_customer" in str(parameters):
            counts.append(statement)

    engine = portal.database.read_engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        page = customer.get("/profile").text
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert badge(html.unescape(page)) == "3 väntar på svar från er"
    assert len(counts) == 1


def test_the_badge_stops_counting_past_its_maximum_and_the_start_page_does_not(
    portal: Portal, world: World, make_web: Any, monkeypatch: Any
) -> None:
    """The badge is on every page: past a backlog of questions it says "2+" (here; "99+" as shipped) and stops
    counting, while the start page counts them all."""
    from core.requests import waiting

    monkeypatch.setattr(waiting, "BADGE_MAX", 2)
    waiting._capped_count_statement.cache_clear()
    customer = three_waiting(portal, world, make_web)
    try:
        assert badge(html.unescape(customer.get("/profile").text)) == "2+ väntar på svar från er"
        start = html.unescape(customer.get("/").text)
        assert "3 ärenden väntar på svar från er" in start and badge(start) == "2+ väntar på svar från er"
        with portal.database.reading() as session:
            assert waiting.waiting_count(session, world.member, for_badge=True) == 3  # one past the maximum
            assert waiting.waiting_count(session, world.member) == 3
    finally:
        waiting._capped_count_statement.cache_clear()
