"""Billing in a real browser: an admin keeps a price list and an agreement, staff charge a fault the customer
caused, the customer sees the charge and the admin finds it on the invoice basis.

The live portal is shared by every browser story, so this one prices only ``FAULT_CUSTOMER`` (which no request
type charges by itself: staff add it) and uses the second organisation: other stories never meet a cost step.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from core.billing.periods import local_day, month_key
from tests.browser.test_flows import REQUEST_URL, fill_fault_report, send, status_of

pytestmark = pytest.mark.browser


@pytest.mark.once  # a price list from today for FAULT_CUSTOMER can be made once per database
def test_staff_charge_a_fault_the_customer_caused_and_it_reaches_the_invoice_basis(
    sign_in: Any, pages: Any, world: Any, live_server: Any
) -> None:
    now = live_server.portal.clock.now()
    today = local_day(now).isoformat()

    admin = sign_in(world.staff_admin.email, who="admin", fresh=True)
    admin.get_by_role("navigation", name="Huvudmeny").get_by_role("link", name="Prislistor").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text("Prislistor")
    pages.check(admin, "price lists")
    admin.get_by_role("link", name="Ny prislista").click()
    admin.get_by_label("Namn", exact=False).first.fill("Felavhjälpning 2026")
    admin.get_by_label(re.compile(r"^Giltig från")).fill(today)
    admin.get_by_label("Kod, rad 1").fill("FAULT_CUSTOMER")
    admin.get_by_label("Namn på svenska, rad 1").fill("Felanmälan orsakad av kund (per påbörjad timme)")
    admin.get_by_label("Namn på engelska, rad 1").fill("Fault caused by the customer (per started hour)")
    admin.get_by_label("Enhet, rad 1").select_option(label="tim")
    admin.get_by_label("Pris exkl. moms (kr), rad 1").fill("-950")
    admin.get_by_role("button", name="Spara prislistan").click()
    expect(admin.locator("#f-items-0-unit-price-error")).to_contain_text("inte negativt")
    pages.check(admin, "price list refused")
    admin.get_by_label("Pris exkl. moms (kr), rad 1").fill("950,00")
    admin.get_by_role("button", name="Spara prislistan").click()
    expect(admin.get_by_role("heading", level=1)).to_have_text("Felavhjälpning 2026")
    expect(admin.get_by_role("table")).to_contain_text("950,00")
    pages.check(admin, "price list saved")

    admin.goto(f"/admin/organisations/{world.other_org.id}/agreements")
    admin.get_by_label(re.compile(r"^Giltig från")).fill(today)
    admin.get_by_label("Rabatt i procent").fill("10")
    admin.get_by_role("button", name="Spara avtalet").click()
    expect(admin.get_by_role("status")).to_contain_text("Avtalet är sparat.")
    pages.check(admin, "agreement saved")

    customer = sign_in(world.outsider.email, who="customer of the second organisation")
    customer.goto("/requests/new/fault_report")
    # Before sending, the form says what a visit costs if the fault is theirs: 950 kr less their 10 %.
    expect(customer.locator(".cost-notice")).to_contain_text("Felanmälan orsakad av kund (per påbörjad timme), 855,00")
    pages.check(customer, "fault report says what a visit costs")
    for width, language in ((390, "sv"), (1280, "en"), (390, "en")):
        view = sign_in(world.outsider.email, who="customer", viewport={"width": width, "height": 800})
        if language == "en":
            view.goto("/")
            view.get_by_role("button", name="English").click()
            view.wait_for_load_state()
        try:
            view.goto("/requests/new/fault_report")
            words = "Fault caused by the customer (per started hour), 855.00" if language == "en" else "855,00"
            expect(view.locator(".cost-notice")).to_contain_text(words)
            pages.check(view, f"fault report's visit price at {width} in {language}")
        finally:
            if language == "en":
                view.goto("/")
                view.get_by_role("button", name="Svenska").click()
                view.wait_for_load_state()
    fill_fault_report(customer, system="Passersystem B", location="Cykelrummet", contact="Olle Utanför")
    send(customer)  # nothing to pay for: no cost step
    expect(customer).to_have_url(REQUEST_URL)
    match = REQUEST_URL.search(customer.url)
    assert match
    request_id = int(match.group(1))

    staff = sign_in(world.staff.email, who="staff")
    staff.goto(f"/staff/requests/{request_id}")
    staff.get_by_role("button", name="Ta ärendet").click()
    staff.get_by_role("button", name="Slutför", exact=True).click()
    assert status_of(staff) == "Slutfört"
    staff.get_by_text("Lägg till debitering…").click()
    option = staff.locator("#add-price-item option", has_text="Felanmälan orsakad av kund")
    staff.get_by_label("Artikel ur prislistan").select_option(option.get_attribute("value"))
    staff.get_by_label("Antal").fill("2")
    staff.get_by_role("button", name="Lägg till debiteringen").click()
    expect(staff.locator("#add-reason-error")).to_contain_text("Ange en anledning")
    pages.check(staff, "charge refused without a reason")
    staff.get_by_label("Anledning (visas för kunden)").last.fill("Dörren hade ställts upp med en kil")
    staff.get_by_role("button", name="Lägg till debiteringen").click()
    expect(staff.get_by_role("status")).to_contain_text("Debiteringen är tillagd.")
    charges = staff.locator("table.charge-lines")
    expect(charges).to_contain_text("1\u00a0710,00\u00a0kr")  # 2 × 950 kr less 10 %
    pages.check(staff, "charge added")

    customer.reload()
    expect(customer.locator("table.charge-lines")).to_contain_text("Dörren hade ställts upp med en kil")
    expect(customer.locator("table.charge-lines")).to_contain_text("2\u00a0137,50\u00a0kr")  # incl. 25 % VAT
    pages.check(customer, "customer sees the charge")

    admin.goto(f"/admin/invoicing?month={month_key(local_day(now).replace(day=1))}")
    admin.get_by_role("link", name=world.other_org.name, exact=True).click()
    expect(admin.get_by_role("table")).to_contain_text("Felanmälan orsakad av kund")
    pages.check(admin, "invoice basis")
