"""Answers by e-mail: an inbound mail becomes a chat message from the customer, or waits in quarantine.

Order of trust for tying a mail to a request: the signed token in the reply address, then our own signed
thread id in In-Reply-To/References, then the ``[BB-n]`` subject tag. Whatever ties it, the sender must be
an active user of the request's organisation. Auto-replies, bounces, bulk and list mail, loops and our own
mail coming back are recorded and ignored: they never create a message and never cause a mail back.
The mail's attachments go with the message, checked like uploads (:mod:`core.intake.files`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import getaddresses, parseaddr

from sqlmodel import select

from core import auth, chat, reply_tokens
from core.errors import Conflict, NotFound, ValidationFailed
from core.intake.classify import ignore_reason
from core.intake.files import mail_files
from core.intake.parse import parse_mail, text_of
from core.intake.quotes import strip_quotes
from core.models import InboundMail, Request, User
from core.portal import Portal

SUBJECT_TAG = re.compile(r"\[BB-(\d+)\]")
MAX_BYTES = 25 * 1024 * 1024


@dataclass(frozen=True)
class Outcome:
    status: str
    """``attached``, ``quarantined`` or ``ignored``."""
    reason: str
    inbound_mail_id: int
    request_id: int | None = None


class TooLarge(Exception):
    """A mail over the size limit: a permanent failure (the MTA bounces it)."""


def _store(
    portal: Portal, raw: bytes, message: EmailMessage | None, status: str, reason: str, request_id: int | None = None
) -> int:
    with portal.database.writing() as session:
        row = InboundMail(
            received_at=portal.clock.now(),
            raw=raw,
            status=status,
            reason=reason[:300],
            request_id=request_id,
            sender=_sender(message)[:320] if message is not None else "",
            subject=str(message.get("Subject", ""))[:998] if message is not None else "",
            message_id=str(message.get("Message-ID", ""))[:998] if message is not None else "",
        )
        session.add(row)
        session.flush()
        return row.id or 0


def _sender(message: EmailMessage) -> str:
    return parseaddr(str(message.get("From", "")))[1].strip().lower()


def _candidates(portal: Portal, message: EmailMessage) -> tuple[int | None, str]:
    """The request the mail answers and how we know, or (None, why not)."""
    recipients = getaddresses(
        [str(v) for key in ("To", "Cc", "Delivered-To", "X-Original-To") for v in message.get_all(key, [])]
    )
    for _name, address in recipients:
        local, _, _domain = address.partition("@")
        if "+" in local:
            parsed = reply_tokens.parse(portal.secret_key, local.split("+", 1)[1])
            if parsed is not None:
                return parsed[0], "reply address"
            return None, "a reply address whose token is not ours or was altered"
    references = " ".join(str(message.get(key, "")) for key in ("In-Reply-To", "References"))
    threads = reply_tokens.requests_in_references(portal.secret_key, references)
    if threads:
        return threads[-1], "thread id"
    tag = SUBJECT_TAG.search(str(message.get("Subject", "")))
    if tag:
        return int(tag.group(1)), "subject tag"
    return None, "nothing ties it to a request"


def receive(portal: Portal, raw: bytes) -> Outcome:
    """Take one inbound mail. Never raises for what the mail contains; storage errors propagate (retry)."""
    if len(raw) > MAX_BYTES:
        raise TooLarge(f"mail of {len(raw)} bytes is over the limit of {MAX_BYTES}")
    try:
        message = parse_mail(raw)
    except Exception as exc:  # a mail we cannot read is kept for staff, never lost
        return Outcome(
            "quarantined",
            f"unreadable: {type(exc).__name__}",
            _store(portal, raw, None, "quarantined", f"unreadable: {exc}"),
        )
    ignored = ignore_reason(message, portal)
    if ignored:
        return Outcome("ignored", ignored, _store(portal, raw, message, "ignored", ignored))
    request_id, how = _candidates(portal, message)
    if request_id is None:
        return Outcome("quarantined", how, _store(portal, raw, message, "quarantined", how))
    sender = _sender(message)
    with portal.database.reading() as session:
        request = session.get(Request, request_id)
        user = session.exec(select(User).where(User.email == auth.normalise_email(sender))).first()
    if request is None:
        return Outcome("quarantined", "no such request", _store(portal, raw, message, "quarantined", "no such request"))
    if user is None or user.is_staff or not user.active or user.organisation_id != request.organisation_id:
        reason = "the sender is not a user of the request's organisation"
        return Outcome("quarantined", reason, _store(portal, raw, message, "quarantined", reason, request_id))
    body = strip_quotes(text_of(message))
    mail_id = _store(portal, raw, message, "quarantined", "being attached", request_id)
    files, notes = mail_files(portal, message)
    body = "\n\n".join(part for part in (body.strip(), "\n".join(notes)) if part)
    try:
        posted = chat.post(portal, user, request_id, body, via="email", inbound_mail_id=mail_id, files=files)
    except Conflict:
        reason = "the request is closed"
        _mark(portal, mail_id, "quarantined", reason)
        return Outcome("quarantined", reason, mail_id, request_id)
    except (ValidationFailed, NotFound):
        reason = "nothing left after removing quoted text"
        _mark(portal, mail_id, "quarantined", reason)
        return Outcome("quarantined", reason, mail_id, request_id)
    _mark(portal, mail_id, "attached", f"by {how}", posted.id)
    return Outcome("attached", how, mail_id, request_id)


def _mark(portal: Portal, mail_id: int, status: str, reason: str, chat_message_id: int | None = None) -> None:
    with portal.database.writing() as session:
        row = session.get(InboundMail, mail_id)
        if row is not None:
            row.status, row.reason, row.chat_message_id = status, reason[:300], chat_message_id
            session.add(row)
