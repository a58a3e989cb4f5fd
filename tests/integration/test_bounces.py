"""Hard bounces: a permanent failure of one of our mails marks the address; nothing is sent there until it changes."""

from __future__ import annotations

from email import message_from_bytes, policy
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import select

from core.conversation import intake
from core.models import InboundMail, User
from core.platform import outbox
from core.platform.mailer import FolderMailer
from core.platform.outbox import OutboxMessage, OutboxStatus
from core.portal import Portal
from core.requests.lifecycle import Action
from core.workflow import actions as workflow
from tests.support import World


def sent(portal: Portal) -> list[EmailMessage]:
    """The mails the portal wrote into its mail folder (embedded mode), oldest first."""
    assert isinstance(portal.mailer, FolderMailer)
    files = sorted(Path(portal.mailer.folder).glob("*.eml"), key=lambda p: p.stat().st_mtime_ns)
    return [message_from_bytes(f.read_bytes(), policy=policy.default) for f in files]  # type: ignore[misc]


def dsn(
    returned: EmailMessage | None,
    recipient: str,
    status: str = "5.1.1",
    action: str = "failed",
    *,
    headers_only: bool = False,
    original_recipient: str | None = None,
) -> bytes:
    """A delivery report as Postfix writes it, returning our mail (whole, or only its headers)."""
    fields = [f"Final-Recipient: rfc822; {recipient}"]
    if original_recipient:
        fields.append(f"Original-Recipient: rfc822;{original_recipient}")
    fields += [f"Action: {action}", f"Status: {status}"]
    fields.append(f"Diagnostic-Code: smtp; 550 {status} <{recipient}>: User unknown")
    parts = [
        "Content-Type: text/plain; charset=utf-8\r\n\r\nThis is the mail system at host mx.kund.example.\r\n",
        "Content-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; mx.kund.example\r\n"
        "Arrival-Date: Fri, 27 Nov 2026 10:00:00 +0100\r\n\r\n" + "\r\n".join(fields) + "\r\n",
    ]
    if returned is not None:
        original = returned.as_bytes(policy=policy.SMTP).decode("utf-8", errors="replace")
        if headers_only:
            parts.append("Content-Type: text/rfc822-headers\r\n\r\n" + original.split("\r\n\r\n", 1)[0] + "\r\n")
        else:
            parts.append("Content-Type: message/rfc822\r\n\r\n" + original)
    head = (
        "From: MAILER-DAEMON@mx.kund.example (Mail Delivery System)\r\nTo: bounces@bbgruppen.example\r\n"
        "Subject: Undelivered Mail Returned to Sender\r\nAuto-Submitted: auto-replied\r\n"
        "Message-ID: <20261127090000.ABC123@mx.kund.example>\r\nMIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="REPORT"\r\n\r\n'
    )
    return (head + "".join(f"--REPORT\r\n{part}\r\n" for part in parts) + "--REPORT--\r\n").encode()


def stored(portal: Portal, user: User) -> User:
    with portal.database.reading() as session:
        found = session.get(User, user.id)
    assert found is not None
    return found


@pytest.fixture
def receipt(portal: Portal, world: World) -> EmailMessage:
    """The receipt mailed to Maja when she filed a request."""
    workflow.file(portal, world.member, "fault_report", world.fault(), None)
    outbox.drain(portal)
    [mail] = sent(portal)
    return mail


@pytest.mark.parametrize("headers_only", [False, True])
def test_a_hard_bounce_of_our_mail_marks_the_address(
    portal: Portal, world: World, receipt: EmailMessage, headers_only: bool
) -> None:
    outcome = intake.receive(portal, dsn(receipt, "Maja@Testet.Example", headers_only=headers_only))
    assert outcome.status == "ignored"
    assert outcome.reason == "auto-submitted; undeliverable: maja@testet.example"
    member = stored(portal, world.member)
    assert member.mail_undeliverable_at == portal.clock.now()
    assert member.mail_undeliverable_reason.startswith("5.1.1 smtp; 550 5.1.1 <Maja@Testet.Example>: User unknown")


