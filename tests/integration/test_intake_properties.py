"""Generated mail: whatever the charset, encoding, quoting client and signature, the intake keeps the customer's
own words, never raises, and never answers an automatic mail with a mail."""

from __future__ import annotations

import base64
import itertools
import quopri
from email.message import EmailMessage
from html import escape

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlmodel import col, func, select

from core.conversation import intake
from core.conversation.intake.quotes import MOBILE_SIGNATURES
from core.mail import reply_tokens
from core.models import ChatMessage, InboundMail, Request
from core.platform.outbox import OutboxMessage
from core.portal import Portal
from core.requests.statuses import Status
from tests.integration.test_intake import waiting_request
from tests.support import World

_counter = itertools.count()
LETTERS = "abcdefghijklmnopqrstuvwxyzåäöéABCDEFGHIJKLMNOPQRSTUVWXYZÅÄÖ"
words = st.text(alphabet=LETTERS + "0123456789", min_size=1, max_size=12)
sentences = st.builds(
    lambda ws, end: " ".join(ws) + end, st.lists(words, min_size=1, max_size=10), st.sampled_from(".?!")
)
lines = st.lists(sentences, min_size=1, max_size=3).map(" ".join).filter(lambda line: not MOBILE_SIGNATURES.match(line))
paragraphs = st.lists(lines, min_size=1, max_size=3).map("\n".join)
customer_texts = st.lists(paragraphs, min_size=1, max_size=3).map("\n\n".join)
"""What a customer writes: Latin-1-safe words in sentences, lines and paragraphs (never a colon at the end,
never a "> " at the start: nothing a client's quoting would produce)."""


@pytest.fixture
def waiting(portal: Portal, world: World) -> Request:
    """One request waiting for Maja, shared by every example of a test (a fresh database per test)."""
    return waiting_request(portal, world)


ORIGINAL = "Hej Maja Medlem,\n\nVilken dörr gäller det?\n\nSvara på det här mejlet eller i portalen."


def _quoted(text: str) -> str:
    return "\n".join(("> " + line).rstrip() for line in text.split("\n"))


QUOTE_STYLES = {
    "gmail_sv": "Den tors 26 nov. 2026 kl 10:02 skrev BBGRUPPEN Portal <portal@bbgruppen.example>:\n\n"
    + _quoted(ORIGINAL),
    "gmail_en_wrapped": "On Thu, Nov 26, 2026 at 10:02 AM BBGRUPPEN Portal <\nportal@bbgruppen.example> wrote:\n\n"
    + _quoted(ORIGINAL),
    "apple_sv": "> 26 nov. 2026 kl. 10:02 skrev BBGRUPPEN Portal <portal@bbgruppen.example>:\n>\n" + _quoted(ORIGINAL),
    "apple_en": "On 26 Nov 2026, at 10:02, BBGRUPPEN Portal <portal@bbgruppen.example> wrote:\n\n" + _quoted(ORIGINAL),
    "thunderbird_sv": "Den 2026-11-26 kl. 10:02, skrev BBGRUPPEN Portal:\n" + _quoted(ORIGINAL),
    "android_sv": "Den tors 26 nov. 2026 10:02BBGRUPPEN Portal <portal@bbgruppen.example> skrev:\n\n"
    + _quoted(ORIGINAL),
    "outlook_sv": "Från: BBGRUPPEN Portal <portal@bbgruppen.example>\nSkickat: den 26 november 2026 10:02\n"
    "Till: Maja Medlem <maja@testet.example>\nÄmne: [BB-1] Väntar på kund\n\n" + ORIGINAL,
    "outlook_web_en": "________________________________\nFrom: BBGRUPPEN Portal <portal@bbgruppen.example>\n"
    "Sent: Thursday, November 26, 2026 10:02\nTo: Maja Medlem\nSubject: [BB-1] Fault report\n\n" + ORIGINAL,
    "original_message": "-----Original Message-----\nFrom: BBGRUPPEN Portal\nSent: den 26 november 2026\n\n" + ORIGINAL,
    "none": "",
}
SIGNATURES = [
    "",
    "-- \nMaja Medlem\nBrf Testet",
    "Skickat från min iPhone",
    "Sent from my iPhone",
    "Hämta Outlook för iOS",
]


