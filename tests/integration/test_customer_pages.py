"""The customer's pages: generated form with errors, dates, our requests with filters and pages, withdrawing."""

from __future__ import annotations

import html
from datetime import timedelta
from typing import Any

import pytest
from sqlmodel import col, func, select

from core.models import Request
from core.portal import Portal, build_portal
from core.requests.lifecycle import Action
from core.web.app import create_app
from core.workflow import actions as workflow
from tests.plugins.sample_types import SamplePlugin
from tests.support import World, hidden_fields


def count_requests(portal: Portal) -> int:
    with portal.database.reading() as s:
        return int(s.exec(select(func.count()).select_from(Request)).one())


def form_values(world: World, **changes: Any) -> dict[str, Any]:
    return {**world.fault(), "system_id": str(world.system.id), **changes}


def test_errors_next_to_fields_summarised_and_input_kept(portal: Portal, world: World, web: Any) -> None:
    web.login(world.member.email)
    response = web.post(
        "/requests/new/fault_report", form_values(world, description="", contact_phone="123", location="Port 2")
    )
    assert response.status_code == 422
    page = response.text
    assert "Det finns ett problem" in page
    assert 'href="#f-description"' in page and 'href="#f-contact-phone"' in page
    assert 'id="f-contact-phone-error"' in page and 'aria-invalid="true"' in page
    assert 'value="Port 2"' in page  # what the user typed is kept
    assert "Ange ett svenskt telefonnummer, t.ex. 070-123 45 67." in html.unescape(page)  # not the English msgid
    assert count_requests(portal) == 0


def test_errors_in_english_for_an_english_user(portal: Portal, world: World, web: Any) -> None:
    web.login(world.member.email)
    web.post("/language", {"language": "en", "next": "/"})
    page = web.post("/requests/new/fault_report", form_values(world, description="")).text
    assert "There is a problem" in page and "This field is required." in page and "What happens" in page


def test_another_organisations_system_is_refused(portal: Portal, world: World, web: Any) -> None:
    web.login(world.member.email)
    response = web.post("/requests/new/fault_report", form_values(world, system_id=str(world.other_system.id)))
    assert response.status_code == 422 and "Välj ett av er organisations system." in response.text


def test_carry_out_on_dates(portal: Portal, world: World, web: Any) -> None:
    web.login(world.member.email)
    past = (portal.clock.now() - timedelta(days=1)).date().isoformat()
    response = web.post("/requests/new/fault_report", form_values(world, carry_out_on=past))
    assert response.status_code == 422 and 'href="#f-carry-out-on"' in response.text
    future = (portal.clock.now() + timedelta(days=10)).date().isoformat()
    refused = web.post("/requests/new/fault_report", form_values(world, carry_out_on=future))
    assert refused.status_code == 422 and "kan inte schemaläggas" in refused.text  # a hand-made post: no date
    assert 'name="carry_out_on"' not in web.get("/requests/new/fault_report").text
    later = {"system_id": str(world.system.id), "order": "other", "order.description": "Öppna porten 07–18."}
    page = web.post("/requests/new/order", {**later, "carry_out_on": future}, follow_redirects=True)
    if 'name="estimate"' in page.text:  # the order's cost is shown first: send it from there
        page = web.post("/requests/new/order", hidden_fields(page.text), follow_redirects=True)
    assert "Schemalagd" in page.text
    today = portal.clock.now().date().isoformat()
    page = web.post("/requests/new/fault_report", form_values(world, carry_out_on=today), follow_redirects=True)
    assert "Väntar på hantering" in page.text


def test_our_requests_filters_pages_and_empty_state(portal: Portal, world: World, web: Any) -> None:
    web.login(world.member.email)
    assert "Er organisation har inte skickat in några ärenden ännu." in web.get("/requests").text
    for number in range(30):
        workflow.file(
            portal,
            world.admin if number % 2 else world.member,
            "fault_report",
            world.fault(location=f"Dörr {number:02d}"),
            None,
        )
    workflow.file(
        portal, world.outsider, "fault_report", world.fault(system_id=world.other_system.id, location="Främmande"), None
    )
    first = web.get("/requests").text
    assert "Dörr 29" in first and "Dörr 05" in first and "Dörr 04" not in first and "Främmande" not in first
    assert "Anna Admin" in first and "Maja Medlem" in first
    assert 'rel="next"' in first
    import re
    from html import unescape

    assert "31 ärenden" not in first and "30 ärenden" in first  # the total count, the organisation's only
    following = re.search(r'href="([^"]+)" rel="next"', first).group(1)  # type: ignore[union-attr]
    second = web.get(unescape(following)).text
    assert "Dörr 04" in second and "Dörr 00" in second and "Dörr 05" not in second
    assert 'rel="next"' not in second
    previous = re.search(r'href="([^"]+)" rel="prev"', second).group(1)  # type: ignore[union-attr]
    back = web.get(unescape(previous)).text
    assert "Dörr 29" in back and "Dörr 05" in back and "Dörr 04" not in back and 'rel="prev"' not in back
    assert "Inga ärenden matchar." in web.get("/requests?status=completed").text
    assert "Dörr 29" in web.get("/requests?status=pending&type=fault_report").text


