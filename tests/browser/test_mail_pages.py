"""Mail in a real browser: staff file a quarantined answer to a closed request as a new request, and see and
clear a bounced address."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from core.accounts import administration
from core.conversation import intake
from core.platform import outbox
from core.requests.lifecycle import Action
from core.workflow import actions as workflow
from tests.browser.test_flows import fill_fault_report
from tests.integration.test_bounces import dsn, sent
from tests.integration.test_intake import reply
from tests.support import PASSWORD

pytestmark = pytest.mark.browser


def test_staff_file_an_answer_to_a_closed_request_as_a_new_request(
    sign_in: Any, pages: Any, world: Any, live_server: Any
) -> None:
    portal = live_server.portal
    closed = workflow.file(portal, world.member, "fault_report", world.fault(location="Cykelrummet"), None)
    workflow.perform(portal, world.staff, closed.id or 0, Action.REJECT, reason="Löst på plats")
    mail = reply(portal, closed, world.member.email, "Nu går inte tvättstugans dörr att öppna heller.\n\nMaja")
    outcome = intake.receive(portal, mail)
    assert outcome.reason == "the request is closed"

    staff = sign_in(world.colleague.email, who="staff")
    staff.goto("/staff/quarantine")
    staff.get_by_role("link", name=re.compile(r"Väntar på kund")).first.click()
    expect(staff.get_by_role("heading", name="Registrera som ett nytt ärende")).to_be_visible()
    pages.check(staff, "quarantined mail")
    staff.get_by_label("Begärantyp").select_option(label="Felanmälan")
    expect(staff.get_by_label(re.compile("Registreras för"))).to_have_value(world.member.email)
    staff.get_by_role("button", name="Fortsätt till formuläret").click()
    expect(staff.get_by_role("heading", level=1)).to_have_text("Nytt ärende från e-post: Felanmälan")
    description = staff.get_by_label(re.compile(r"^Vad händer"))
    expect(description).to_have_value("Nu går inte tvättstugans dörr att öppna heller.\n\nMaja")
    pages.check(staff, "new request form from mail")
    fill_fault_report(
        staff, location="Tvättstugan", description="Tvättstugans dörr går inte att öppna.", contact="Maja Medlem"
    )
    staff.get_by_role("button", name="Registrera ärendet").click()
    expect(staff).to_have_url(re.compile(r"/staff/requests/\d+\?notice=filed_from_mail"))
    expect(staff.locator("ol.messages")).to_contain_text("tvättstugans dörr")
    expect(staff.locator("dl.facts .status")).to_have_text("Väntar på hantering")
    pages.check(staff, "request filed from mail")


def test_staff_see_a_bounced_address_and_try_again(
    sign_in: Any, pages: Any, world: Any, live_server: Any, viewport: dict[str, int]
) -> None:
    portal = live_server.portal
    address = f"bo.studs.{viewport['width']}@testet.example"  # one database for both widths: a user for each run
    with portal.database.writing() as session:
        bo = administration.create_customer_user(
            session,
            world.org,
            {"name": "Bo Studs", "email": address, "password": PASSWORD},
            clock=portal.clock,
        )
    filed = workflow.file(portal, bo, "fault_report", world.fault(location="Garaget"), None)
    outbox.drain(portal)
    [receipt] = [m for m in sent(portal) if m["To"].addresses[0].addr_spec == address]
    assert intake.receive(portal, dsn(receipt, address)).reason.endswith(address)

    staff = sign_in(world.colleague.email, who="staff")
    staff.goto(f"/staff/requests/{filed.id}")
    expect(staff.locator("dl.facts")).to_contain_text("E-post studsar sedan")
    pages.check(staff, "request with a bounced requester")
    staff.get_by_role("button", name="Försök igen att skicka till adressen").click()
    expect(staff.get_by_role("status")).to_have_text("E-post skickas till adressen igen.")
    expect(staff.locator("dl.facts")).not_to_contain_text("studsar")
    pages.check(staff, "bounce cleared")
