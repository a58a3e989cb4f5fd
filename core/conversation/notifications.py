"""E-mail notifications: who is told what, composed in the recipient's language, sent one job per mail.

A lifecycle event (``request_filed``, ``status_changed``) fans out into one ``send_mail`` outbox row per
recipient, each with a dedupe key, so re-running the fan-out after a crash adds nothing. A send job builds
the mail from the database and sends it; its Message-ID is derived from the dedupe key, so the one repeat
no protocol can prevent (the SMTP server accepted, then the worker died before recording it) carries the
same Message-ID and is recognisable as the same mail.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from sqlmodel import Session, col, select

from core.mail import reply_tokens
from core.models import Attachment, ChatMessage, PasswordToken, Request, User
from core.platform import i18n
from core.platform.clock import local_date, local_datetime
from core.platform.mailer import Mailer
from core.platform.outbox import OutboxMessage, enqueue
from core.requests.display import request_rows
from core.requests.followers import followers
from core.requests.statuses import Status

if TYPE_CHECKING:
    from core.portal import Portal

TEMPLATES = Path(__file__).parent.parent / "mail" / "templates" / "email"
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Recipient:
    user: User
    kind: str


def wants(user: User, to_status: str | None) -> bool:
    """A user's preference: every change, only when we need an answer from them, or nothing."""
    if user.notify == "none" or not user.active:
        return False
    if user.notify == "answer_needed":
        return to_status == Status.WAITING_FOR_CUSTOMER.value
    return True


def fan_out(portal: Portal, source: OutboxMessage) -> Callable[[Session], None] | None:
    """Turn one lifecycle event into one ``send_mail`` row per recipient.

    Who is told is read first, in a read transaction; what is returned is the write that queues the rows,
    which ``outbox.process`` does in the transaction that marks ``source`` done: one short writer's turn per
    event, and after a crash either both happened or neither. The rows keep their dedupe keys, and keys
    already present are skipped, so a fan-out that did run is never repeated.
    """
    payload = source.payload
    with portal.database.reading() as session:
        request = session.get(Request, int(payload["request_id"]))
        if request is None:
            return None
        if source.topic == "request_filed":
            requester = session.get(User, request.requester_id)
            # The receipt counts as a status change: "answer needed only" and "none" get no receipt.
            recipients = [requester] if requester is not None and wants(requester, request.status) else []
            kind = "request_filed"
        else:
            recipients = [u for u in followers(session, request) if wants(u, payload.get("to_status"))]
            kind = "status_changed"
    if not recipients:
        return None
    now = portal.clock.now()
    extra: dict[str, Any] = {k: payload[k] for k in ("from_status", "to_status", "action") if k in payload}

    def queue(session: Session) -> None:
        for user in recipients:
            queue_mail(session, f"mail:{source.id}:{user.id}", kind, request, user, now, **extra)

    return queue


def queue_mail(session: Session, key: str, kind: str, request: Request, user: User, now: Any, **extra: Any) -> bool:
    """One ``send_mail`` row for one recipient, unless its dedupe key exists (re-running adds nothing)."""
    payload = {"kind": kind, "request_id": request.id, "user_id": user.id, **extra}
    return enqueue(session, "send_mail", payload, key, now=now) == 1


def render(kind: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """Subject, text part and HTML part of one kind of mail, in the language in force."""
    subject = environment().get_template(f"{kind}/subject.txt").render(context).strip()
    return (
        subject,
        environment().get_template(f"{kind}/body.txt").render(context),
        environment().get_template(f"{kind}/body.html").render(context),
    )


def _environment() -> Environment:
    environment = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        auto_reload=False,  # the templates ship with the code; no file checks for every mail
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: i18n.gettext(message), lambda s, p, n: i18n.ngettext(s, p, n), newstyle=True
    )
    environment.filters.update(local_datetime=local_datetime, local_date=local_date)
    return environment


_ENVIRONMENT: Environment | None = None


def environment() -> Environment:
    global _ENVIRONMENT
    if _ENVIRONMENT is None:
        _ENVIRONMENT = _environment()
    return _ENVIRONMENT


def message_id(portal: Portal, key: str, user_id: int = 0) -> str:
    """Derived from the dedupe key (a retry carries the same id) and signed with the recipient (bounces);
    ``user_id`` 0 when the recipient is no portal user (a plugin's mail to a system's account holder)."""
    return reply_tokens.message_id(portal.secret_key, _domain(portal), key, user_id)


def thread_id(portal: Portal, request_id: int) -> str:
    """Every mail about a request refers to this one id, so mail programs keep them in one thread.

    It is signed (``reply_tokens.thread_signature``) so that the intake can trust it in a reply's
    In-Reply-To/References.
    """
    return f"<request.{request_id}.{reply_tokens.thread_signature(portal.secret_key, request_id)}@{_domain(portal)}>"


