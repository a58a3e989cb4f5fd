"""User stories in a real browser (Debian's chromium): customers file and follow requests, staff work them.

Every page a story looks at is screenshotted into test-artifacts/screenshots/ and checked with axe-core
(``pages.check``); a serious or critical WCAG 2.1 AA violation fails the story.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import Page, expect

from tests.support import PASSWORD

pytestmark = pytest.mark.browser

PENDING, IN_PROGRESS, COMPLETED, CANCELLED = "Väntar på hantering", "Under hantering", "Slutfört", "Makulerad"
FORM = "/requests/new/fault_report"
REQUEST_URL = re.compile(r"/requests/(\d+)(\?.*)?$")


# --- steps a person takes ---------------------------------------------------------------------------------


def fill_fault_report(
    page: Page,
    *,
    system: str = "Passersystem A",
    location: str = "Huvudentrén, Storgatan 1",
    description: str = "Låset i entrén öppnar inte alltid.",
    phone: str = "070-123 45 67",
    contact: str = "Anna Kund",
) -> None:
    page.get_by_label(re.compile(r"^System")).select_option(label=system)
    page.get_by_label(re.compile(r"^Var\b")).fill(location)
    page.get_by_label(re.compile(r"^Vad händer")).fill(description)
    page.get_by_label(re.compile(r"^Kontaktperson\b(?!ens)")).fill(contact)
    page.get_by_label(re.compile(r"^Kontaktpersonens telefon")).fill(phone)


def send(page: Page) -> None:
    page.get_by_role("button", name="Skicka ärendet").click()
    page.wait_for_load_state()


def file_fault_report(page: Page, pages: Any, *, who: str, **values: str) -> tuple[int, str]:
    """Open the form, fill it in and send it; returns the request's id and number from the request page."""
    page.goto(FORM)
    pages.check(page, f"{who} fault report form")
    fill_fault_report(page, **values)
    send(page)
    expect(page).to_have_url(REQUEST_URL)
    pages.check(page, f"{who} request filed")
    match = REQUEST_URL.search(page.url)
    assert match
    number = page.get_by_role("heading", level=1).inner_text().split(":")[0].strip()
    return int(match.group(1)), number


def status_of(page: Page) -> str:
    return page.locator("dl.facts .status").inner_text().strip()


def focused_id(page: Page) -> str:
    return str(page.evaluate("() => document.activeElement ? document.activeElement.id : ''"))


# --- the stories -----------------------------------------------------------------------------------------


def test_customer_files_a_fault_report_and_finds_it_in_our_requests(sign_in: Any, pages: Any, world: Any) -> None:
    page = sign_in(world.member.email, who="customer", fresh=True)  # through the login page

    # The start page offers one tile per request type.
    expect(page.get_by_role("heading", level=1)).to_have_text("Vad behöver ni hjälp med?")
    page.get_by_role("link", name=re.compile("Felanmälan")).click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Felanmälan")
    pages.check(page, "fault report form")

    fill_fault_report(
        page,
        location="Port 2, Storgatan 3",
        description="Kortläsaren blinkar rött.",
        phone="070-123 45 67",
        contact="Maja Medlem",
    )
    pages.screenshot(page, "form filled in")
    send(page)

    expect(page).to_have_url(REQUEST_URL)
    pages.check(page, "request page")
    expect(page.get_by_role("status")).to_be_visible()  # "the request was filed" notice
    assert status_of(page) == PENDING
    data = page.locator("dl.data")
    expect(data).to_contain_text("070-123 45 67")
    expect(data).to_contain_text("Port 2, Storgatan 3")
    expect(data).to_contain_text("Kortläsaren blinkar rött.")
    number = page.get_by_role("heading", level=1).inner_text().split(":")[0].strip()

    page.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Våra ärenden").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Våra ärenden")
    pages.check(page, "our requests")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=number, exact=True))
    expect(row).to_have_count(1)
    expect(row).to_contain_text(PENDING)
    expect(row).to_contain_text("Port 2, Storgatan 3")


def test_staff_takes_and_completes_a_request_and_the_customer_sees_it_done(
    sign_in: Any,
    pages: Any,
    world: Any,
) -> None:
    customer = sign_in(world.member.email, who="customer")
    request_id, number = file_fault_report(customer, pages, who="customer", location="Garaget, Storgatan 1")

    staff = sign_in(world.staff.email, who="staff", fresh=True)  # a second browser context
    expect(staff).to_have_url(re.compile(r"/staff/queue"))
    expect(staff.get_by_role("heading", level=1)).to_have_text("Kö")
    pages.check(staff, "staff queue")

    staff.get_by_role("link", name=number, exact=True).click()
    expect(staff).to_have_url(re.compile(rf"/staff/requests/{request_id}\b"))
    pages.check(staff, "staff request page")
    assert status_of(staff) == PENDING

    staff.get_by_role("button", name="Ta ärendet").click()
    expect(staff.locator("dl.facts .status")).to_have_text(IN_PROGRESS)
    expect(staff.locator("dl.facts")).to_contain_text(world.staff.name)
    pages.check(staff, "staff took the request")

    staff.get_by_role("button", name="Slutför", exact=True).click()
    expect(staff.locator("dl.facts .status")).to_have_text(COMPLETED)
    pages.check(staff, "staff completed the request")

    customer.reload()
    expect(customer.locator("dl.facts .status")).to_have_text(COMPLETED)
    pages.check(customer, "customer sees it completed")


