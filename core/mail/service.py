"""The one mail service: a mail is queued by naming its kind and its recipient; the rest is the service's.

Core and plugins alike call :func:`queue` in the transaction that causes the mail. It writes one
``send_mail`` outbox row (through ``outbox.enqueue``, with a dedupe key, so re-running the cause adds
nothing) holding only ids and small values, never a token or a text: the mail is composed when it is sent,
from the database as it is then, in the recipient's language, so a link that was used meanwhile is not
sent and a changed address is honoured.

A kind (:class:`MailKind`) is a folder of three templates (``subject.txt``, ``body.txt``, ``body.html``,
translated through the gettext catalogs) and a function that gives them their values. Headers, the signed
reply address, thread ids and Message-IDs are made here. The Message-ID is derived from the dedupe key, so
the one repeat no protocol prevents (the SMTP server accepted, the worker died before recording it)
carries the same Message-ID and is recognisable as the same mail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, formataddr, parseaddr
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import ChoiceLoader, Environment, FileSystemLoader, PrefixLoader, select_autoescape
from sqlmodel import Session, col, select

from core.mail import reply_tokens
from core.models import Request, SentMail, User
from core.platform import i18n
from core.platform.clock import local_date, local_datetime
from core.platform.errors import ConfigurationError
from core.platform.logs import get_logger
from core.platform.metrics import MAILS_FAILED, MAILS_SENT, count
from core.platform.outbox import OutboxMessage, enqueue
from core.platform.template_i18n import install_gettext
from core.views import RequestView, UserView

if TYPE_CHECKING:
    from core.portal import Portal

TOPIC = "send_mail"
CORE_TEMPLATES = Path(__file__).parent / "templates" / "email"
"""The core's kinds, one folder each, and ``_layout/`` that their HTML parts extend."""
BOTH_LANGUAGES = ("sv", "en")
log = get_logger(__name__)


@dataclass(frozen=True)
class Recipient:
    """Who a mail goes to: a portal user, or an address only (a hosted system's account holder)."""

    address: str
    name: str = ""
    user: UserView | None = None
    """The portal user it goes to (read-only), or None for an address alone."""
    languages: tuple[str, ...] = BOTH_LANGUAGES
    """A user's own language; an address alone gets the mail in Swedish and then in English."""

    @property
    def user_id(self) -> int:
        return self.user.id or 0 if self.user is not None else 0


@dataclass(frozen=True)
class MailJob:
    """What a kind's values are made from when the mail is sent (in a read transaction)."""

    portal: Portal
    session: Session
    kind: str
    recipient: Recipient
    request: RequestView | None
    """The request the mail is about, as it is when the mail is sent (read-only)."""
    params: dict[str, Any]
    """The keyword arguments given to :func:`queue`: ids and small values, as JSON stored them."""

    def url(self, path: str) -> str:
        """An absolute link into the portal."""
        return self.portal.settings.base_url.rstrip("/") + path


@dataclass(frozen=True)
class MailKind:
    """One kind of mail: its templates and the function that gives them their values.

    ``values(job)`` runs once per language of the recipient, with that language in force (so ``gettext``
    in it translates); it returns the templates' values, or None when the mail is no longer to be sent (the
    link was used, the request is gone). Besides its values the templates see ``recipient`` (the
    :class:`~core.views.UserView`, or the :class:`Recipient` for an address), ``language`` and
    ``settings_url``. Mails to an address alone are written in both languages: their ``body.html`` is a
    fragment (the service puts the two one after the other in one document); a user's is a whole
    document and usually extends ``_layout/body.html``.
    """

    key: str
    templates: Path
    values: Callable[[MailJob], dict[str, Any] | None]
    reply_by_mail: bool = field(default=True)
    """Whether a mail about a request to a user carries the signed reply address (answers by e-mail)."""


def queue(
    session: Session,
    kind: str,
    to: User | UserView | str,
    *,
    dedupe_key: str,
    now: datetime,
    request: Request | RequestView | None = None,
    name: str = "",
    **params: Any,
) -> bool:
    """Queue one mail of ``kind`` to ``to`` (a user — row or view —, or an address with an optional ``name``).

    A user gets the mail in their own language, unless they have asked for no mail or their address bounces.

    Called in the transaction that causes the mail; it goes out after the commit. ``params`` (JSON values)
    reach the kind's ``values`` as ``job.params``. Returns False when ``dedupe_key`` was queued before.
    """
    payload: dict[str, Any] = {"kind": kind, **params}
    if isinstance(to, (User, UserView)):
        payload["user_id"] = to.id
    else:
        payload["address"] = to
        if name:
            payload["name"] = name
    if request is not None:
        payload["request_id"] = request.id
    return enqueue(session, TOPIC, payload, dedupe_key, now=now) == 1


