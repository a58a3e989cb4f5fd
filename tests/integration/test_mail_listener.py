"""The SMTP/LMTP listener and the pipe command: each answer tells the MTA the truth about what it may do next.

Taken → 250 / exit 0; never acceptable → 552/554 / exit 65; cannot store now → 451 / exit 75 and nothing is
lost, nothing doubled when the MTA tries again. A malformed or oversized mail never stops the next one.
"""

from __future__ import annotations

import smtplib
from collections.abc import Iterator
from email.message import EmailMessage
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy.exc import OperationalError
from sqlmodel import col, func, select

from core import cli
from core.conversation import intake
from core.conversation.intake.listener import IntakeController
from core.mail import reply_tokens
from core.models import ChatMessage, InboundMail, Request
from core.platform.db import create_database
from core.portal import Portal
from core.requests.statuses import Status
from tests.integration.test_intake import messages, reply, waiting_request
from tests.integration.test_notifications import free_port
from tests.support import World

CLOSED_DATABASE = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere"
"""Nothing listens on port 1: every connection is refused, as when the database server is down."""


def deep_multipart(depth: int, sender: str, to: str) -> bytes:
    head = f"From: {sender}\r\nTo: {to}\r\nSubject: Djup\r\nMIME-Version: 1.0\r\n".encode()
    opening = b"".join(b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) for i in range(depth))
    closing = b"".join(b"\r\n--b%d--\r\n" % i for i in reversed(range(depth)))
    return head + opening + b"Content-Type: text/plain\r\n\r\nInnerst inne.\r\n" + closing


def count(portal: Portal, model: Any, *where: Any) -> int:
    with portal.database.reading() as session:
        return int(session.exec(select(func.count()).select_from(model).where(*where)).one())


@pytest.fixture
def listener(portal: Portal) -> Iterator[int]:
    port = free_port()  # aiosmtpd's Controller(port=0) fails its own start-up check
    controller = IntakeController(portal, "127.0.0.1", port)
    controller.start()
    yield port
    controller.stop()


@pytest.fixture
def lmtp_listener(portal: Portal) -> Iterator[int]:
    port = free_port()
    controller = IntakeController(portal, "127.0.0.1", port, lmtp=True)
    controller.start()
    yield port
    controller.stop()


def address(portal: Portal, request: Request, user_id: int = 2) -> str:
    return reply_tokens.address(portal.secret_key, portal.settings.reply_domain, request.id or 0, user_id)


def test_a_reply_over_smtp_becomes_the_customers_answer(portal: Portal, world: World, listener: int) -> None:
    request = waiting_request(portal, world)
    with smtplib.SMTP("127.0.0.1", listener) as smtp:
        refused = smtp.sendmail(
            world.member.email, [address(portal, request)], reply(portal, request, world.member.email, "Över SMTP")
        )
    assert refused == {}
    assert [m.body for m in messages(portal, request.id or 0)] == ["Över SMTP"]
    with portal.database.reading() as session:
        stored = session.exec(select(InboundMail)).one()
        assert stored.status == "attached"
        assert stored.raw.startswith(b"Return-Path: <maja@testet.example>\r\nDelivered-To: svar+")
        assert session.get(Request, request.id).status == Status.IN_PROGRESS  # type: ignore[union-attr]


def test_only_our_reply_domain_and_bounce_address_are_accepted(portal: Portal, world: World, listener: int) -> None:
    with smtplib.SMTP("127.0.0.1", listener) as smtp:
        smtp.ehlo()
        smtp.mail("spammer@example.net")
        code, text = smtp.rcpt("victim@example.org")
        assert code == 550 and b"relay" in text
        assert smtp.rcpt("svar@" + portal.settings.reply_domain.upper())[0] == 250
        assert smtp.rcpt(portal.settings.mail_envelope_from)[0] == 250
    assert count(portal, InboundMail) == 0


