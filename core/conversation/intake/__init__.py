"""Answers by e-mail: an inbound mail becomes a chat message from the customer, or waits in quarantine.

Order of trust for tying a mail to a request: the signed token in the reply address, then our own signed
thread id in In-Reply-To/References, then the ``[BB-n]`` subject tag. Whatever ties it, the sender must be
an active user of the request's organisation. Auto-replies, bounces, bulk and list mail, loops and our own
mail coming back are recorded and ignored: they never create a message and never cause a mail back; a
delivery report that shows one of our mails failed for good marks the address undeliverable. The mail's
attachments go with the message, checked like uploads (:mod:`core.conversation.intake.files`).

Every mail is stored with its original bytes before anything else is decided, and the same bytes delivered
twice (an MTA retrying after a lost answer) are taken once. What the mail contains never makes the intake
fail: a mail it cannot read waits in quarantine. Only two things are refused for good (:class:`Refused`): a
mail over the size limit and an empty one. Anything else that goes wrong (the database is away) propagates,
and the caller answers "try again later".
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from email.utils import getaddresses, parseaddr
from typing import TYPE_CHECKING

from sqlmodel import col, select

from core.accounts import auth
from core.conversation import chat
from core.conversation.intake import bounces
from core.conversation.intake.classify import ignore_reason, is_delivery_report
from core.conversation.intake.files import has_attachments, mail_files
from core.conversation.intake.parse import header, parse_mail, storable, text_of
from core.conversation.intake.quotes import strip_quotes
from core.mail import reply_tokens
from core.models import ChatMessage, InboundMail, Request, User
from core.platform.errors import Conflict, NotFound, ValidationFailed
from core.platform.i18n import N_
from core.platform.settings import Settings
from core.requests.queries import valid_id

if TYPE_CHECKING:
    from core.portal import Portal

SUBJECT_TAG = re.compile(r"\[BB-(\d{1,10})\]")
MAX_BYTES = 25 * 1024 * 1024
"""The default size limit (``BBPORTAL_INBOUND_MAIL_MAX_MB``)."""
BEING_ATTACHED = N_("being attached")
"""The reason of a stored mail whose chat message is being written; a redelivery finishes the job."""

# Why a mail waits in quarantine: stored in English, shown to staff through the catalog (``_(mail.reason)``).
ALTERED_TOKEN = N_("a reply address whose token is not ours or was altered")
NOT_TIED = N_("nothing ties it to a request")
NO_SUCH_REQUEST = N_("no such request")
FOREIGN_SENDER = N_("the sender is not a user of the request's organisation")
NO_TEXT = N_("no text of its own (only quoted text or a signature)")
TOO_LONG = N_("longer than a chat message may be")
CLOSED = N_("the request is closed")
QUARANTINE_REASONS = frozenset(
    {BEING_ATTACHED, ALTERED_TOKEN, NOT_TIED, NO_SUCH_REQUEST, FOREIGN_SENDER, NO_TEXT, TOO_LONG, CLOSED}
)
RECIPIENT_HEADERS = ("Delivered-To", "X-Original-To", "To", "Cc")
"""Where reply addresses are looked for: the MTA's envelope headers first, then what the sender wrote."""


@dataclass(frozen=True)
class Outcome:
    status: str
    """``attached``, ``quarantined`` or ``ignored``."""
    reason: str
    inbound_mail_id: int
    request_id: int | None = None


class Refused(Exception):
    """A mail that can never be taken: the MTA returns it to the sender, since no retry can help."""

    smtp_reply = "554 5.6.0 The message cannot be taken"

    def __init__(self, detail: str) -> None:
        super().__init__(detail)
        self.detail = detail


class TooLarge(Refused):
    """A mail over the size limit."""

    smtp_reply = "552 5.3.4 Message too big for the portal"


class Empty(Refused):
    """Nothing at all was delivered: nothing to keep for anyone."""

    smtp_reply = "554 5.6.0 Empty message"


@dataclass(frozen=True)
class Reading:
    """What a mail says, worked out without the database (so content can never be mistaken for an outage)."""

    sender: str
    subject: str
    message_id: str
    ignored: str
    report: bounces.Report | None
    request_id: int | None
    how: str
    body: str