def _html(text: str, quote: str) -> str:
    body = "".join(f"<div>{escape(line) or '<br>'}</div>" for line in text.split("\n"))
    original = "<br>".join(escape(line) for line in ORIGINAL.split("\n"))
    return (
        f'<div dir="ltr">{body}</div><br><div class="gmail_quote"><div class="gmail_attr">'
        f"Den tors 26 nov. 2026 kl 10:02 skrev BBGRUPPEN Portal:</div><blockquote>{original}</blockquote></div>"
        if quote
        else f'<div dir="ltr">{body}</div>'
    )


def _reply(
    portal: Portal, request_id: int, text: str, quote: str, signature: str, charset: str, cte: str
) -> EmailMessage:
    message = EmailMessage()
    message["From"] = "Maja Medlem <maja@testet.example>"
    message["To"] = reply_tokens.address(portal.secret_key, portal.settings.reply_domain, request_id, 2)
    message["Subject"] = f"SV: [BB-{request_id}] Väntar på kund"
    message["Message-ID"] = f"<generated.{next(_counter)}@pc.testet.example>"
    parts = [text] + ([signature] if signature else []) + ([quote] if quote else [])
    message.set_content("\n\n".join(parts) + "\n", charset=charset, cte=cte)
    return message


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    text=customer_texts,
    style=st.sampled_from(sorted(QUOTE_STYLES)),
    signature=st.sampled_from(SIGNATURES),
    charset=st.sampled_from(["utf-8", "iso-8859-1", "windows-1252"]),
    cte=st.sampled_from(["quoted-printable", "base64", "8bit"]),
    with_html=st.booleans(),
)
def test_the_customers_own_text_survives_any_client_charset_and_encoding(
    portal: Portal,
    waiting: Request,
    text: str,
    style: str,
    signature: str,
    charset: str,
    cte: str,
    with_html: bool,
) -> None:
    with portal.database.writing() as session:  # each example is Maja's first mail: examples may end alike, and
        for earlier in session.exec(select(InboundMail)):  # what her mails end alike with is learnt as her
            earlier.sender = "earlier-example@testet.example"  # signature (tested in test_intake.py)
            session.add(earlier)
    message = _reply(portal, waiting.id or 0, text, QUOTE_STYLES[style], signature, charset, cte)
    if with_html:
        message.add_alternative(_html(text, QUOTE_STYLES[style]), subtype="html", charset=charset, cte=cte)
    outcome = intake.receive(portal, bytes(message))
    assert outcome.status == "attached", outcome.reason
    with portal.database.reading() as session:
        newest = session.exec(
            select(ChatMessage).where(ChatMessage.request_id == waiting.id).order_by(col(ChatMessage.id).desc())
        ).first()
    assert newest is not None and newest.body == text


AUTOMATIC = [
    {"Auto-Submitted": "auto-replied"},
    {"Auto-Submitted": "auto-generated"},
    {"X-Autoreply": "yes"},
    {"X-Autorespond": "Out of office"},
    {"Precedence": "bulk"},
    {"Precedence": "junk"},
    {"Precedence": "list"},
    {"Precedence": "auto_reply"},
    {"List-Id": "<styrelsen.lists.testet.example>"},
    {"List-Unsubscribe": "<mailto:leave@lists.testet.example>"},
    {"Return-Path": "<>"},
    {"X-Loop": "svar@svar.bbgruppen.example"},
    {"X-BBPortal-Request": "BB-1"},
    {"Subject": "Autosvar: Väntar på kund"},
    {"Subject": "Automatiskt svar: [BB-1]"},
    {"Subject": "Frånvaromeddelande: [BB-1]"},
    {"Subject": "Automatic reply: [BB-1]"},
    {"Subject": "Out of Office: [BB-1]"},
    {"From": "MAILER-DAEMON@mx.testet.example"},
    {"From": "postmaster@testet.example"},
    {"From": "portal@bbgruppen.example"},
]


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(text=customer_texts, markers=st.lists(st.sampled_from(AUTOMATIC), min_size=1, max_size=3))
def test_automatic_mail_never_causes_a_mail_back(
    portal: Portal, waiting: Request, text: str, markers: list[dict[str, str]]
) -> None:
    message = _reply(portal, waiting.id or 0, text, "", "", "utf-8", "quoted-printable")
    for marker in markers:
        for key, value in marker.items():
            del message[key]
            message[key] = value
    with portal.database.reading() as session:
        before = session.exec(select(func.count()).select_from(OutboxMessage)).one()
    outcome = intake.receive(portal, bytes(message))
    assert outcome.status == "ignored"
    with portal.database.reading() as session:
        assert session.exec(select(func.count()).select_from(OutboxMessage)).one() == before
        assert session.exec(select(func.count()).select_from(ChatMessage).where(ChatMessage.via == "email")).one() == 0
        assert session.get(Request, waiting.id).status == Status.WAITING_FOR_CUSTOMER  # type: ignore[union-attr]