def test_the_size_limit_is_enforced_by_the_smtp_server(portal: Portal, world: World, listener: int) -> None:
    """30 MB: refused at MAIL FROM when the client announces the size, after DATA when it does not."""
    request = waiting_request(portal, world)
    huge = reply(portal, request, world.member.email, "Stor") + (b"x" * 76 + b"\r\n") * (30 * 1024 * 1024 // 78)
    with smtplib.SMTP("127.0.0.1", listener) as smtp:
        smtp.ehlo()
        assert smtp.has_extn("size") and int(smtp.esmtp_features["size"]) == portal.settings.inbound_mail_max_bytes
        with pytest.raises(smtplib.SMTPSenderRefused) as announced:
            smtp.sendmail(world.member.email, [address(portal, request)], huge)
        assert announced.value.smtp_code == 552
    with smtplib.SMTP("127.0.0.1", listener) as smtp:
        smtp.ehlo()
        smtp.mail(world.member.email)  # no SIZE parameter: the server counts the bytes itself
        smtp.rcpt(address(portal, request))
        code, _text = smtp.data(huge)
        assert code == 552
        assert smtp.sendmail(world.member.email, [address(portal, request)], reply(portal, request, "x", "y")) == {}
    assert count(portal, ChatMessage, col(ChatMessage.via) == "email") == 0
    assert count(portal, InboundMail) == 1  # the small one after it (foreign sender: quarantined)


def test_database_unavailable_answers_451_and_nothing_is_lost(
    portal: Portal, world: World, listener: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = waiting_request(portal, world)
    mail = reply(portal, request, world.member.email, "Svar när databasen var borta")
    working = portal.database
    monkeypatch.setattr(portal, "database", create_database(CLOSED_DATABASE))
    with smtplib.SMTP("127.0.0.1", listener) as smtp, pytest.raises(smtplib.SMTPDataError) as refused:
        smtp.sendmail(world.member.email, [address(portal, request)], mail)
    assert refused.value.smtp_code == 451
    monkeypatch.setattr(portal, "database", working)
    assert count(portal, InboundMail) == 0
    for _attempt in range(2):  # the MTA tries again; a second, doubled delivery changes nothing
        with smtplib.SMTP("127.0.0.1", listener) as smtp:
            assert smtp.sendmail(world.member.email, [address(portal, request)], mail) == {}
    assert [m.body for m in messages(portal, request.id or 0)] == ["Svar när databasen var borta"]
    assert count(portal, InboundMail) == 1


def test_a_malformed_mail_between_two_good_ones_loses_nothing(portal: Portal, world: World, listener: int) -> None:
    request = waiting_request(portal, world)
    to = address(portal, request)
    with smtplib.SMTP("127.0.0.1", listener) as smtp:
        assert smtp.sendmail(world.member.email, [to], reply(portal, request, world.member.email, "Före")) == {}
        assert smtp.sendmail(world.member.email, [to], deep_multipart(5000, world.member.email, to)) == {}
        assert smtp.sendmail(world.member.email, [to], b"Subject: " + b"x" * 100_000 + b"\r\n\r\nLang rad") == {}
        assert smtp.sendmail(world.member.email, [to], reply(portal, request, world.member.email, "Efter")) == {}
    assert [m.body for m in messages(portal, request.id or 0)] == ["Före", "Efter"]
    with portal.database.reading() as session:
        quarantined = list(session.exec(select(InboundMail).where(InboundMail.status == "quarantined")))
    # The envelope (Delivered-To) ties the header-only mail to the request; it has no sender of the organisation.
    assert sorted(m.reason for m in quarantined) == [
        "the sender is not a user of the request's organisation",
        "unreadable: RecursionError",
    ]


def test_lmtp_answers_each_recipient(
    portal: Portal, world: World, lmtp_listener: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two recipients of one transaction: the first copy is taken, the database fails for the second → 250, 451.
    The MTA then retries the second only."""
    from core.conversation.intake import listener as listener_module

    first, second = waiting_request(portal, world), waiting_request(portal, world)
    mail = reply(portal, first, world.member.email, "Till två ärenden", to=address(portal, first))
    real_receive = listener_module.receive
    calls: list[int] = []

    def database_goes_away(portal_: Portal, raw: bytes) -> intake.Outcome:
        calls.append(1)
        if len(calls) == 2:
            raise OperationalError("SELECT 1", {}, Exception("server closed the connection unexpectedly"))
        return real_receive(portal_, raw)

    monkeypatch.setattr(listener_module, "receive", database_goes_away)
    lmtp = smtplib.LMTP("127.0.0.1", lmtp_listener)
    try:
        assert lmtp.ehlo()[0] == 250  # smtplib's LMTP sends LHLO
        lmtp.mail(world.member.email)
        assert lmtp.rcpt(address(portal, first))[0] == 250
        assert lmtp.rcpt(address(portal, second))[0] == 250
        assert lmtp.rcpt("someone@example.org")[0] == 550
        code, text = lmtp.data(mail)
        second_code, second_text = lmtp.getreply()
        assert (code, second_code) == (250, 451), (text, second_text)
        monkeypatch.setattr(listener_module, "receive", real_receive)
        lmtp.rset()
        lmtp.mail(world.member.email)
        lmtp.rcpt(address(portal, second))
        assert lmtp.data(mail)[0] == 250
    finally:
        lmtp.quit()
    assert [m.body for m in messages(portal, first.id or 0)] == ["Till två ärenden"]
    assert [m.body for m in messages(portal, second.id or 0)] == ["Till två ärenden"]


def test_the_pipe_command_loses_nothing_and_refuses_only_what_cannot_be_taken(
    portal: Portal, world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    request = waiting_request(portal, world)
    monkeypatch.setattr(cli, "_portal", lambda: portal)
    runner = CliRunner()

    def pipe(raw: bytes) -> int:
        return runner.invoke(cli.main, ["mail", "receive"], input=raw).exit_code

    to = address(portal, request)
    assert pipe(reply(portal, request, world.member.email, "Före")) == 0
    assert pipe(deep_multipart(5000, world.member.email, to)) == 0
    assert pipe(b"Subject: " + b"x" * 100_000 + b"\n\nLang rad") == 0
    assert pipe(b"\x00\xff" * 10 + b"\nFrom: \x00\n\n\x00") == 0
    assert pipe(reply(portal, request, world.member.email, "Stor") + b"x" * (30 * 1024 * 1024)) == 65
    assert pipe(b"") == 65
    later = reply(portal, request, world.member.email, "Efter")
    working = portal.database
    monkeypatch.setattr(portal, "database", create_database(CLOSED_DATABASE))
    assert pipe(later) == 75
    monkeypatch.setattr(portal, "database", working)
    assert pipe(later) == 0 and pipe(later) == 0  # retried, and delivered twice: taken once
    assert [m.body for m in messages(portal, request.id or 0)] == ["Före", "Efter"]
    assert count(portal, InboundMail) == 5


def test_the_listen_command_serves_until_stopped(portal: Portal, world: World, tmp_path: Any) -> None:
    """``bbportal mail listen --lmtp`` as the operator runs it: a separate process on the same database."""
    import os
    import signal
    import subprocess
    import sys
    import time

    request = waiting_request(portal, world)
    port = free_port()
    environment = {
        **os.environ,
        "BBPORTAL_DATABASE_URL": portal.database.url,
        "BBPORTAL_SECRET_KEY": portal.settings.secret_key,
        "BBPORTAL_DATA_DIR": str(tmp_path / "listener"),
    }
    command = [sys.executable, "-c", "from core.cli import run; run()", "mail", "listen", "--lmtp", "--port", str(port)]
    process = subprocess.Popen(command, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                lmtp = smtplib.LMTP("127.0.0.1", port)
                break
            except OSError:
                assert time.monotonic() < deadline and process.poll() is None, "the listener did not start"
                time.sleep(0.1)
        with lmtp:
            lmtp.ehlo()
            lmtp.mail(world.member.email)
            lmtp.rcpt(address(portal, request))
            code, _text = lmtp.data(reply(portal, request, world.member.email, "Via lyssnaren"))
        assert code == 250
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=20)[0].decode()
    assert process.returncode == 0, output
    assert "over LMTP on 127.0.0.1" in output
    assert [m.body for m in messages(portal, request.id or 0)] == ["Via lyssnaren"]


def test_the_listen_command_says_when_it_cannot_listen(portal: Portal, monkeypatch: pytest.MonkeyPatch) -> None:
    import socket

    monkeypatch.setattr(cli, "_portal", lambda: portal)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = CliRunner().invoke(cli.main, ["mail", "listen", "--port", str(port)])
    assert result.exit_code == 1 and f"cannot listen on 127.0.0.1:{port}" in result.output


def test_a_bounce_to_the_bounce_address_over_smtp_is_recorded_and_ignored(
    portal: Portal, world: World, listener: int
) -> None:
    message = EmailMessage()
    message["From"] = "MAILER-DAEMON@mx.kund.example"
    message["To"] = portal.settings.mail_envelope_from
    message["Subject"] = "Undelivered Mail Returned to Sender"
    message.set_content("Your message could not be delivered.")
    with smtplib.SMTP("127.0.0.1", listener) as smtp:
        assert smtp.sendmail("", [portal.settings.mail_envelope_from], bytes(message)) == {}
    with portal.database.reading() as session:
        stored = session.exec(select(InboundMail)).one()
    assert stored.status == "ignored" and stored.raw.startswith(b"Return-Path: <>\r\n")


@pytest.mark.parametrize("content", [b"", b"\r\n", b"\r\n\r\n\x00\r\n"])
def test_an_empty_message_is_refused_for_good_over_lmtp_and_smtp(
    portal: Portal, listener: int, lmtp_listener: int, content: bytes
) -> None:
    """As the pipe command exits 65: the envelope lines the listener writes in front do not make it a mail."""
    lmtp = smtplib.LMTP("127.0.0.1", lmtp_listener)
    try:
        lmtp.ehlo()
        lmtp.mail("someone@example.org")
        assert lmtp.rcpt("svar@" + portal.settings.reply_domain)[0] == 250
        assert lmtp.data(content)[0] == 554
    finally:
        lmtp.quit()
    with smtplib.SMTP("127.0.0.1", listener) as smtp:
        smtp.ehlo()
        smtp.mail("someone@example.org")
        smtp.rcpt("svar@" + portal.settings.reply_domain)
        assert smtp.data(content)[0] == 554
    assert count(portal, InboundMail) == 0