def test_withdraw_needs_confirmation(portal: Portal, world: World, web: Any) -> None:
    filed = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    web.login(world.admin.email)  # any user of the organisation may withdraw
    confirm = web.get(f"/requests/{filed.id}/withdraw")
    assert confirm.status_code == 200 and "Återkalla" in confirm.text
    done = web.post(f"/requests/{filed.id}/withdraw", follow_redirects=True)
    assert "Makulerad" in done.text
    again = web.post(f"/requests/{filed.id}/withdraw")
    assert again.status_code == 409


@pytest.fixture
def extra_plugins() -> list[Any]:
    return [SamplePlugin()]


def test_request_of_an_uninstalled_type_still_displays(portal: Portal, world: World, web: Any) -> None:
    filed = workflow.file(portal, world.member, "sample_manual", {"note": "gammal begäran"}, None)
    without = build_portal(portal.settings, database=portal.database, clock=portal.clock)
    from litestar.testing import TestClient

    from tests.support import WebClient

    client = WebClient(TestClient(create_app(without), base_url="http://testserver.local"))
    client.login(world.member.email)
    page = client.get(f"/requests/{filed.id}")
    assert page.status_code == 200
    assert "gammal begäran" in page.text and "sample_manual" in page.text
    assert "gammal begäran" in client.get("/requests").text


def test_change_the_date_of_a_scheduled_request(portal: Portal, world: World, web: Any) -> None:
    future = (portal.clock.now() + timedelta(days=10)).date()
    filed = workflow.file(portal, world.member, "order", world.later_change(), future.isoformat())
    web.login(world.admin.email)
    page = web.get(f"/requests/{filed.id}").text
    assert f'action="/requests/{filed.id}/date"' in page
    past = web.post(f"/requests/{filed.id}/date", {"carry_out_on": "2020-01-01"})
    assert past.status_code == 422 and "Datumet har passerat" in past.text
    later = (future + timedelta(days=5)).isoformat()
    moved = web.post(f"/requests/{filed.id}/date", {"carry_out_on": later}, follow_redirects=True)
    assert "Schemalagd" in moved.text and later in moved.text
    now = web.post(
        f"/requests/{filed.id}/date", {"carry_out_on": portal.clock.now().date().isoformat()}, follow_redirects=True
    )
    assert "Väntar på hantering" in now.text


def test_a_closed_request_leads_to_a_new_request_about_it(portal: Portal, world: World, web: Any) -> None:
    """Its page links to the new-request page with its number; the reference is shown all the way through the
    form and kept with the new request, whose page links back. Another organisation's number is dropped."""
    closed = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    workflow.perform(portal, world.staff, closed.id or 0, Action.REJECT, reason="Dubblett")
    link = f"/requests/new?about={closed.number}"
    web.login(world.member.email)
    assert link in web.get(f"/requests/{closed.id}").text
    choose = web.get(link).text
    assert f"Ert nya ärende hänvisar till {closed.number}." in html.unescape(choose)
    assert f'href="/requests/new/fault_report?about={closed.number}"' in choose
    form = web.get(f"/requests/new/fault_report?about={closed.number}").text
    assert f'name="follows_up" value="{closed.number}"' in form and f'href="/requests/{closed.id}"' in form
    again = web.post("/requests/new/fault_report", form_values(world, description="", follows_up=closed.number))
    assert again.status_code == 422 and f'name="follows_up" value="{closed.number}"' in again.text  # kept
    filed = web.post("/requests/new/fault_report", form_values(world, follows_up=closed.number), follow_redirects=True)
    with portal.database.reading() as s:
        new = s.exec(select(Request).order_by(col(Request.id).desc())).first()
    assert new is not None and new.id != closed.id and new.follows_up_id == closed.id
    assert f'href="/requests/{closed.id}">{closed.number}</a>' in filed.text
    assert "Uppföljning av" in html.unescape(filed.text)

    foreign = workflow.file(portal, world.outsider, "fault_report", world.fault(system_id=world.other_system.id), None)
    page = html.unescape(web.get(f"/requests/new?about={foreign.number}").text)
    main = page.split('<main id="main"', 1)[1]  # the header's language switch repeats the address as typed
    assert foreign.number not in main and f"/requests/{foreign.id}" not in page
    web.post("/requests/new/fault_report", form_values(world, follows_up=foreign.number), follow_redirects=True)
    with portal.database.reading() as s:
        newest = s.exec(select(Request).order_by(col(Request.id).desc())).first()
    assert newest is not None and newest.requester_id == world.member.id and newest.follows_up_id is None
