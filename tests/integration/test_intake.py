"""Answers by e-mail: replies from common clients become chat messages; everything else never does."""

from __future__ import annotations

from email.message import EmailMessage
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import col, select

from core.conversation import intake
from core.conversation.intake.quotes import strip_quotes
from core.mail import reply_tokens
from core.mail.service import thread_id
from core.models import ChatMessage, InboundMail, Request, SentMail
from core.platform import outbox
from core.platform.clock import FixedClock
from core.platform.outbox import OutboxMessage
from core.portal import Portal
from core.requests.lifecycle import Action
from core.requests.statuses import Status
from core.testing import sent_mails
from core.testing.fixtures import START
from core.workflow import actions as workflow
from tests.support import World


def waiting_request(portal: Portal, world: World) -> Request:
    filed = workflow.file(portal, world.member, "fault_report", world.fault(), None)
    workflow.perform(portal, world.staff, filed.id or 0, Action.TAKE)
    return workflow.perform(portal, world.staff, filed.id or 0, Action.ASK_CUSTOMER)


def reply(
    portal: Portal,
    request: Request,
    sender: str,
    body: str,
    *,
    to: str | None = None,
    html: str | None = None,
    charset: str = "utf-8",
    **headers: str,
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to or reply_tokens.address(portal.secret_key, portal.settings.reply_domain, request.id or 0, 2)
    message["Subject"] = f"SV: [BB-{request.id}] Väntar på kund – Felanmälan"
    message["Message-ID"] = "<abc123@mail.kund.example>"
    for key, value in headers.items():
        message[key.replace("_", "-")] = value
    message.set_content(body, charset=charset)
    if html is not None:
        message.add_alternative(html, subtype="html")
    return bytes(message)


def messages(portal: Portal, request_id: int) -> list[ChatMessage]:
    with portal.database.reading() as s:
        return list(s.exec(select(ChatMessage).where(ChatMessage.request_id == request_id, ChatMessage.via == "email")))


def test_a_reply_to_the_reply_address_becomes_the_customers_answer(portal: Portal, world: World) -> None:
    request = waiting_request(portal, world)
    body = (
        "Det gäller den vänstra dörren.\n\nMvh Maja\n\n"
        "Den 27 nov. 2026 kl. 10:00 skrev BBGRUPPEN Portal <portal@bbgruppen.example>:\n> Vilken dörr?\n"
    )
    outcome = intake.receive(portal, reply(portal, request, "MAJA@testet.example", body))
    assert outcome.status == "attached" and outcome.reason == "reply address"
    [message] = messages(portal, request.id or 0)
    assert message.body == "Det gäller den vänstra dörren.\n\nMvh Maja" and message.author_id == world.member.id
    with portal.database.reading() as s:
        assert s.get(Request, request.id).status == Status.IN_PROGRESS  # type: ignore[union-attr]
        assert s.get(InboundMail, message.inbound_mail_id).raw.startswith(b"From:")  # type: ignore[union-attr]


def test_thread_id_and_subject_tag_tie_replies_too(portal: Portal, world: World) -> None:
    request = waiting_request(portal, world)
    by_thread = reply(
        portal,
        request,
        world.member.email,
        "Svar via tråd",
        to="support@bbgruppen.example",
        In_Reply_To=thread_id(portal, request.id or 0),
    )
    assert intake.receive(portal, by_thread).reason == "thread id"
    by_tag = reply(portal, request, world.admin.email, "Svar via ämnesraden", to="support@bbgruppen.example")
    assert intake.receive(portal, by_tag).reason == "subject tag"


@pytest.mark.parametrize(
    ("quoted", "expected"),
    [
        ("Hej!\n\nOn Fri, Nov 27, 2026 at 10:00 AM BBGRUPPEN <portal@x> wrote:\n> old", "Hej!"),
        (
            "Tack.\n\nFrån: BBGRUPPEN Portal <portal@x>\nSkickat: den 27 november 2026 10:00\n"
            "Till: Maja\nÄmne: x\n\nold",
            "Tack.",
        ),
        ("Ok\n\n-----Original Message-----\nFrom: x\nSent: y\n", "Ok"),
        ("Svar här\n-- \nMaja Medlem\nBrf Testet", "Svar här"),
        ("Rad ett\n> citat\nRad två\n\nSkickat från min iPhone", "Rad ett\nRad två"),
        ("Från och med måndag går det bra.", "Från och med måndag går det bra."),
        # A customer's own "I wrote:" with a date is kept: no quoted lines follow it.
        (
            "Jag skrev till er den 3 maj 2026 kl 10:00:\nDörren är trasig.",
            "Jag skrev till er den 3 maj 2026 kl 10:00:\nDörren är trasig.",
        ),
        # Bottom posting under an attribution the client wrapped over two lines.
        (
            "On Thu, Nov 26, 2026 at 10:02 AM BBGRUPPEN Portal <\nportal@bbgruppen.example> wrote:\n\n"
            "> Which door?\n\nThe left one.",
            "The left one.",
        ),
        ("Hej\n\nMvh Maja\n\nDen 27 nov. 2026 kl. 10:00 skrev X <x@y.se>:\n> Vilken?", "Hej\n\nMvh Maja"),
        ("Ring mig.\n\n___________\nsom vanligt", "Ring mig.\n\n___________\nsom vanligt"),
    ],
)
def test_quoted_conversation_and_signatures_are_cut(quoted: str, expected: str) -> None:
    assert strip_quotes(quoted) == expected


def test_html_only_mail_and_other_charsets(portal: Portal, world: World) -> None:
    request = waiting_request(portal, world)
    message = EmailMessage()
    message["From"] = world.member.email
    message["To"] = reply_tokens.address(portal.secret_key, portal.settings.reply_domain, request.id or 0, 2)
    message["Subject"] = "Re: svar"
    message.set_content(
        "<html><body><p>Dörren <b>vänster</b>.</p><blockquote>gammalt</blockquote></body></html>",
        subtype="html",
        charset="iso-8859-1",
    )
    assert intake.receive(portal, bytes(message)).status == "attached"
    assert messages(portal, request.id or 0)[0].body == "Dörren vänster."


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto_Submitted": "auto-replied"},
        {"X_Autoreply": "yes"},
        {"Precedence": "bulk"},
        {"List_Id": "<list.example>"},
        {"Return_Path": "<>"},
        {"X_BBPortal_Request": "BB-1"},
    ],
)
def test_auto_replies_bounces_lists_and_loops_are_ignored(
    portal: Portal, world: World, headers: dict[str, str]
) -> None:
    request = waiting_request(portal, world)
    outcome = intake.receive(portal, reply(portal, request, world.member.email, "Jag är på semester.", **headers))
    assert outcome.status == "ignored" and messages(portal, request.id or 0) == []


