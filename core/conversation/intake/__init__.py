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
from dataclasses import dataclass, replace
from email.errors import InvalidHeaderDefect
from email.message import EmailMessage, Message
from email.parser import BytesHeaderParser
from email.policy import default as default_policy
from email.utils import getaddresses, parseaddr
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from core.conversation import chat
from core.conversation.intake import bounces
from core.conversation.intake.classify import ignore_reason, is_delivery_report
from core.conversation.intake.files import CUT_TEXT, has_attachments, mail_files
from core.conversation.intake.parse import Body, header, parse_mail, read_body, storable, text_of
from core.conversation.intake.quotes import OurText, cut_signature, strip_quotes
from core.mail import reply_tokens
from core.mail import service as mail
from core.models import ChatMessage, InboundMail, Request, User
from core.platform import i18n, request_ids
from core.platform.clock import local_today
from core.platform.errors import Conflict, NotFound, ValidationFailed
from core.platform.i18n import N_
from core.platform.logs import get_logger
from core.platform.metrics import INBOUND_MAILS, count
from core.platform.settings import Settings
from core.platform.signing import SigningKeys
from core.requests.queries import valid_id
from core.requests.statuses import Status

if TYPE_CHECKING:
    from core.portal import Portal

log = get_logger(__name__)
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
    body: Body
    """The whole text (quotes are cut once the request's sent mails are known); empty when nothing ties it."""
    authors: tuple[str, ...] = ()
    """Every address the mail names as its author (``From``, ``Sender``); empty when they cannot be told."""
    answers: tuple[str, ...] = ()
    """Our own Message-IDs it answers (signatures checked): they tie it when no address or thread id does."""
    tag: int | None = None
    """The ``[BB-n]`` of its subject: the last resort."""


def read(raw: bytes, settings: Settings, secret_key: SigningKeys) -> Reading:
    """Parse and judge one mail. May raise on pathological content; :func:`receive` quarantines it then."""
    message = parse_mail(raw)
    named = authors(message)
    sender = named[0] if named else header(message, "From")[:320]
    subject, message_id = header(message, "Subject"), header(message, "Message-ID")
    ignored = ignore_reason(message, settings, secret_key)
    if ignored:
        report = bounces.read_report(secret_key, message) if is_delivery_report(message) else None
        return Reading(sender, subject, message_id, ignored, report, None, "", Body(""), named)
    request_id, how = _tie(message, settings, secret_key)
    references = " ".join(header(message, name) for name in ("In-Reply-To", "References"))
    answers = tuple(reversed(reply_tokens.our_message_ids(secret_key, references)))
    tag = SUBJECT_TAG.search(subject)
    tagged = int(tag.group(1)) if tag and valid_id(int(tag.group(1))) else None
    tied = request_id is not None or answers or tagged is not None
    body = read_body(message) if tied and how != ALTERED_TOKEN else Body("")
    return Reading(sender, subject, message_id, "", None, request_id, how, body, named, answers, tagged)


def authors(message: EmailMessage) -> tuple[str, ...]:
    """Every address named as the mail's author: each ``From`` (a mail may have several authors) and the
    ``Sender``. Display names count for nothing, and a header that cannot be read for certain (``anna@kund.se
    <other@example.org>``: which is it?) names nobody, so the mail cannot pass for anyone's."""
    found: list[str] = []
    for name in ("From", "Sender"):
        for value in message.get_all(name) or []:
            if any(isinstance(defect, InvalidHeaderDefect) for defect in getattr(value, "defects", ())):
                return ()
            for address in getattr(value, "addresses", ()):
                spec = str(address.addr_spec).strip().lower()
                local, at, domain = spec.rpartition("@")
                if not (at and local and "." in domain):
                    return ()
                if spec not in found:
                    found.append(spec)
    return tuple(found)


def _tie(message: EmailMessage, settings: Settings, secret_key: SigningKeys) -> tuple[int | None, str]:
    """The request the mail answers by a reply address or a thread id, and how we know; or (None, why not)."""
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
    return None, NOT_TIED


def _tie_by_mail(portal: Portal, reading: Reading) -> tuple[int | None, str]:
    """Tie what no address or thread id tied: by a Message-ID of ours it answers, then by the subject tag."""
    if reading.request_id is not None or reading.how == ALTERED_TOKEN:
        return reading.request_id, reading.how
    with portal.database.reading() as session:
        answered = mail.request_answered(session, list(reading.answers))
    if answered is not None:
        return answered, "message id"
    if reading.tag is not None:
        return reading.tag, "subject tag"
    return None, NOT_TIED


def own_text(session: Session, portal: Portal, body: Body, request_id: int, sender: str, before: int | None) -> str:
    """The sender's own words: our quoted mails and the signature they always end with cut, and a note when
    the mail was cut short on its way."""
    ours = our_text(session, portal, request_id)
    text = strip_quotes(body.text, ours)
    text = cut_signature(text, _earlier_texts(session, portal, sender, before))
    if body.cut:
        with i18n.use_language(portal.settings.default_language):
            text = "\n\n".join(part for part in (text.strip(), i18n.gettext(CUT_TEXT)) if part)
    return text


def our_text(session: Session, portal: Portal, request_id: int | None) -> OurText:
    """The mails we sent about a request, and the names our mails go out under (for attribution lines)."""
    settings = portal.settings
    name, address = parseaddr(settings.mail_from)
    names = [name, address, "@" + settings.reply_domain]
    return OurText(mail.sent_texts(session, request_id) if request_id is not None else [], names)


EARLIER_MAILS = 5
"""The sender's mails a signature is learnt from: enough to find it again after one that lacked it."""


