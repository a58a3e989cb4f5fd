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
    staff.get_by_role("button", name="Fråga kunden").click()
    expect(staff.locator("dl.facts .status")).to_have_text("Väntar på kund")
    expect(staff.locator("ol.messages")).to_contain_text("Intern anteckning")
    pages.check(staff, "staff asked the customer")

    # The customer's open page shows the question without a reload (polling), never the internal note.
    expect(customer.locator("ol.messages")).to_contain_text("vänstra eller högra", timeout=15_000)
    expect(customer.locator("ol.messages")).not_to_contain_text("kolla loggen")
    customer.reload()
    expect(customer.locator("dl.facts .status")).to_have_text("Väntar på kund")
    pages.check(customer, "customer sees the question")

    # What waits for the customer stands out: a notice on the start page naming it, a count in the menu.
    customer.goto("/")
    waiting = customer.locator("section.waiting")
    expect(waiting.get_by_role("heading", level=2)).to_have_text(re.compile(r"^\d+ ärenden? väntar på svar från er$"))
    menu = customer.get_by_role("navigation", name="Huvudmeny")
    expect(menu.get_by_role("link", name=re.compile(r"^Våra ärenden \d+ väntar på svar från er$"))).to_be_visible()
    pages.check(customer, "start page names what waits for the customer")
    waiting.get_by_role("link", name=re.compile(rf"^{number}\b")).click()
    expect(customer).to_have_url(re.compile(rf"/requests/{request_id}$"))
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


def test_files_in_the_chat_and_photos_on_a_fault_report(sign_in: Any, pages: Any, world: Any) -> None:
    from tests import files
    from tests.browser.test_flows import FORM, REQUEST_URL, fill_fault_report, send

    customer = sign_in(world.member.email, who="customer")
    customer.goto(FORM)
    fill_fault_report(customer, location="Cykelrummet")
    customer.get_by_label("Foton").set_input_files(
        [{"name": "dörren.png", "mimeType": "image/png", "buffer": files.png(40, 30, (30, 110, 200))}]
    )
    send(customer)
    expect(customer).to_have_url(REQUEST_URL)
    match = REQUEST_URL.search(customer.url)
    assert match
    request_id = int(match.group(1))
    assert_drawn(customer.locator("dl.data img.thumbnail"))
    pages.check(customer, "customer sees the photo on the fault report")

    # A file the portal does not take is named next to the field, and the text stays.
    customer.get_by_label("Nytt meddelande").fill("Här är manualen.")
    customer.get_by_label("Bifoga filer").set_input_files(
        [{"name": "manual.pdf", "mimeType": "application/pdf", "buffer": files.exe()}]
    )
    customer.get_by_role("button", name="Skicka", exact=True).click()
    expect(customer.locator("#f-files-error")).to_contain_text("manual.pdf: filtypen är inte tillåten")
    expect(customer.get_by_label("Nytt meddelande")).to_have_value("Här är manualen.")
    pages.check(customer, "customer's refused file")

    staff = sign_in(world.staff.email, who="staff")
    staff.goto(f"/staff/requests/{request_id}")
    expect(staff.locator("dl.data img.thumbnail")).to_have_count(1)
    staff.get_by_label("Nytt meddelande").fill("Här är offerten för det nya låset.")
    staff.get_by_label("Bifoga filer").set_input_files(
        [{"name": "Offert lås.pdf", "mimeType": "application/pdf", "buffer": files.pdf("Offert")}]
    )
    staff.get_by_role("button", name="Skicka till kunden").click()
    expect(staff.locator("ol.messages")).to_contain_text("Offert lås.pdf")

    # The customer's open page shows the message and its file without a reload; the file downloads.
    expect(customer.locator("ol.messages")).to_contain_text("Offert lås.pdf", timeout=15_000)
    with customer.expect_download() as download:
        customer.locator("ol.messages").get_by_role("link", name=re.compile("Offert lås.pdf")).click()
    assert download.value.suggested_filename == "Offert lås.pdf"

    customer.get_by_label("Nytt meddelande").fill("Så här ser displayen ut nu.")
    customer.get_by_label("Bifoga filer").set_input_files(
        [{"name": "display.png", "mimeType": "image/png", "buffer": files.png(64, 48, (20, 140, 60))}]
    )
    customer.get_by_role("button", name="Skicka", exact=True).click()
    assert_drawn(customer.locator("ol.messages img.thumbnail"))
    pages.check(customer, "customer sent a picture in the chat")

    expect(staff.locator("ol.messages img.thumbnail")).to_have_count(1, timeout=15_000)
    assert_drawn(staff.locator("ol.messages img.thumbnail"))
    pages.check(staff, "staff sees the picture and the files")

    # Opened on its own (the thumbnail's link), the picture shows despite the file responses' strict CSP.
    picture = staff.locator("ol.messages a.thumb-link").get_attribute("href")
    assert picture
    staff.goto(picture)
    assert_drawn(staff.locator("img"))


def assert_drawn(thumbnail: Any) -> None:
    """The thumbnail really came through the checked download route and the browser drew it."""
    expect(thumbnail).to_have_count(1)
    thumbnail.scroll_into_view_if_needed()
    expect(thumbnail).to_have_js_property("complete", True)
    assert thumbnail.evaluate("img => img.naturalWidth") > 0