def test_foreign_senders_forged_tokens_and_closed_requests_go_to_quarantine(portal: Portal, world: World) -> None:
    request = waiting_request(portal, world)
    foreign = intake.receive(portal, reply(portal, request, world.outsider.email, "Hej"))
    assert foreign.status == "quarantined" and "organisation" in foreign.reason
    token = reply_tokens.make(portal.secret_key, request.id or 0, 2)
    forged = reply(
        portal,
        request,
        world.member.email,
        "Hej",
        to=f"svar+{(request.id or 0) + 1}{token[len(str(request.id)) :]}@svar.bbgruppen.example",
    )
    assert intake.receive(portal, forged).status == "quarantined"
    workflow.perform(portal, world.staff, request.id or 0, Action.REJECT, reason="Dubblett")
    closed = intake.receive(portal, reply(portal, request, world.member.email, "Hallå?"))
    assert closed.status == "quarantined" and closed.reason == "the request is closed"
    assert messages(portal, request.id or 0) == []


def test_unreadable_mail_is_kept_and_oversized_mail_refused(portal: Portal, world: World) -> None:
    kept = intake.receive(portal, b"\xff\xfe not a mail at all \x00\x01")
    assert kept.status in ("quarantined", "ignored")
    with pytest.raises(intake.TooLarge):
        intake.receive(portal, b"x" * (intake.MAX_BYTES + 1))


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.binary(max_size=3000))
def test_any_bytes_are_taken_in_without_crashing(portal: Portal, raw: bytes) -> None:
    if not raw.strip(b" \t\r\n\x00"):
        with pytest.raises(intake.Empty):
            intake.receive(portal, raw)
        return
    outcome = intake.receive(portal, raw)
    assert outcome.status in ("attached", "quarantined", "ignored")