def _domain(portal: Portal) -> str:
    return parseaddr(portal.settings.mail_from)[1].rpartition("@")[2] or "bbgruppen.example"


ACCOUNT_MAILS = ("password_reset", "invitation")


def _headers(portal: Portal, message: EmailMessage, user: User, key: str) -> None:
    message["From"] = portal.settings.mail_from
    message["To"] = formataddr((user.name, user.email))
    message["Date"] = format_datetime(portal.clock.now())
    message["Message-ID"] = message_id(portal, key, user.id or 0)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"


def undeliverable(user: User, outbox_row: OutboxMessage) -> bool:
    """A hard bounce marked the address: the mail is not sent (its job is done, not failed) until it changes."""
    if user.mail_undeliverable_at is None:
        return False
    log.info(
        "mail job %s (%s) not sent: %s is undeliverable since %s (%s)",
        outbox_row.id,
        outbox_row.payload.get("kind"),
        user.email,
        user.mail_undeliverable_at.isoformat(),
        user.mail_undeliverable_reason,
    )
    return True


def compose_account_mail(portal: Portal, session: Session, outbox_row: OutboxMessage) -> EmailMessage | None:
    """A password-reset or invitation link, rebuilt from its row (the token itself is never stored)."""
    from core.accounts.passwords import token_for

    payload = outbox_row.payload
    user = session.get(User, int(payload["user_id"]))
    row = session.get(PasswordToken, int(payload["token_id"]))
    if user is None or row is None or not user.active or row.used_at is not None or undeliverable(user, outbox_row):
        return None
    base = portal.settings.base_url.rstrip("/")
    kind = str(payload["kind"])
    with i18n.use_language(user.language):
        context = {
            "recipient": user,
            "link": f"{base}/password/{token_for(portal.secret_key, row)}",
            "hours": round((row.expires_at - row.created_at).total_seconds() / 3600),
            "login_url": f"{base}/login",
            "settings_url": f"{base}/profile#notifications",
        }
        subject, text, html = render(kind, context)
    message = EmailMessage()
    message["Subject"] = subject
    _headers(portal, message, user, outbox_row.dedupe_key or f"mail:{outbox_row.id}")
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def compose(portal: Portal, session: Session, outbox_row: OutboxMessage) -> EmailMessage | None:
    payload = outbox_row.payload
    if payload.get("kind") in ACCOUNT_MAILS:
        return compose_account_mail(portal, session, outbox_row)
    request = session.get(Request, int(payload["request_id"]))
    user = session.get(User, int(payload["user_id"]))
    if request is None or user is None or not user.active or undeliverable(user, outbox_row):
        return None
    request_type = portal.registry.get(request.type_key)
    newest = session.exec(
        select(ChatMessage)
        .where(ChatMessage.request_id == request.id, col(ChatMessage.internal).is_(False))
        .order_by(col(ChatMessage.id).desc())
    ).first()
    newest_files = (
        list(
            session.exec(
                select(Attachment.filename)
                .where(Attachment.message_id == newest.id, col(Attachment.internal).is_(False))
                .order_by(col(Attachment.id))
            )
        )
        if newest is not None
        else []
    )
    base = portal.settings.base_url.rstrip("/")
    with i18n.use_language(user.language):
        type_name = i18n.gettext(request_type.name) if request_type else request.type_key
        context: dict[str, Any] = {
            "request": request,
            "number": request.number,
            "type_name": type_name,
            "status_label": Status(request.status).label,
            "to_status_label": Status(payload.get("to_status", request.status)).label,
            "summary": request.summary,
            "rows": request_rows(session, request, request_type, portal.clock, portal.access_control),
            "recipient": user,
            "newest_message": newest,
            "newest_files": newest_files,
            "request_url": f"{base}/{'staff/' if user.is_staff else ''}requests/{request.id}",
            "settings_url": f"{base}/profile#notifications",
        }
        kind = str(payload["kind"])
        subject, text, html = render(kind, context)
    message = EmailMessage()
    message["Subject"] = subject
    _headers(portal, message, user, outbox_row.dedupe_key or f"mail:{outbox_row.id}")
    message["Reply-To"] = reply_tokens.address(
        portal.secret_key, portal.settings.reply_domain, request.id or 0, user.id or 0
    )
    message["In-Reply-To"] = thread_id(portal, request.id or 0)
    message["References"] = thread_id(portal, request.id or 0)
    message["X-BBPortal-Request"] = request.number
    message.set_content(text)
    message.add_alternative(html, subtype="html")
    return message


def send(portal: Portal, mailer: Mailer, outbox_row: OutboxMessage) -> bool:
    with portal.database.reading() as session:
        message = compose(portal, session, outbox_row)
    if message is None:
        return False
    mailer.send(message)
    return True
