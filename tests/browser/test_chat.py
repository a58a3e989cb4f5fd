"""The conversation in a real browser, on both sides: staff ask, the customer answers, both see it live."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from tests.browser.test_flows import file_fault_report

pytestmark = pytest.mark.browser


def test_staff_ask_and_the_customer_answers_in_the_chat(sign_in: Any, pages: Any, world: Any) -> None:
    customer = sign_in(world.admin.email, who="customer")
    request_id, number = file_fault_report(customer, pages, who="customer", location="Porten mot gården")

    staff = sign_in(world.colleague.email, who="staff", fresh=True)
    staff.goto(f"/staff/requests/{request_id}")
    staff.get_by_role("button", name="Ta ärendet").click()
    staff.get_by_label("Nytt meddelande").fill("Intern: kolla loggen först")
    staff.get_by_role("button", name="Spara som intern anteckning").click()
    staff.get_by_label("Nytt meddelande").fill("Gäller det den vänstra eller högra dörren?")
    staff.get_by_role("button", name="Fråga kunden (Väntar på kund)").click()
    expect(staff.locator("dl.facts .status")).to_have_text("Väntar på kund")
    expect(staff.locator("ol.messages")).to_contain_text("Intern anteckning")
    pages.check(staff, "staff asked the customer")

    # The customer's open page shows the question without a reload (polling), never the internal note.
    expect(customer.locator("ol.messages")).to_contain_text("vänstra eller högra", timeout=15_000)
    expect(customer.locator("ol.messages")).not_to_contain_text("kolla loggen")
    customer.reload()
    expect(customer.locator("dl.facts .status")).to_have_text("Väntar på kund")
    pages.check(customer, "customer sees the question")
    customer.get_by_label("Nytt meddelande").fill("Den vänstra, mot cykelrummet.")
    customer.get_by_role("button", name="Skicka", exact=True).click()
    expect(customer.locator("dl.facts .status")).to_have_text("Under hantering")
    pages.check(customer, "customer answered")

    expect(staff.locator("ol.messages")).to_contain_text("mot cykelrummet", timeout=15_000)
    staff.reload()
    expect(staff.locator("dl.facts .status")).to_have_text("Under hantering")
    expect(staff.locator("ol.messages")).to_contain_text(re.compile(r"\(Brf Testet\)"))
    pages.check(staff, "staff sees the answer")
    assert number