def test_the_pipe_command_answers_with_mta_exit_codes(portal: Portal, world: World, monkeypatch: Any) -> None:
    from click.testing import CliRunner

    from core import cli

    request = waiting_request(portal, world)
    monkeypatch.setattr(cli, "_portal", lambda: portal)
    result = CliRunner().invoke(
        cli.main, ["mail", "receive"], input=reply(portal, request, world.member.email, "Via pipe")
    )
    assert result.exit_code == 0 and "attached" in result.output
    assert CliRunner().invoke(cli.main, ["mail", "receive"], input=b"x" * (intake.MAX_BYTES + 1)).exit_code == 65

    def broken() -> Portal:
        raise RuntimeError("database away")

    monkeypatch.setattr(cli, "_portal", broken)
    assert CliRunner().invoke(cli.main, ["mail", "receive"], input=b"Subject: x\n\nhej").exit_code == 75


def test_staff_attach_quarantined_mail_by_hand(portal: Portal, world: World, web: Any) -> None:
    request = waiting_request(portal, world)
    outcome = intake.receive(portal, reply(portal, request, "granne@annanstans.example", "Porten står öppen!"))
    assert outcome.status == "quarantined"
    web.login(world.staff.email)
    listing = web.get("/staff/quarantine").text
    assert "granne@annanstans.example" in listing
    shown = web.get(f"/staff/quarantine/{outcome.inbound_mail_id}").text
    assert "Porten står öppen!" in shown
    assert web.post(f"/staff/quarantine/{outcome.inbound_mail_id}/attach", {"request": "BB-999999"}).status_code == 409
    page = web.post(
        f"/staff/quarantine/{outcome.inbound_mail_id}/attach", {"request": f"BB-{request.id}"}, follow_redirects=True
    ).text
    assert "Porten står öppen!" in page and "granne@annanstans.example" in page
    assert "Karantänen är tom." in web.get("/staff/quarantine").text


def test_the_whole_loop_through_a_real_smtp_server(portal: Portal, world: World) -> None:
    """Staff ask → the customer is mailed → their reply to the reply address shows in the chat → in progress
    → the staff member is mailed."""
    import email.policy
    from email import message_from_bytes

    from aiosmtpd.controller import Controller

    from core.conversation import chat
    from core.platform import outbox
    from core.platform.mailer import SmtpMailer
    from tests.integration.test_notifications import Inbox, free_port

    inbox, port = Inbox(), free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        portal.mailer = SmtpMailer("127.0.0.1", port, "none", "", "", "bounces@bbgruppen.example")
        filed = workflow.file(portal, world.member, "fault_report", world.fault(), None)
        workflow.perform(portal, world.staff, filed.id or 0, Action.TAKE)
        outbox.drain(portal)
        inbox.messages.clear()
        chat.post(portal, world.staff, filed.id or 0, "Vilken dörr gäller det?", ask_customer=True)
        outbox.drain(portal)
        [question] = inbox.to(world.member.email)
        assert "Vilken dörr gäller det?" in question.get_body(("plain",)).get_content()
        answer = EmailMessage()
        answer["From"] = world.member.email
        answer["To"] = question["Reply-To"]
        answer["Subject"] = "SV: " + question["Subject"]
        answer["In-Reply-To"] = question["Message-ID"]
        answer["References"] = question["References"]
        answer.set_content(
            "Den vänstra.\n\n"
            + "\n".join("> " + line for line in question.get_body(("plain",)).get_content().splitlines())
        )
        inbox.messages.clear()
        raw = bytes(message_from_bytes(bytes(answer), policy=email.policy.SMTP))
        assert intake.receive(portal, raw).status == "attached"
        with portal.database.reading() as s:
            stored = s.get(Request, filed.id)
            assert stored is not None and stored.status == Status.IN_PROGRESS
        assert [m.body for m in messages(portal, filed.id or 0)] == ["Den vänstra."]
        outbox.drain(portal)
        to_staff = inbox.to(world.staff.email)
        assert len(to_staff) == 1 and "Den vänstra." in to_staff[0].get_body(("plain",)).get_content()
    finally:
        controller.stop()


def closed_replies(portal: Portal) -> list[OutboxMessage]:
    with portal.database.reading() as s:
        rows = s.exec(select(OutboxMessage).where(OutboxMessage.topic == "send_mail"))
        return [row for row in rows if row.payload.get("kind") == intake.CLOSED_REPLY]