def test_empty_form_shows_an_error_summary_and_keeps_what_was_typed(sign_in: Any, pages: Any, world: Any) -> None:
    page = sign_in(world.member.email, who="customer")
    page.goto(FORM)
    pages.check(page, "empty form")

    send(page)
    summary = page.locator("#error-summary")
    expect(summary).to_be_visible()
    expect(summary.get_by_role("heading")).to_have_text("Det finns ett problem")
    expect(summary).to_be_focused()
    pages.check(page, "errors after an empty submission")

    links = summary.get_by_role("link")
    targets = [str(href)[1:] for href in links.evaluate_all("links => links.map(a => a.getAttribute('href'))")]
    assert {"f-system-id", "f-location", "f-description", "f-contact-name", "f-contact-phone"} <= set(targets)

    # Each error sits in its field's box, right above the field, and the field points at it.
    for target in targets:
        field = page.locator(f"#{target}")
        error = page.locator(f"#{target}-error")
        expect(error).to_be_visible()
        expect(page.locator(".field").filter(has=field).locator(f"#{target}-error")).to_have_count(1)
        expect(field).to_have_attribute("aria-invalid", "true")
        assert f"{target}-error" in (field.get_attribute("aria-describedby") or "").split()
        error_box, field_box = error.bounding_box(), field.bounding_box()
        assert error_box and field_box
        assert 0 <= field_box["y"] - (error_box["y"] + error_box["height"]) < 40, f"{target}: error not next to field"

    # Following a link in the summary puts the cursor in that field.
    summary.get_by_role("link", name=re.compile(r"^Vad händer")).click()
    assert focused_id(page) == "f-description"
    page.keyboard.type("Dörren till soprummet går inte att låsa.")
    summary.get_by_role("link", name=re.compile(r"^System")).click()
    assert focused_id(page) == "f-system-id"

    # Only part of the form is filled in: what was typed survives the next error.
    page.get_by_label(re.compile(r"^Var\b")).fill("Soprummet")
    page.get_by_label(re.compile(r"^Kontaktpersonens telefon")).fill("070-123 45 67")
    send(page)
    expect(page.locator("#error-summary")).to_be_focused()
    pages.check(page, "errors after a partial submission")
    expect(page.get_by_label(re.compile(r"^Var\b"))).to_have_value("Soprummet")
    expect(page.get_by_label(re.compile(r"^Vad händer"))).to_have_value("Dörren till soprummet går inte att låsa.")
    expect(page.get_by_label(re.compile(r"^Kontaktpersonens telefon"))).to_have_value("070-123 45 67")
    remaining = page.locator("#error-summary").get_by_role("link")
    hrefs = remaining.evaluate_all("links => links.map(a => a.getAttribute('href'))")
    assert "#f-location" not in hrefs and "#f-description" not in hrefs
    assert "#f-system-id" in hrefs and "#f-contact-name" in hrefs


