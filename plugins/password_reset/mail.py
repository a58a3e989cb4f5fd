"""The mail that carries a one-time link to the account's own address, in Swedish and then in English.

The recipient is whoever the hosted system has on file for the account, often not a portal user, so no
language preference is known: the mail says it in both. It is sent by an outbox job (retried, never lost)
that rebuilds the link from its row; its Message-ID comes from the job's dedupe key, so a repeat after a
crash is recognisably the same mail.
"""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import format_datetime
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jinja2 import Environment, FileSystemLoader, select_autoescape

from core.conversation.notifications import message_id
from core.models import Organisation, Request, System
from core.platform import i18n
from core.platform.outbox import OutboxMessage
from plugins.password_reset.links import LINK_HOURS, ServicePasswordLink, token_for

if TYPE_CHECKING:
    from core.portal import Portal

TEMPLATES = Path(__file__).parent / "mail"
LINK_PATH = "/password-reset/{token}"
MAIL_LANGUAGES = ("sv", "en")


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(
        loader=FileSystemLoader(str(TEMPLATES)),
        autoescape=select_autoescape(["html"]),
        extensions=["jinja2.ext.i18n"],
        keep_trailing_newline=True,
    )
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda message: i18n.gettext(message), lambda s, p, n: i18n.ngettext(s, p, n), newstyle=True
    )
    return env


def link_url(portal: Portal, link: ServicePasswordLink) -> str:
    return portal.settings.base_url.rstrip("/") + LINK_PATH.format(token=token_for(portal.secret_key, link))


def compose(portal: Portal, link: ServicePasswordLink, system: System, organisation: Organisation) -> EmailMessage:
    context: dict[str, Any] = {
        "service": link.service,
        "username": link.username,
        "system": system.name,
        "organisation": organisation.name,
        "link": link_url(portal, link),
        "hours": LINK_HOURS,
    }
    subjects, texts, htmls = [], [], []
    for language in MAIL_LANGUAGES:
        with i18n.use_language(language):
            values = {**context, "language": language}
            subjects.append(environment().get_template("subject.txt").render(values).strip())
            texts.append(environment().get_template("body.txt").render(values).strip())
            htmls.append(environment().get_template("body.html").render(values).strip())
    message = EmailMessage()
    message["Subject"] = " / ".join(dict.fromkeys(subjects))
    message["From"] = portal.settings.mail_from
    message["To"] = link.email
    message["Date"] = format_datetime(portal.clock.now())
    message["Message-ID"] = message_id(portal, f"password_reset.link.{link.id}")
    message["Auto-Submitted"] = "auto-generated"
    message["X-Auto-Response-Suppress"] = "All"
    message.set_content("\n\n— In English —\n\n".join(texts) + "\n")
    message.add_alternative(
        '<!doctype html><html><body style="font-family: sans-serif">' + "<hr>".join(htmls) + "</body></html>",
        subtype="html",
    )
    return message


def send_link(portal: Portal, outbox_row: OutboxMessage) -> None:
    """Outbox handler: mail a link that is still usable; a used or expired one is not sent (nothing to do)."""
    with portal.database.reading() as session:
        link = session.get(ServicePasswordLink, int(outbox_row.payload["link_id"]))
        if link is None or link.used_at is not None or link.expires_at <= portal.clock.now():
            return
        system = session.get(System, link.system_id)
        request = session.get(Request, link.request_id)
        organisation = session.get(Organisation, request.organisation_id) if request is not None else None
    if system is None or organisation is None:
        return
    portal.mailer.send(compose(portal, link, system, organisation))