def _earlier_texts(session: Session, portal: Portal, sender: str, before: int | None) -> list[str]:
    """The own text (quotes cut) of the sender's latest earlier mails that were answers, not auto-replies."""
    if not sender:
        return []
    query = select(InboundMail).where(InboundMail.sender == sender, InboundMail.status != "ignored")
    if before is not None:
        query = query.where(col(InboundMail.id) < before)
    texts = []
    for row in session.exec(query.order_by(col(InboundMail.id).desc()).limit(EARLIER_MAILS)):
        try:
            texts.append(strip_quotes(text_of(parse_mail(row.raw)), our_text(session, portal, row.request_id)))
        except Exception:  # an unreadable earlier mail teaches nothing
            continue
    return texts


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


def is_empty(raw: bytes) -> bool:
    """Nothing at all was delivered (blank lines and NUL bytes are nothing)."""
    return not raw.strip(b" \t\r\n\x00")


def receive(portal: Portal, raw: bytes) -> Outcome:
    """Take one inbound mail. Raises :class:`Refused` for a mail no retry can help; storage errors propagate.

    The mail gets a request id of its own, as a web request does: the chat message, the mails to staff and
    the log lines it causes carry it. Every outcome is counted (``bbportal_inbound_mails_total``).
    """
    with request_ids.bound(request_ids.new()):
        try:
            outcome = _receive(portal, raw)
        except Refused as exc:
            count(INBOUND_MAILS, outcome="refused")
            log.info("inbound mail refused", reason=exc.detail)
            raise
        except Exception:
            count(INBOUND_MAILS, outcome="deferred")
            raise
        count(INBOUND_MAILS, outcome=outcome.status)
        log.info(
            "inbound mail taken",
            outcome=outcome.status,
            reason=outcome.reason,
            inbound_mail_id=outcome.inbound_mail_id,
            tied_to=f"BB-{outcome.request_id}" if outcome.request_id is not None else None,
        )
        return outcome


def _receive(portal: Portal, raw: bytes) -> Outcome:
    limit = portal.settings.inbound_mail_max_bytes
    if len(raw) > limit:
        raise TooLarge(f"mail of {len(raw)} bytes is over the limit of {limit}")
    if is_empty(raw):
        raise Empty("the mail is empty")
    digest = hashlib.sha256(raw).hexdigest()
    earlier = _earlier(portal, digest)
    if earlier is not None and not (earlier.status == "quarantined" and earlier.reason == BEING_ATTACHED):
        return Outcome(earlier.status, f"received before (inbound mail #{earlier.id})", earlier.id or 0)
    try:
        reading = read(raw, portal.settings, portal.secret_keys)
    except Exception as exc:  # RecursionError included: a mail we cannot read is kept for staff, never lost
        reason = f"unreadable: {type(exc).__name__}"
        return Outcome("quarantined", reason, _store(portal, raw, digest, _headers_only(raw), "quarantined", reason))
    if reading.ignored:
        return _ignore(portal, raw, digest, reading)
    stored = earlier.id if earlier is not None else None  # a delivery that stopped half-way left this row
    request_id, how = _tie_by_mail(portal, reading)
    reading = replace(reading, request_id=request_id, how=how)
    if request_id is None:
        return _quarantine(portal, raw, digest, reading, reading.how, stored)
    with portal.database.reading() as session:
        request = session.get(Request, request_id)
        named = list(session.exec(select(User).where(col(User.email).in_(reading.authors)))) if reading.authors else []
        text = own_text(session, portal, reading.body, request_id, reading.sender, stored) if request else ""
    if request is None:
        return _quarantine(portal, raw, digest, reading, NO_SUCH_REQUEST, stored)
    user = _author(reading, named, request)
    if user is None:
        return _quarantine(portal, raw, digest, reading, FOREIGN_SENDER, stored)
    if Status(request.status).is_closed:
        return _closed(portal, raw, digest, reading, user, request, stored)
    if len(text) > chat.MAX_LENGTH:
        return _quarantine(portal, raw, digest, reading, TOO_LONG, stored)
    if not text.strip() and not has_attachments(parse_mail(raw)):
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
    body = "\n\n".join(part for part in (text.strip(), "\n".join(notes)) if part)
    if not text.strip() and not files:  # only refused files: nothing of the sender's own arrives
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


def _author(reading: Reading, named: list[User], request: Request) -> User | None:
    """The user the message is from, when every author the mail names (by address) is an active customer
    user of the request's organisation; else None."""
    by_address = {user.email: user for user in named}
    users = [by_address.get(address) for address in reading.authors]
    if not users or any(
        u is None or u.is_staff or not u.active or u.organisation_id != request.organisation_id for u in users
    ):
        return None
    return users[0]


CLOSED_REPLY = "closed_request_answered"
"""The mail kind of the automatic reply to an answer to a closed request."""


def _closed(
    portal: Portal, raw: bytes, digest: str, reading: Reading, user: User, request: Request, existing: int | None
) -> Outcome:
    """An answer to a closed request waits for staff in the quarantine, and its sender (a user of the
    organisation: automatic mail never gets here) is told once a day per request how to follow it up."""
    with portal.database.writing() as session:
        row = session.get(InboundMail, existing) if existing else None
        if row is None:
            row = _new_row(portal, raw, digest, _about(reading), "quarantined", CLOSED, request.id)
        row.status, row.reason = "quarantined", CLOSED
        session.add(row)
        session.flush()
        now = portal.clock.now()
        mail.queue(
            session,
            CLOSED_REPLY,
            user,
            request=request,
            dedupe_key=f"closed-reply:{request.id}:{user.id}:{local_today(portal.clock).isoformat()}",
            now=now,
        )
        return Outcome("quarantined", CLOSED, row.id or 0, request.id)


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