def test_original_recipient_identifies_the_user_when_the_final_one_was_rewritten(
    portal: Portal, world: World, receipt: EmailMessage
) -> None:
    intake.receive(portal, dsn(receipt, "maja.medlem@mailhost.testet.example", original_recipient=world.member.email))
    assert stored(portal, world.member).mail_undeliverable_at is not None


@pytest.mark.parametrize(
    ("status", "action"), [("4.2.2", "delayed"), ("4.4.1", "failed"), ("2.0.0", "delivered"), ("5.1.1", "delayed")]
)
def test_soft_bounces_and_other_reports_change_nothing(
    portal: Portal, world: World, receipt: EmailMessage, status: str, action: str
) -> None:
    outcome = intake.receive(portal, dsn(receipt, world.member.email, status, action))
    assert outcome.status == "ignored" and "undeliverable" not in outcome.reason
    assert stored(portal, world.member).mail_undeliverable_at is None


def test_only_a_report_about_our_own_mail_to_that_very_user_counts(
    portal: Portal, world: World, receipt: EmailMessage
) -> None:
    foreign = EmailMessage()
    foreign["From"] = "someone@kund.example"
    foreign["To"] = world.member.email
    foreign["Message-ID"] = "<not-ours@kund.example>"
    foreign.set_content("Hej")
    forged = EmailMessage()
    for key, value in receipt.items():
        if not key.lower().startswith(("content-", "mime-")):
            forged[key] = value.replace(receipt["Message-ID"][-20:-14], "000000") if key == "Message-ID" else value
    forged.set_content("Hej")
    assert forged["Message-ID"] != receipt["Message-ID"]
    for report in (
        dsn(foreign, world.member.email),  # a mail we never sent
        dsn(forged, world.member.email),  # our format, altered signature
        dsn(receipt, world.admin.email),  # our mail, but it was for Maja, not Anna
        dsn(None, world.member.email),  # nothing returned: nothing proves it was ours
    ):
        assert intake.receive(portal, report).status == "ignored"
    assert stored(portal, world.member).mail_undeliverable_at is None
    assert stored(portal, world.admin).mail_undeliverable_at is None


def test_no_mail_goes_to_an_undeliverable_address_until_it_changes(
    portal: Portal, world: World, receipt: EmailMessage, caplog: Any
) -> None:
    intake.receive(portal, dsn(receipt, world.member.email))
    request_id = int(receipt["X-BBPortal-Request"].removeprefix("BB-"))
    workflow.perform(portal, world.staff, request_id, Action.TAKE)
    with caplog.at_level("INFO", logger="core.mail.service"):
        outbox.drain(portal)
    assert len(sent(portal)) == 1  # only the receipt from before the bounce
    with portal.database.reading() as session:
        rows = list(session.exec(select(OutboxMessage).where(OutboxMessage.topic == "send_mail")))
    assert [r.status for r in rows] == [OutboxStatus.DONE.value] * 2 and all(r.last_error == "" for r in rows)
    assert "maja@testet.example is undeliverable since" in caplog.text
    # A bounce never causes a mail back, and no mail to an undeliverable address either.
    with portal.database.writing() as session:
        user = session.get(User, world.member.id)
        assert user is not None
        user.email = "maja.ny@testet.example"
        session.add(user)
    assert stored(portal, world.member).mail_undeliverable_at is None
    workflow.perform(portal, world.staff, request_id, Action.HAND_BACK)
    outbox.drain(portal)
    assert len(sent(portal)) == 2 and sent(portal)[-1]["To"].addresses[0].addr_spec == "maja.ny@testet.example"


def test_a_password_reset_is_not_mailed_to_an_undeliverable_address(
    portal: Portal, world: World, receipt: EmailMessage
) -> None:
    from core.accounts import passwords

    intake.receive(portal, dsn(receipt, world.member.email))
    passwords.request_reset(portal, world.member.email)
    outbox.drain(portal)
    assert len(sent(portal)) == 1


def test_a_redelivered_report_is_recorded_once(portal: Portal, world: World, receipt: EmailMessage) -> None:
    report = dsn(receipt, world.member.email)
    first, second = intake.receive(portal, report), intake.receive(portal, report)
    assert first.inbound_mail_id == second.inbound_mail_id
    with portal.database.reading() as session:
        assert len(list(session.exec(select(InboundMail)))) == 1


