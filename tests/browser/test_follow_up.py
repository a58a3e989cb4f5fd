"""A closed request's way on, in a real browser at desktop and phone width: from its page to a new request
that refers to it, and back."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect

from core.requests.lifecycle import Action
from core.workflow import actions as workflow
from tests.browser.test_flows import REQUEST_URL, fill_fault_report, send

pytestmark = pytest.mark.browser


def test_a_new_request_about_a_closed_one(
    sign_in: Any, pages: Any, world: Any, live_server: Any, viewport: dict[str, int]
) -> None:
    width = viewport["width"]  # the suite runs every story at 1280 and at 390 px
    portal = live_server.portal
    closed = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    workflow.perform(portal, world.staff, closed.id or 0, Action.REJECT, reason="Dubblett av ett annat ärende")
    customer = sign_in(world.member.email, who="customer")
    customer.goto(f"/requests/{closed.id}")
    pages.check(customer, f"closed request at {width}")
    customer.get_by_role("link", name=f"Nytt ärende om {closed.number}").first.click()
    expect(customer.get_by_role("status")).to_contain_text(f"Ert nya ärende hänvisar till {closed.number}.")
    pages.check(customer, f"choose a type about it at {width}")
    customer.get_by_role("link", name="Felanmälan").click()
    expect(customer.get_by_role("status")).to_contain_text(f"Det här ärendet hänvisar till {closed.number}.")
    pages.check(customer, f"form about it at {width}")
    fill_fault_report(customer, location="Samma dörr igen")
    send(customer)
    expect(customer).to_have_url(REQUEST_URL)
    expect(customer.locator("dl.facts")).to_contain_text(f"Uppföljning av{closed.number}")
    pages.check(customer, f"the new request refers to it at {width}")
    customer.locator("dl.facts").get_by_role("link", name=closed.number).click()
    expect(customer).to_have_url(f"{live_server.base_url}/requests/{closed.id}")
