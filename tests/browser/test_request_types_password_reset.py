"""Lösenordsåterställning in a real browser: filed, carried out by staff, the link used by its recipient."""

from __future__ import annotations

import re
from email import policy
from email.parser import BytesParser
from typing import Any

import pytest
from playwright.sync_api import expect

from core.access_control.simulator.tables import AcsServiceAccount
from core.accounts import auth
from core.platform import outbox

pytestmark = pytest.mark.browser

REQUEST_URL = re.compile(r"/requests/(\d+)(\?.*)?$")


def test_a_password_reset_from_form_to_the_password_shown_once(
    sign_in: Any, new_context: Any, pages: Any, world: Any, live_server: Any
) -> None:
    portal = live_server.portal
    account = next(
        a for a in portal.access_control(world.system).service_accounts() if a.service == "Administrera Själv"
    )
    customer = sign_in(world.member.email, who="customer")
    customer.goto("/requests/new/password_reset")
    expect(customer.get_by_role("heading", level=1)).to_have_text("Lösenordsåterställning")
    customer.locator("#f-system-id").select_option(label=world.system.name)
    customer.get_by_label(re.compile(r"^Tjänst")).select_option(label="Administrera Själv")
    customer.get_by_label(re.compile(r"^Konto \(användarnamn\)")).fill(account.username)
    pages.check(customer, "password reset form filled in")
    customer.get_by_role("button", name="Skicka ärendet").click()
    expect(customer).to_have_url(REQUEST_URL)
    match = REQUEST_URL.search(customer.url)
    assert match
    request_id = int(match.group(1))
    pages.check(customer, "password reset filed")

    staff = sign_in(world.staff.email, who="staff")
    staff.goto(f"/staff/requests/{request_id}")
    staff.get_by_role("button", name="Ta ärendet").click()
    staff.get_by_role("button", name="Utför", exact=True).click()
    outbox.drain(portal)  # the live portal runs no worker: the test is the worker
    staff.reload()
    expect(staff.locator("dl.facts .status")).to_have_text("Slutfört")
    pages.check(staff, "password reset carried out")
    customer.reload()
    expect(customer.get_by_text(re.compile(r"har skickats till .…@"))).to_be_visible()
    pages.check(customer, "customer sees where the link went")

    parser = BytesParser(policy=policy.default)
    written = sorted(portal.mailer.folder.glob("*.eml"), key=lambda path: path.stat().st_mtime_ns)
    sent = [parser.parsebytes(p.read_bytes()) for p in written]
    mails = [m for m in sent if m["To"] == account.email and "Administrera Själv" in str(m["Subject"])]
    mail = mails[-1]  # the story runs at each width against one database: this run's mail is the newest
    body = mail.get_body(preferencelist=("plain",)).get_content()
    link = re.search(r"(http://127\.0\.0\.1:\d+/password-reset/\S+)", body)
    assert link

    recipient = new_context().new_page()  # whoever has the account's mailbox: not logged in
    recipient.goto(link.group(1))
    expect(recipient.get_by_role("heading", level=1)).to_have_text("Nytt lösenord för Administrera Själv")
    pages.check(recipient, "link page asks to confirm")
    recipient.get_by_role("button", name="Sätt nytt lösenord").click()
    expect(recipient.get_by_role("heading", level=1)).to_have_text("Ert nya lösenord")
    password = recipient.locator("#new-password").inner_text()
    pages.check(recipient, "new password shown once")
    with portal.database.reading() as session:
        row = session.get(AcsServiceAccount, (world.system.id, account.service, account.username))
        assert row is not None and auth.verify_password(row.password_digest, password)

    recipient.goto(link.group(1))
    expect(recipient.get_by_role("heading", level=1)).to_have_text("Länken fungerar inte")
    pages.check(recipient, "used link refused")