CHARSETS = ["utf-8", "iso-8859-1", "windows-1252", "us-ascii", "koi8-r", "utf-16", "x-unknown", ""]


@st.composite
def mime_bytes(draw: st.DrawFn, depth: int = 0) -> bytes:
    """Random MIME as bytes: text parts in random (even wrong or unknown) charsets and encodings, encoded
    correctly or not, nested multiparts whose closing boundary may be missing."""
    if depth < 4 and draw(st.booleans()):
        boundary = f"b{depth}x{draw(st.integers(0, 99))}".encode()
        subtype = draw(st.sampled_from(["mixed", "alternative", "related", "report", "signed"]))
        children = draw(st.lists(mime_bytes(depth + 1), max_size=3))
        body = b"".join(b"--" + boundary + b"\r\n" + child + b"\r\n" for child in children)
        if draw(st.booleans()):
            body += b"--" + boundary + b"--\r\n"
        return b"Content-Type: multipart/" + subtype.encode() + b'; boundary="' + boundary + b'"\r\n\r\n' + body
    text = draw(customer_texts)
    charset = draw(st.sampled_from(CHARSETS))
    encoding = charset if charset not in ("", "x-unknown") else "utf-8"
    payload = draw(st.binary(max_size=200)) if draw(st.booleans()) else text.encode(encoding, errors="replace")
    cte = draw(st.sampled_from(["7bit", "8bit", "base64", "quoted-printable", "x-uuencode", "binary"]))
    if cte == "base64" and draw(st.booleans()):
        payload = base64.encodebytes(payload)
    elif cte == "quoted-printable" and draw(st.booleans()):
        payload = quopri.encodestring(payload)
    subtype = draw(st.sampled_from(["plain", "html", "calendar", "rfc822-headers"]))
    content_type = f"text/{subtype}" + (f"; charset={charset}" if charset else "")
    return f"Content-Type: {content_type}\r\nContent-Transfer-Encoding: {cte}\r\n\r\n".encode() + payload


@settings(max_examples=40, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(
    tree=mime_bytes(),
    subject=st.text(max_size=80),
    sender=st.sampled_from(["maja@testet.example", "olle@annan.example", "", "=?utf-8?q?=FF?= <x@y>", "<>"]),
)
def test_random_mime_never_raises_and_ends_in_one_of_three_states(
    portal: Portal, waiting: Request, tree: bytes, subject: str, sender: str
) -> None:
    to = reply_tokens.address(portal.secret_key, portal.settings.reply_domain, waiting.id or 0, 2)
    head = f"From: {sender}\r\nTo: {to}\r\nMessage-ID: <random.{next(_counter)}@x>\r\n".encode()
    subject_line = b"Subject: " + subject.encode("utf-8", errors="surrogateescape").replace(b"\n", b" ") + b"\r\n"
    raw = head + subject_line + b"MIME-Version: 1.0\r\n" + tree
    outcome = intake.receive(portal, raw)
    assert outcome.status in ("attached", "quarantined", "ignored")