def test_an_answer_to_a_closed_request_gets_one_automatic_reply_a_day_with_the_follow_up_link(
    portal: Portal, world: World
) -> None:
    """Staff still find the mail in the quarantine; the sender learns how to follow up, once per request and day
    (Stockholm's calendar), and never an automatic mail or a stranger."""
    request = waiting_request(portal, world)
    workflow.perform(portal, world.staff, request.id or 0, Action.REJECT, reason="Dubblett")
    outbox.drain(portal)
    first = intake.receive(portal, reply(portal, request, world.member.email, "Hallå? Dörren går fortfarande inte."))
    assert (first.status, first.reason) == ("quarantined", "the request is closed")
    [queued] = closed_replies(portal)
    assert queued.payload["user_id"] == world.member.id and queued.payload["request_id"] == request.id
    outbox.drain(portal)
    [sent] = [m for m in sent_mails(portal) if m["Subject"].startswith(f"[BB-{request.id}] Ert mejl lades inte")]
    assert sent["To"].addresses[0].addr_spec == world.member.email and sent["Reply-To"] is None
    assert f"/requests/new?about=BB-{request.id}" in sent.get_body(("plain",)).get_content()  # type: ignore[union-attr]

    again = intake.receive(portal, reply(portal, request, world.member.email, "Hallo igen, samma dag."))
    automatic = intake.receive(
        portal, reply(portal, request, world.member.email, "Jag är borta.", Auto_Submitted="auto-replied")
    )
    stranger = intake.receive(portal, reply(portal, request, world.outsider.email, "Hej från en annan."))
    assert [again.reason, automatic.status, stranger.reason] == [
        "the request is closed",
        "ignored",
        "the sender is not a user of the request's organisation",
    ]
    colleague = intake.receive(portal, reply(portal, request, world.admin.email, "Anna här, samma fråga."))
    assert colleague.reason == "the request is closed"
    assert [m.payload["user_id"] for m in closed_replies(portal)] == [world.member.id, world.admin.id]

    clock = portal.clock
    assert isinstance(clock, FixedClock) and clock.now() == START  # 10:00 in Stockholm
    clock.set(START.replace(hour=22, minute=30))  # 23:30 in Stockholm: the same day
    late = intake.receive(portal, reply(portal, request, world.member.email, "Sent på kvällen."))
    assert late.reason == "the request is closed" and len(closed_replies(portal)) == 2
    clock.set(START.replace(hour=23, minute=30))  # 00:30 in Stockholm: a new day (still the 27th in UTC)
    next_day = intake.receive(portal, reply(portal, request, world.member.email, "Nästa dag: hallå?"))
    assert next_day.reason == "the request is closed"
    assert [m.payload["user_id"] for m in closed_replies(portal)][2:] == [world.member.id]
    with portal.database.reading() as s:
        quarantined = s.exec(select(InboundMail).where(InboundMail.reason == "the request is closed")).all()
    assert len(quarantined) == 5 and messages(portal, request.id or 0) == []


def test_a_reply_that_keeps_only_our_message_id_is_tied_by_it(portal: Portal, world: World) -> None:
    """No reply address, no thread id, no subject tag: the Message-ID of the question it answers ties it, when
    its signature checks; an altered one ties nothing."""
    request = waiting_request(portal, world)
    outbox.drain(portal)
    with portal.database.reading() as s:
        asked = s.exec(select(SentMail).where(SentMail.request_id == request.id).order_by(col(SentMail.id))).all()
    assert asked[0].kind == "request_filed" and asked[-1].kind == "status_changed"  # the receipt … the question
    assert {m.user_id for m in asked} == {world.member.id}
    question = asked[-1].message_id
    body = "Den vänstra dörren.\n\n-----Original Message-----\n" + asked[-1].text
    tied = reply(portal, request, world.member.email, body, to="svar@svar.bbgruppen.example", In_Reply_To=question)
    tied = tied.replace(f"[BB-{request.id}] ".encode(), b"")
    outcome = intake.receive(portal, tied)
    assert (outcome.status, outcome.reason, outcome.request_id) == ("attached", "message id", request.id)
    assert [m.body for m in messages(portal, request.id or 0)] == ["Den vänstra dörren."]
    forged = question[:-20] + ("0" if question[-20] != "0" else "1") + question[-19:]
    assert forged != question
    untied = reply(portal, request, world.member.email, "Igen", to="svar@svar.bbgruppen.example", In_Reply_To=forged)
    untied = untied.replace(f"[BB-{request.id}] ".encode(), b"")
    assert intake.receive(portal, untied).reason == "nothing ties it to a request"
