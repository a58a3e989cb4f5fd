"""Notification mails through a real SMTP server (aiosmtpd): recipients, preferences, headers, languages."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlmodel import select

from core.mail import reply_tokens
from core.models import Request, SentMail, User
from core.platform import outbox
from core.platform.mailer import SmtpMailer
from core.portal import Portal
from core.requests.followers import start_following
from core.requests.lifecycle import Action
from core.workflow import actions as workflow
from core.workflow import topics
from tests.support import World


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], EmailMessage]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = message_from_bytes(envelope.content, policy=policy.default)
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), parsed))  # type: ignore[arg-type]
        return "250 OK"

    def to(self, address: str) -> list[EmailMessage]:
        return [m for _f, rcpt, m in self.messages if address in rcpt]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def smtp() -> Iterator[tuple[Inbox, int]]:
    inbox = Inbox()
    port = free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    yield inbox, port
    controller.stop()


@pytest.fixture
def mail_portal(portal: Portal, smtp: tuple[Inbox, int]) -> Portal:
    portal.mailer = SmtpMailer("127.0.0.1", smtp[1], "none", "", "", "bounces@bbgruppen.example")
    return portal


def body(message: EmailMessage, subtype: str) -> str:
    part = message.get_body(preferencelist=(subtype,))
    assert part is not None, f"no {subtype} part"
    return str(part.get_content())


def test_filing_mails_the_requester_a_receipt_with_what_was_filed(
    mail_portal: Portal, world: World, smtp: tuple[Inbox, int]
) -> None:
    inbox, _port = smtp
    filed = workflow.file(mail_portal, world.member, "fault_report", world.fault(), None)
    outbox.drain(mail_portal)
    [(mail_from, recipients, message)] = inbox.messages
    assert mail_from == "bounces@bbgruppen.example" and recipients == [world.member.email]
    assert message["Subject"] == f"[BB-{filed.id}] Väntar på hantering – Felanmälan"
    text, html = body(message, "plain"), body(message, "html")
    for part in (text, html):
        assert "Huvudentrén, Storgatan 1" in part and "070-123 45 67" in part and "Passersystem A" in part
        assert f"http://testserver.local/requests/{filed.id}" in part
        assert "http://testserver.local/profile#notifications" in part
    assert text.startswith("Hej Maja,") and "Hej Maja," in html  # greeted by first name, not "Hej Maja Medlem,"


def test_headers_tie_replies_to_the_request_and_quiet_auto_replies(
    mail_portal: Portal, world: World, smtp: tuple[Inbox, int]
) -> None:
    inbox, _port = smtp
    filed = workflow.file(mail_portal, world.member, "fault_report", world.fault(), None)
    outbox.drain(mail_portal)
    workflow.perform(mail_portal, world.staff, filed.id or 0, Action.TAKE)
    outbox.drain(mail_portal)
    receipt, change = inbox.to(world.member.email)
    for message in (receipt, change):
        assert message["Auto-Submitted"] == "auto-generated"
        assert message["X-Auto-Response-Suppress"] == "All"
        assert message["In-Reply-To"] == message["References"]
        assert reply_tokens.requests_in_references(mail_portal.secret_key, message["References"]) == [filed.id]
        local, _, domain = message["Reply-To"].addresses[0].addr_spec.partition("@")
        assert domain == "svar.bbgruppen.example"
        assert reply_tokens.parse(mail_portal.secret_key, local.removeprefix("svar+")) == (filed.id, world.member.id)
    assert receipt["Message-ID"] != change["Message-ID"]
    assert change["Subject"] == f"[BB-{filed.id}] Under hantering – Felanmälan"


def test_followers_and_preferences(mail_portal: Portal, world: World, smtp: tuple[Inbox, int]) -> None:
    inbox, _port = smtp
    filed = workflow.file(mail_portal, world.member, "fault_report", world.fault(), None)
    with mail_portal.database.writing() as s:
        request = s.get(Request, filed.id)
        admin = s.get(User, world.admin.id)
        assert request is not None and admin is not None
        start_following(s, request, admin)
        admin.notify = "answer_needed"
        s.add(admin)
    outbox.drain(mail_portal)
    inbox.messages.clear()
    workflow.perform(mail_portal, world.staff, filed.id or 0, Action.TAKE)
    outbox.drain(mail_portal)
    assert [r for _f, rcpt, _m in inbox.messages for r in rcpt] == [world.member.email]  # admin: only answers
    inbox.messages.clear()
    workflow.perform(mail_portal, world.staff, filed.id or 0, Action.ASK_CUSTOMER)
    outbox.drain(mail_portal)
    assert sorted(r for _f, rcpt, _m in inbox.messages for r in rcpt) == sorted([world.member.email, world.admin.email])
    inbox.messages.clear()
    with mail_portal.database.writing() as s:
        request = s.get(Request, filed.id)
        member = s.get(User, world.member.id)
        assert request is not None and member is not None
        start_following(s, request, member, following=False)
    workflow.perform(mail_portal, world.admin, filed.id or 0, Action.CUSTOMER_ANSWERED)
    outbox.drain(mail_portal)
    assert inbox.messages == []  # the admin wants answers-needed only, the member stopped following


def test_english_recipients_get_english_mail(mail_portal: Portal, world: World, smtp: tuple[Inbox, int]) -> None:
    inbox, _port = smtp
    with mail_portal.database.writing() as s:
        member = s.get(User, world.member.id)
        assert member is not None
        member.language = "en"
        s.add(member)
    filed = workflow.file(mail_portal, world.member, "fault_report", world.fault(), None)
    outbox.drain(mail_portal)
    [message] = inbox.to(world.member.email)
    assert message["Subject"] == f"[BB-{filed.id}] Waiting to be handled – Fault report"
    assert "Hello Maja," in body(message, "plain") and 'lang="en"' in body(message, "html")


def test_nobody_is_mailed_who_asked_for_none(mail_portal: Portal, world: World, smtp: tuple[Inbox, int]) -> None:
    inbox, _port = smtp
    with mail_portal.database.writing() as s:
        member = s.get(User, world.member.id)
        assert member is not None
        member.notify = "none"
        s.add(member)
    filed = workflow.file(mail_portal, world.member, "fault_report", world.fault(), None)
    workflow.perform(mail_portal, world.staff, filed.id or 0, Action.TAKE)
    outbox.drain(mail_portal)
    assert inbox.messages == []


def test_a_refusing_smtp_server_leads_to_one_delivery_once_it_accepts(
    mail_portal: Portal, world: World, smtp: tuple[Inbox, int]
) -> None:
    from datetime import timedelta

    inbox, _port = smtp
    refusals = [3]

    original = inbox.handle_DATA

    async def sometimes(server: Any, session: Any, envelope: Any) -> str:
        if refusals[0] > 0:
            refusals[0] -= 1
            return "451 Try again later"
        return await original(server, session, envelope)

    inbox.handle_DATA = sometimes  # type: ignore[method-assign]
    workflow.file(mail_portal, world.member, "fault_report", world.fault(), None)
    for _ in range(6):
        outbox.drain(mail_portal)
        mail_portal.clock.advance(timedelta(minutes=5))  # type: ignore[attr-defined]
    assert len(inbox.messages) == 1


def test_a_repeated_send_job_carries_the_same_message_id(
    mail_portal: Portal, world: World, smtp: tuple[Inbox, int]
) -> None:
    from sqlmodel import select

    from core.platform.outbox import OutboxMessage

    inbox, _port = smtp
    workflow.file(mail_portal, world.member, "fault_report", world.fault(), None)
    outbox.drain(mail_portal)
    with mail_portal.database.writing() as s:  # as if the worker died after the server accepted the mail
        job = s.exec(select(OutboxMessage).where(OutboxMessage.topic == "send_mail")).one()
        job.status = "pending"
        job.relayed_at = None
        s.add(job)
    outbox.drain(mail_portal)
    first, second = inbox.to(world.member.email)
    assert first["Message-ID"] == second["Message-ID"]


def test_follow_unfollow_preferences_and_the_development_mail_page(portal: Portal, world: World, web: Any) -> None:
    filed = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    outbox.drain(portal)  # embedded default: written as .eml into the data folder
    web.login(world.admin.email)
    page = web.post(f"/requests/{filed.id}/follow", {"following": "yes"}, follow_redirects=True).text
    assert "Ni följer ärendet" in page
    web.post("/profile/notifications", {"notify": "answer_needed"})
    with portal.database.reading() as s:
        admin = s.get(User, world.admin.id)
        assert admin is not None and admin.notify == "answer_needed"
    assert web.post("/profile/notifications", {"notify": "sometimes"}).status_code == 422
    assert web.get("/dev/mail").status_code == 404  # customers never see other people's mail
    web.login(world.staff_admin.email)
    listing = web.get("/dev/mail").text
    assert f"[BB-{filed.id}] Väntar på hantering – Felanmälan" in listing
    import re

    name = re.search(r'href="/dev/mail/([^"]+)"', listing).group(1)  # type: ignore[union-attr]
    shown = web.get(f"/dev/mail/{name}").text
    assert "srcdoc=" in shown and "Huvudentrén" in shown and "Auto-Submitted" in shown
    assert web.get("/dev/mail/..%2Fsecret_key").status_code == 404


def _rows(portal: Portal, topic: str) -> list[Any]:
    from sqlmodel import select

    from core.platform.outbox import OutboxMessage

    with portal.database.reading() as session:
        return list(session.exec(select(OutboxMessage).where(OutboxMessage.topic == topic)))


def test_a_fan_out_queues_its_mails_in_the_turn_that_marks_it_done_and_never_twice(
    portal: Portal, world: World
) -> None:
    from core.conversation import notifications

    workflow.file(portal, world.member, "fault_report", world.fault(), None)
    [event] = _rows(portal, "request_filed")
    stale = notifications.fan_out(portal, event)  # a second worker that got the same row meanwhile
    assert outbox.process(portal, event.id) == "request_filed"
    [mail] = _rows(portal, "send_mail")
    assert mail.payload["user_id"] == world.member.id and mail.dedupe_key == f"mail:{event.id}:{world.member.id}"
    assert [r.status for r in _rows(portal, "request_filed")] == ["done"]
    assert stale is not None
    with portal.database.writing() as session:
        stale(session)  # its mail is already queued: nothing is added
    assert len(_rows(portal, "send_mail")) == 1
    assert outbox.process(portal, event.id) is None  # done is done


def test_a_fan_out_whose_write_fails_leaves_neither_mails_nor_a_done_mark(
    portal: Portal, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    import core.platform.outbox

    workflow.file(portal, world.member, "fault_report", world.fault(), None)
    [event] = _rows(portal, "request_filed")

    def failing_insert(*_args: Any, **_kwargs: Any) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(core.platform.outbox, "insert_rows", failing_insert)
    assert outbox.process(portal, event.id) is None
    [event] = _rows(portal, "request_filed")
    assert (event.status, event.attempts) == ("pending", 1) and "disk full" in event.last_error
    assert _rows(portal, "send_mail") == []
    monkeypatch.undo()
    assert outbox.process(portal, event.id) == "request_filed"
    assert len(_rows(portal, "send_mail")) == 1


def test_a_core_handlers_write_is_skipped_when_another_worker_finished_the_row_meanwhile(
    portal: Portal, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from sqlalchemy import update

    from core.platform.outbox import OutboxMessage

    workflow.file(portal, world.member, "fault_report", world.fault(), None)
    [event] = _rows(portal, "request_filed")
    written: list[str] = []

    def finished_elsewhere(_portal: Portal, message: OutboxMessage) -> Any:
        with portal.database.writing() as session:  # another worker marks the row done while this one works
            session.execute(update(OutboxMessage).where(OutboxMessage.id == message.id).values(status="done"))
        return lambda _session: written.append("finish ran")

    monkeypatch.setitem(topics.HANDLERS, "request_filed", finished_elsewhere)
    outbox.process(portal, event.id)
    assert written == []


def test_what_a_plugin_handler_returns_is_ignored(
    portal: Portal, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    from core.platform.db import insert_rows
    from core.platform.outbox import OutboxMessage
    from tests.outbox_rows import outbox_row

    written: list[str] = []

    def plugin_handler(_portal: Portal, _message: OutboxMessage) -> Any:
        return lambda _session: written.append("called")

    monkeypatch.setattr(portal, "plugin_outbox_handlers", {"plugin.topic": plugin_handler})
    with portal.database.writing() as session:
        row_id = insert_rows(
            session, OutboxMessage, [outbox_row("plugin.topic", {}, portal.clock.now())], returning_id=True
        )
    assert outbox.process(portal, row_id) == "plugin.topic"
    assert written == []
    assert [r.status for r in _rows(portal, "plugin.topic")] == ["done"]


def test_an_automatic_request_gives_one_receipt_and_one_result(
    mail_portal: Portal, world: World, smtp: tuple[Inbox, int]
) -> None:
    """The worker taking the request up (start_fulfilment) is a step, not news: only its outcome is mailed."""
    inbox, _port = smtp
    adapter = mail_portal.access_control(world.system)
    tag = next(t for t in adapter.tags() if t.holder_id and t.state == "active")
    data = {
        "system_id": world.system.id,
        "action": "block",
        "tag": {"kind": "by_number", "number": tag.number},
        "reason": "Tappad",
    }
    filed = workflow.file(mail_portal, world.member, "tag_block", data, None)
    outbox.drain(mail_portal, rounds=50)
    mails = inbox.to(world.member.email)
    assert len(mails) == 2, [str(m["Subject"]) for m in mails]
    receipt, result = mails
    assert "Hej" in body(receipt, "plain") and receipt["Message-ID"] != result["Message-ID"]
    # The receipt is composed when it is sent, with the status of that moment; the result says it is done.
    assert str(result["Subject"]) == f"[BB-{filed.id}] Slutfört – Spärra / Återaktivera förlorad tagg"


def test_nobody_is_mailed_about_a_change_they_made(mail_portal: Portal, world: World, smtp: tuple[Inbox, int]) -> None:
    inbox, _port = smtp
    filed = workflow.file(mail_portal, world.member, "fault_report", world.fault(), None)
    workflow.perform(mail_portal, world.staff, filed.id or 0, Action.TAKE)
    workflow.perform(mail_portal, world.staff, filed.id or 0, Action.ASK_CUSTOMER, reason="Vilken dörr?")
    outbox.drain(mail_portal)
    inbox.messages.clear()
    workflow.perform(mail_portal, world.member, filed.id or 0, Action.CUSTOMER_ANSWERED)  # the member answers
    outbox.drain(mail_portal)
    assert inbox.to(world.member.email) == []  # their own answer moved it back to "Under hantering"
    workflow.perform(mail_portal, world.staff, filed.id or 0, Action.COMPLETE)
    outbox.drain(mail_portal)
    assert [str(m["Subject"]).split(" ")[1] for m in inbox.to(world.member.email)] == ["Slutfört"]


def test_the_mail_that_closes_a_request_says_how_to_follow_it_up(
    mail_portal: Portal, world: World, smtp: tuple[Inbox, int]
) -> None:
    """Completed or cancelled: no "answer by replying" (an answer would only reach the quarantine), but a link
    to a new request that refers to this one. Every mail about the request is kept by its Message-ID."""
    inbox, _port = smtp
    filed = workflow.file(mail_portal, world.member, "fault_report", world.fault(), None)
    workflow.perform(mail_portal, world.staff, filed.id or 0, Action.TAKE)
    outbox.drain(mail_portal)
    workflow.perform(mail_portal, world.staff, filed.id or 0, Action.COMPLETE)
    outbox.drain(mail_portal)
    *open_mails, closing = inbox.to(world.member.email)
    link = f"http://testserver.local/requests/new?about=BB-{filed.id}"
    for part in (body(closing, "plain"), body(closing, "html")):
        assert link in part and "besvara detta mejl" not in part
    for message in open_mails:
        assert "besvara detta mejl" in body(message, "plain") and "about=" not in body(message, "plain")
    with mail_portal.database.reading() as s:
        kept = {m.message_id: m.text for m in s.exec(select(SentMail).where(SentMail.request_id == filed.id))}
    assert kept == {str(m["Message-ID"]): body(m, "plain").replace("\r\n", "\n") for m in inbox.to(world.member.email)}