def test_staff_see_the_mark_and_can_send_to_the_address_again(
    portal: Portal, world: World, receipt: EmailMessage, web: Any
) -> None:
    intake.receive(portal, dsn(receipt, world.member.email))
    request_id = int(receipt["X-BBPortal-Request"].removeprefix("BB-"))
    web.login(world.staff.email)
    page = web.get(f"/staff/requests/{request_id}").text
    assert "E-post studsar sedan 2026-11-27 10:00: 5.1.1 smtp; 550 5.1.1" in page
    assert "Försök igen att skicka till adressen" in page
    assert "Följare" in page and "maja@testet.example" in page
    answer = web.post(
        f"/staff/users/{world.member.id}/retry-mail", {"back": f"/staff/requests/{request_id}"}, follow_redirects=False
    )
    assert answer.status_code in (302, 303) and answer.headers["location"].startswith(f"/staff/requests/{request_id}?")
    assert stored(portal, world.member).mail_undeliverable_at is None
    assert "E-post skickas till adressen igen." in web.get(answer.headers["location"]).text
    outside = web.post(
        f"/staff/users/{world.member.id}/retry-mail", {"back": "https://evil.example/"}, follow_redirects=False
    )
    assert outside.headers["location"].startswith("/staff/queue?")


def test_customers_never_see_the_mark(portal: Portal, world: World, receipt: EmailMessage, web: Any) -> None:
    intake.receive(portal, dsn(receipt, world.member.email))
    web.login(world.member.email)
    page = web.get(f"/requests/{receipt['X-BBPortal-Request'].removeprefix('BB-')}")
    assert page.status_code == 200 and "studsar" not in page.text and "retry-mail" not in page.text
    assert web.post(f"/staff/users/{world.member.id}/retry-mail", {"back": "/staff/queue"}).status_code in (403, 404)
    assert stored(portal, world.member).mail_undeliverable_at is not None


def test_admins_see_the_mark_on_the_organisation_page_and_a_new_address_clears_it(
    portal: Portal, world: World, receipt: EmailMessage, web: Any
) -> None:
    intake.receive(portal, dsn(receipt, world.member.email))
    web.login(world.staff_admin.email)
    page = web.get(f"/admin/organisations/{world.org.id}").text
    assert "E-post studsar sedan" in page and "User unknown" in page
    form = web.get(f"/admin/users/{world.member.id}/email").text
    assert 'value="maja@testet.example"' in form
    clash = web.post(f"/admin/users/{world.member.id}/email", {"email": world.admin.email})
    assert clash.status_code == 422 and "finns redan" in clash.text
    invalid = web.post(f"/admin/users/{world.member.id}/email", {"email": "inte-en-adress"})
    assert invalid.status_code == 422
    saved = web.post(
        f"/admin/users/{world.member.id}/email", {"email": "Maja.Ny@Testet.example"}, follow_redirects=True
    )
    assert "maja.ny@testet.example" in saved.text and "E-post studsar" not in saved.text
    member = stored(portal, world.member)
    assert member.email == "maja.ny@testet.example" and member.mail_undeliverable_reason == ""


def test_a_bounced_staff_address_shows_on_the_staff_page(portal: Portal, world: World, web: Any) -> None:
    with portal.database.writing() as session:
        colleague = session.get(User, world.colleague.id)
        assert colleague is not None
        colleague.mail_undeliverable_at, colleague.mail_undeliverable_reason = portal.clock.now(), "5.2.1 disabled"
        session.add(colleague)
    web.login(world.staff_admin.email)
    page = web.get("/admin/staff").text
    assert "E-post studsar sedan 2026-11-27 10:00: 5.2.1 disabled" in page and "Ändra e-post…" in page
    back = web.post(f"/staff/users/{world.colleague.id}/retry-mail", {"back": "/admin/staff"}, follow_redirects=False)
    assert back.headers["location"] == "/admin/staff?notice=mail_retry"
    assert stored(portal, world.colleague).mail_undeliverable_at is None