def kinds(found: Iterable[Iterable[MailKind]]) -> dict[str, MailKind]:
    """The kinds by key, from the core's and the plugins' lists; a key given twice is a configuration error."""
    by_key: dict[str, MailKind] = {}
    for group in found:
        for kind in group:
            if kind.key in by_key:
                raise ConfigurationError("Two mail kinds are called %(key)s.", key=kind.key)
            by_key[kind.key] = kind
    return by_key


def send(portal: Portal, outbox_row: OutboxMessage) -> bool:
    """The ``send_mail`` job: compose the mail from the database and hand it to the mailer.

    False when there is nothing to send any more (the recipient left or bounces, the link was used): the
    job is done, not failed.
    """
    with portal.database.reading() as session:
        message = compose(portal, session, outbox_row)
    kind = str(outbox_row.payload.get("kind"))
    if message is None:
        log.info("mail not sent: nothing to send any more", kind=kind)
        return False
    try:
        portal.mailer.send(message)
    except Exception as exc:
        count(MAILS_FAILED, kind=kind)
        log.warning("mail not accepted", kind=kind, message_id=str(message["Message-ID"]), error=repr(exc))
        raise
    count(MAILS_SENT, kind=kind)
    log.info("mail sent", kind=kind, message_id=str(message["Message-ID"]))
    _remember(portal, outbox_row, message)
    return True


def _remember(portal: Portal, outbox_row: OutboxMessage, message: EmailMessage) -> None:
    """Keep the text of a mail about a request by its Message-ID, once it is out.

    A repeat of the job (the worker died after sending) carries the same Message-ID and replaces the text.
    Mails about no request (password and invitation links) are not kept: their text holds one-time links.
    """
    request_id = outbox_row.payload.get("request_id")
    if request_id is None:
        return
    plain = message.get_body(("plain",))
    text = plain.get_content() if isinstance(plain, EmailMessage) else ""
    message_id, user_id = str(message["Message-ID"]), outbox_row.payload.get("user_id")
    with portal.database.writing() as session:
        row = session.exec(select(SentMail).where(SentMail.message_id == message_id)).first() or SentMail(
            message_id=message_id,
            request_id=int(request_id),
            user_id=user_id,
            kind=str(outbox_row.payload["kind"]),
            text=text,
            sent_at=portal.clock.now(),
        )
        row.text, row.sent_at = text, portal.clock.now()
        session.add(row)


def sent_texts(session: Session, request_id: int, limit: int = 20) -> list[str]:
    """The texts of the newest mails we sent about a request (what a reply to it may quote)."""
    return list(
        session.exec(
            select(SentMail.text)
            .where(SentMail.request_id == request_id)
            .order_by(col(SentMail.id).desc())
            .limit(limit)
        )
    )


def request_answered(session: Session, message_ids: list[str]) -> int | None:
    """The request of the newest of our mails among ``message_ids`` (already checked as ours), if any was kept."""
    if not message_ids:
        return None
    return session.exec(
        select(SentMail.request_id).where(col(SentMail.message_id).in_(message_ids)).order_by(col(SentMail.id).desc())
    ).first()