def test_login_page_works_with_the_keyboard_alone(new_context: Any, pages: Any, world: Any) -> None:
    page = new_context().new_page()
    page.goto("/login")
    pages.check(page, "login page")

    # The skip link comes first and takes the keyboard past the header.
    page.keyboard.press("Tab")
    skip = page.get_by_role("link", name="Hoppa till innehållet")
    expect(skip).to_be_focused()
    expect(skip).to_be_in_viewport()
    pages.screenshot(page, "skip link focused")
    page.keyboard.press("Enter")
    expect(page.locator("main")).to_be_focused()
    pages.screenshot(page, "skipped to the content")

    # From the top, Tab reaches the skip link, the e-mail, the password and the log-in button in that order.
    page.goto("/login")
    order = []
    for _ in range(8):
        page.keyboard.press("Tab")
        order.append(page.evaluate("() => { const e = document.activeElement; return e.id || e.textContent.trim(); }"))
    wanted = ["Hoppa till innehållet", "email", "password", "Logga in"]
    positions = [order.index(item) for item in wanted if item in order]
    assert len(positions) == len(wanted) and positions == sorted(positions), order
    assert order.index("password") == order.index("email") + 1
    assert order.index("Logga in") == order.index("password") + 1

    # Type the credentials and press Enter in the password field.
    page.get_by_label("E-postadress").focus()
    page.keyboard.type(world.member.email)
    page.keyboard.press("Tab")
    expect(page.get_by_label("Lösenord")).to_be_focused()
    page.keyboard.type(PASSWORD)
    pages.screenshot(page, "credentials typed")
    page.keyboard.press("Enter")
    expect(page).to_have_url(re.compile(r"/$"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Vad behöver ni hjälp med?")
    pages.check(page, "logged in with the keyboard")


def test_customer_withdraws_a_request(sign_in: Any, pages: Any, world: Any) -> None:
    page = sign_in(world.admin.email, who="customer")
    request_id, number = file_fault_report(page, pages, who="customer", location="Cykelrummet")
    assert status_of(page) == PENDING

    page.get_by_role("link", name="Återkalla ärendet").click()
    expect(page).to_have_url(re.compile(rf"/requests/{request_id}/withdraw$"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Återkalla {number}?")
    pages.check(page, "withdraw confirmation")

    page.get_by_role("button", name="Ja, återkalla ärendet").click()
    expect(page).to_have_url(REQUEST_URL)
    expect(page.locator("dl.facts .status")).to_have_text(CANCELLED)
    expect(page.get_by_role("link", name="Återkalla ärendet")).to_have_count(0)
    pages.check(page, "request withdrawn")

    page.goto("/requests")
    row = page.get_by_role("row").filter(has=page.get_by_role("link", name=number, exact=True))
    expect(row).to_contain_text(CANCELLED)
    pages.check(page, "our requests with the withdrawn one")


def test_admin_pages_pass_axe(sign_in: Any, pages: Any, world: Any) -> None:
    page = sign_in(world.staff_admin.email, who="admin")
    page.goto("/staff/queue")  # a reused log-in opens a blank page; another story may have logged in first
    menu = page.get_by_role("navigation", name="Huvudmeny")

    menu.get_by_role("link", name="Organisationer").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Organisationer")
    pages.check(page, "organisations")

    page.get_by_role("link", name=world.org.name, exact=True).click()
    expect(page).to_have_url(re.compile(rf"/admin/organisations/{world.org.id}$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text(world.org.name)
    pages.check(page, "one organisation")

    for link, heading in [
        ("Kontor", "Lokalkontor"),
        ("Butiker", "Butiker"),
        ("Personal", "Personal"),
        ("Profil", "Profil"),
    ]:
        menu.get_by_role("link", name=link, exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(heading)
        pages.check(page, heading)


def test_fault_report_can_be_filed_without_javascript(sign_in: Any, pages: Any, world: Any) -> None:
    page = sign_in(world.member.email, who="no-js customer", fresh=True, java_script_enabled=False)
    page.goto(FORM)
    assert page.evaluate("() => document.documentElement.classList.contains('js')") is False
    pages.check(page, "form without javascript")

    send(page)  # an empty submission: the server's error page is complete without scripts
    expect(page.locator("#error-summary")).to_be_visible()
    pages.check(page, "errors without javascript")

    fill_fault_report(page, location="Källaren, Storgatan 1", phone="0701234567")
    send(page)
    expect(page).to_have_url(REQUEST_URL)
    assert status_of(page) == PENDING
    expect(page.locator("dl.data")).to_contain_text("070-123 45 67")
    pages.check(page, "request filed without javascript")


def test_the_axe_check_fails_on_a_serious_violation(new_context: Any, pages: Any) -> None:
    """The checks above pass on this portal; this makes sure they can fail (axe really runs, impacts are read)."""
    page = new_context().new_page()
    page.goto("/login")
    page.evaluate("""() => {
        document.getElementById("email").removeAttribute("id");  // the label now points at nothing
        const faint = document.createElement("p");
        faint.textContent = "Svag text";
        faint.style.color = "#bbbbbb";
        document.querySelector("main").append(faint);
    }""")
    with pytest.raises(AssertionError) as failure:
        pages.check(page, "broken on purpose", record=False)
    message = str(failure.value)
    assert "label (critical)" in message
    assert "color-contrast (serious)" in message
    assert "\n    at " in message  # target selectors are listed


def test_the_pages_in_english_fit_the_window(sign_in: Any, pages: Any, world: Any, live_server: Any) -> None:
    """The English pages are checked like the Swedish ones (English words are longer in places: the request
    page once was 399 px wide on a 390 px phone). The language is the user's, so the story switches back."""
    from core.workflow import actions as workflow

    filed = workflow.file(live_server.portal, world.admin, "fault_report", world.fault(), None)
    customer = sign_in(world.admin.email, who="customer")
    customer.goto("/")
    customer.get_by_role("button", name="English").click()
    try:
        expect(customer.get_by_role("heading", level=1)).to_have_text("What do you need help with?")
        pages.check(customer, "start page in English")
        for path, step in [(FORM, "form"), (f"/requests/{filed.id}", "request page"), ("/profile", "profile")]:
            customer.goto(path)
            expect(customer.locator("html")).to_have_attribute("lang", "en")
            pages.check(customer, f"{step} in English")
        customer.goto(FORM)
        customer.get_by_role("button", name="Send request").click()
        expect(customer.locator("#error-summary")).to_be_visible()
        pages.check(customer, "form errors in English")
    finally:
        customer.goto("/")
        customer.get_by_role("button", name="Svenska").click()
    expect(customer.get_by_role("heading", level=1)).to_have_text("Vad behöver ni hjälp med?")