def read(raw: bytes, settings: Settings, secret_key: str) -> Reading:
    """Parse and judge one mail. May raise on pathological content; :func:`receive` quarantines it then."""
    message = parse_mail(raw)
    sender = parseaddr(header(message, "From"))[1].strip().lower()
    subject, message_id = header(message, "Subject"), header(message, "Message-ID")
    ignored = ignore_reason(message, settings, secret_key)
    if ignored:
        report = bounces.read_report(secret_key, message) if is_delivery_report(message) else None
        return Reading(sender, subject, message_id, ignored, report, None, "", "")
    request_id, how = _tie(message, settings, secret_key)
    body = strip_quotes(text_of(message)) if request_id is not None else ""
    return Reading(sender, subject, message_id, "", None, request_id, how, body)


def _tie(message: EmailMessage, settings: Settings, secret_key: str) -> tuple[int | None, str]:
    """The request the mail answers and how we know, or (None, why not)."""
    values = [header(message, name) for name in RECIPIENT_HEADERS]
    domain = "@" + settings.reply_domain.lower()
    altered = False
    for _name, address in getaddresses([v for v in values if v]):
        address = address.strip().lower()
        if not address.endswith(domain):
            continue  # a customer's own "+" address (anna+work@…) says nothing about our requests
        local = address[: -len(domain)]
        if "+" in local:
            parsed = reply_tokens.parse(secret_key, local.split("+", 1)[1])
            if parsed is not None:
                return parsed[0], "reply address"
            altered = True
    if altered:
        return None, ALTERED_TOKEN
    references = " ".join(header(message, name) for name in ("In-Reply-To", "References"))
    threads = reply_tokens.requests_in_references(secret_key, references)
    if threads:
        return threads[-1], "thread id"
    tag = SUBJECT_TAG.search(header(message, "Subject"))
    if tag and valid_id(int(tag.group(1))):
        return int(tag.group(1)), "subject tag"
    return None, NOT_TIED


def _headers_only(raw: bytes) -> tuple[str, str, str]:
    """Sender, subject and Message-ID of a mail whose body could not be read (for the quarantine list)."""
    try:
        headers: Message = BytesHeaderParser(policy=default_policy).parsebytes(raw)
        return (
            parseaddr(header(headers, "From"))[1].strip().lower(),
            header(headers, "Subject"),
            header(headers, "Message-ID"),
        )
    except Exception:  # not even the headers: the raw bytes are kept all the same
        return "", "", ""


def receive(portal: Portal, raw: bytes) -> Outcome:
    """Take one inbound mail. Raises :class:`Refused` for a mail no retry can help; storage errors propagate."""
    limit = portal.settings.inbound_mail_max_bytes
    if len(raw) > limit:
        raise TooLarge(f"mail of {len(raw)} bytes is over the limit of {limit}")
    if not raw.strip(b" \t\r\n\x00"):
        raise Empty("the mail is empty")
    digest = hashlib.sha256(raw).hexdigest()
    earlier = _earlier(portal, digest)
    if earlier is not None and not (earlier.status == "quarantined" and earlier.reason == BEING_ATTACHED):
        return Outcome(earlier.status, f"received before (inbound mail #{earlier.id})", earlier.id or 0)
    try:
        reading = read(raw, portal.settings, portal.secret_key)
    except Exception as exc:  # RecursionError included: a mail we cannot read is kept for staff, never lost
        reason = f"unreadable: {type(exc).__name__}"
        return Outcome("quarantined", reason, _store(portal, raw, digest, _headers_only(raw), "quarantined", reason))
    if reading.ignored:
        return _ignore(portal, raw, digest, reading)
    stored = earlier.id if earlier is not None else None  # a delivery that stopped half-way left this row
    if reading.request_id is None:
        return _quarantine(portal, raw, digest, reading, reading.how, stored)
    with portal.database.reading() as session:
        request = session.get(Request, reading.request_id)
        user = session.exec(select(User).where(User.email == auth.normalise_email(reading.sender))).first()
    if request is None:
        return _quarantine(portal, raw, digest, reading, NO_SUCH_REQUEST, stored)
    if user is None or user.is_staff or not user.active or user.organisation_id != request.organisation_id:
        return _quarantine(portal, raw, digest, reading, FOREIGN_SENDER, stored)
    if len(reading.body) > chat.MAX_LENGTH:
        return _quarantine(portal, raw, digest, reading, TOO_LONG, stored)
    if not reading.body.strip() and not has_attachments(parse_mail(raw)):
        return _quarantine(portal, raw, digest, reading, NO_TEXT, stored)  # a photo alone is an answer
    if earlier is not None:
        mail_id = earlier.id or 0
        with portal.database.reading() as session:
            done = session.exec(select(ChatMessage.id).where(ChatMessage.inbound_mail_id == mail_id)).first()
        if done is not None:  # the message was written, the mark was not: finish
            _mark(portal, mail_id, "attached", f"by {reading.how}", done)
            return Outcome("attached", reading.how, mail_id, request.id)
    else:
        mail_id = _store(portal, raw, digest, _about(reading), "quarantined", BEING_ATTACHED, request.id)
    files, notes = mail_files(portal, parse_mail(raw))  # read() parsed these bytes already: this cannot fail
    body = "\n\n".join(part for part in (reading.body.strip(), "\n".join(notes)) if part)
    if not reading.body.strip() and not files:  # only refused files: nothing of the sender's own arrives
        return _quarantine(portal, raw, digest, reading, NO_TEXT, mail_id)
    try:
        posted = chat.post(portal, user, request.id or 0, body, via="email", inbound_mail_id=mail_id, files=files)
    except Conflict:
        _mark(portal, mail_id, "quarantined", CLOSED)
        return Outcome("quarantined", CLOSED, mail_id, request.id)
    except (ValidationFailed, NotFound) as exc:
        reason = f"refused by the conversation: {type(exc).__name__}"
        _mark(portal, mail_id, "quarantined", reason)
        return Outcome("quarantined", reason, mail_id, request.id)
    _mark(portal, mail_id, "attached", f"by {reading.how}", posted.id)
    return Outcome("attached", reading.how, mail_id, request.id)