def compose(portal: Portal, session: Session, outbox_row: OutboxMessage) -> EmailMessage | None:
    payload = dict(outbox_row.payload)
    key = str(payload.pop("kind"))
    kind = portal.mail_kinds.get(key)
    if kind is None:
        raise ConfigurationError("No plugin provides the mail kind %(key)s.", key=key)
    recipient = _recipient(session, payload, outbox_row)
    if recipient is None:
        return None
    request: RequestView | None = None
    if "request_id" in payload:
        row = session.get(Request, int(payload.pop("request_id")))
        if row is None:
            return None
        request = RequestView.of(row)
    job = MailJob(portal, session, key, recipient, request, payload)
    parts = []
    for language in recipient.languages:
        with i18n.use_language(language):
            values = kind.values(job)
            if values is None:
                return None
            context = {
                "recipient": recipient.user or recipient,
                "language": language,
                "settings_url": job.url("/profile#notifications"),
                **values,
            }
            parts.append(_render(portal, key, context))
    message = EmailMessage()
    message["Subject"] = " / ".join(dict.fromkeys(subject for subject, _, _ in parts))
    message["From"] = portal.settings.mail_from
    message["To"] = formataddr((recipient.name, recipient.address))
    message["Date"] = format_datetime(portal.clock.now())
    message["Message-ID"] = message_id(portal, outbox_row.dedupe_key or f"mail:{outbox_row.id}", recipient.user_id)
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    if request is not None and recipient.user is not None:
        if kind.reply_by_mail:
            message["Reply-To"] = reply_tokens.address(
                portal.secret_key, portal.settings.reply_domain, request.id or 0, recipient.user_id
            )
        message["In-Reply-To"] = thread_id(portal, request.id or 0)
        message["References"] = thread_id(portal, request.id or 0)
        message["X-BBPortal-Request"] = request.number
    if len(parts) == 1:
        message.set_content(parts[0][1])
        message.add_alternative(parts[0][2], subtype="html")
    else:
        message.set_content("\n\n— In English —\n\n".join(text.strip() for _, text, _ in parts) + "\n")
        fragments = "<hr>".join(html.strip() for _, _, html in parts)
        message.add_alternative(
            f'<!doctype html><html><body style="font-family:Arial,Helvetica,sans-serif">{fragments}</body></html>',
            subtype="html",
        )
    return message


def _recipient(session: Session, payload: dict[str, Any], outbox_row: OutboxMessage) -> Recipient | None:
    if "user_id" in payload:
        user = session.get(User, int(payload.pop("user_id")))
        if user is None or not user.active or undeliverable(user, outbox_row):
            return None
        return Recipient(user.email, user.name, UserView.of(user), (user.language,))
    address = str(payload.pop("address", ""))
    if not address:
        raise ConfigurationError("A mail job names neither a user nor an address.")
    return Recipient(address, str(payload.pop("name", "")))


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


def _render(portal: Portal, kind: str, context: dict[str, Any]) -> tuple[str, str, str]:
    """Subject, text part and HTML part of one kind of mail, in the language in force."""
    environment = _environment(portal)
    return (
        environment.get_template(f"{kind}/subject.txt").render(context).strip(),
        environment.get_template(f"{kind}/body.txt").render(context),
        environment.get_template(f"{kind}/body.html").render(context),
    )


_ENVIRONMENTS: dict[tuple[tuple[str, str], ...], Environment] = {}


def first_name(name: str) -> str:
    """What a mail greets a person by: "Hej Anna," for Anna Kund. The first word of the name as stored (a
    double name such as Anna-Karin stays whole); a name of one word is that word."""
    words = name.split()
    return words[0] if words else ""


def _environment(portal: Portal) -> Environment:
    """One Jinja environment per set of kinds: each kind's folder under its key, and the core's layout."""
    folders = tuple(sorted((key, str(kind.templates)) for key, kind in portal.mail_kinds.items()))
    environment = _ENVIRONMENTS.get(folders)
    if environment is None:
        environment = Environment(
            loader=ChoiceLoader(
                [
                    PrefixLoader({key: FileSystemLoader(folder) for key, folder in folders}),
                    FileSystemLoader(str(CORE_TEMPLATES)),  # "_layout/body.html"
                ]
            ),
            auto_reload=False,  # the templates ship with the code; no file checks for every mail
            autoescape=select_autoescape(["html"]),
            extensions=["jinja2.ext.i18n"],
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
        )
        install_gettext(environment)
        environment.filters.update(local_datetime=local_datetime, local_date=local_date, first_name=first_name)
        _ENVIRONMENTS[folders] = environment
    return environment


def message_id(portal: Portal, key: str, user_id: int = 0) -> str:
    """Derived from the dedupe key (a retry carries the same id) and signed with the recipient (bounces);
    ``user_id`` 0 when the recipient is no portal user."""
    return reply_tokens.message_id(portal.secret_key, _domain(portal), key, user_id)


def thread_id(portal: Portal, request_id: int) -> str:
    """Every mail about a request refers to this one id, so mail programs keep them in one thread.

    It is signed (``reply_tokens.thread_signature``) so that the intake can trust it in a reply's
    In-Reply-To/References.
    """
    return f"<request.{request_id}.{reply_tokens.thread_signature(portal.secret_key, request_id)}@{_domain(portal)}>"


def _domain(portal: Portal) -> str:
    return parseaddr(portal.settings.mail_from)[1].rpartition("@")[2] or "bbgruppen.example"
