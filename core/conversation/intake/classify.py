"""Mail that must never become a message or cause a mail back: auto-replies, bounces, bulk, loops, our own."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import parseaddr

from core.conversation.intake.parse import header
from core.mail import reply_tokens
from core.platform.settings import Settings

MAILER_DAEMONS = ("mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply", "do-not-reply")
AUTO_REPLY_SUBJECTS = (
    "autosvar",
    "automatiskt svar",
    "automatic reply",
    "auto reply",
    "autoreply",
    "auto:",
    "out of office",
    "out of the office",
    "frånvaro",
    "frånvaromeddelande",
    "abwesend",
    "abwesenheitsnotiz",
    "undeliverable:",
    "ej levererbart:",
    "returned mail",
    "delivery status notification",
    "undelivered mail returned to sender",
)
DELIVERY_REPORTS = ("multipart/report", "message/delivery-status")


def is_delivery_report(message: EmailMessage) -> bool:
    return message.get_content_type() in DELIVERY_REPORTS


def ignore_reason(message: EmailMessage, settings: Settings, secret_key: str) -> str:
    """Why this mail is ignored, or empty when it may be a person's answer."""
    auto = header(message, "Auto-Submitted").lower()
    if auto and auto != "no":
        return "auto-submitted"
    for name in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress-Reply"):
        if header(message, name):
            return "auto-reply"
    if header(message, "X-BBPortal-Request"):
        return "our own mail came back"
    if header(message, "X-Loop") or header(message, "X-BBPortal-Loop"):
        return "mail loop"
    precedence = header(message, "Precedence").lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"precedence {precedence}"
    if header(message, "List-Id") or header(message, "List-Unsubscribe"):
        return "mailing list"
    if is_delivery_report(message):
        return "delivery report"
    if header(message, "Return-Path").strip() == "<>":
        return "empty return path (bounce)"
    sender = parseaddr(header(message, "From"))[1].lower()
    if sender.split("@")[0] in MAILER_DAEMONS:
        return "sent by a mail system"
    our_address = parseaddr(settings.mail_from)[1].lower()
    if sender in (our_address, parseaddr(settings.mail_envelope_from)[1].lower()) or sender.endswith(
        "@" + settings.reply_domain.lower()
    ):
        return "our own mail came back"
    if reply_tokens.recipients_in_message_ids(secret_key, header(message, "Message-ID")):
        return "our own mail came back"
    subject = header(message, "Subject").lower()
    if subject.startswith(AUTO_REPLY_SUBJECTS):
        return "auto-reply"
    return ""