def _about(reading: Reading) -> tuple[str, str, str]:
    return reading.sender, reading.subject, reading.message_id


def _earlier(portal: Portal, digest: str) -> InboundMail | None:
    with portal.database.reading() as session:
        return session.exec(
            select(InboundMail).where(InboundMail.digest == digest).order_by(col(InboundMail.id))
        ).first()


def _store(
    portal: Portal,
    raw: bytes,
    digest: str,
    about: tuple[str, str, str],
    status: str,
    reason: str,
    request_id: int | None = None,
) -> int:
    with portal.database.writing() as session:
        row = _new_row(portal, raw, digest, about, status, reason, request_id)
        session.add(row)
        session.flush()
        return row.id or 0


def _new_row(
    portal: Portal,
    raw: bytes,
    digest: str,
    about: tuple[str, str, str],
    status: str,
    reason: str,
    request_id: int | None = None,
) -> InboundMail:
    sender, subject, message_id = about
    return InboundMail(
        received_at=portal.clock.now(),
        raw=raw,
        digest=digest,
        sender=sender[:320],
        subject=subject[:998],
        message_id=message_id[:998],
        status=status,
        reason=storable(reason)[:300],
        request_id=request_id,
    )


def _quarantine(
    portal: Portal, raw: bytes, digest: str, reading: Reading, reason: str, existing: int | None = None
) -> Outcome:
    """Keep the mail for staff; a row stored earlier for the same bytes (``existing``) is marked, never doubled."""
    if existing:
        _mark(portal, existing, "quarantined", reason)
        return Outcome("quarantined", reason, existing, reading.request_id)
    return Outcome(
        "quarantined", reason, _store(portal, raw, digest, _about(reading), "quarantined", reason, reading.request_id)
    )


def _ignore(portal: Portal, raw: bytes, digest: str, reading: Reading) -> Outcome:
    """Record an ignored mail; a hard bounce of our mail marks its address in the same transaction."""
    with portal.database.writing() as session:
        now = portal.clock.now()
        marked = bounces.mark_undeliverable(session, reading.report, now) if reading.report else []
        reason = reading.ignored
        if marked:
            reason += "; undeliverable: " + ", ".join(b.address for b in marked)
        row = _new_row(portal, raw, digest, _about(reading), "ignored", reason)
        session.add(row)
        session.flush()
        return Outcome("ignored", reason, row.id or 0)


def _mark(portal: Portal, mail_id: int, status: str, reason: str, chat_message_id: int | None = None) -> None:
    with portal.database.writing() as session:
        row = session.get(InboundMail, mail_id)
        if row is not None:
            row.status, row.reason, row.chat_message_id = status, reason[:300], chat_message_id
            session.add(row)
