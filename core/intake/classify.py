"""Mail that must never become a message or cause a mail back: auto-replies, bounces, bulk, loops, our own."""

from __future__ import annotations

from email.message import EmailMessage
from email.utils import parseaddr

from core.portal import Portal

MAILER_DAEMONS = ("mailer-daemon", "postmaster", "noreply", "no-reply", "donotreply")


def ignore_reason(message: EmailMessage, portal: Portal) -> str:
    """Why this mail is ignored, or empty when it may be a person's answer."""
    auto = str(message.get("Auto-Submitted", "no")).strip().lower()
    if auto and auto != "no":
        return "auto-submitted"
    for header in ("X-Autoreply", "X-Autorespond", "X-Auto-Response-Suppress-Reply"):
        if message.get(header):
            return "auto-reply"
    if str(message.get("X-BBPortal-Request", "")):
        return "our own mail came back"
    if message.get("X-Loop") or message.get("X-BBPortal-Loop"):
        return "mail loop"
    precedence = str(message.get("Precedence", "")).strip().lower()
    if precedence in ("bulk", "junk", "list", "auto_reply"):
        return f"precedence {precedence}"
    if message.get("List-Id") or message.get("List-Unsubscribe"):
        return "mailing list"
    if message.get_content_type() == "multipart/report" or message.get_content_type() == "message/delivery-status":
        return "delivery report"
    if str(message.get("Return-Path", "")).strip() == "<>":
        return "empty return path (bounce)"
    sender = parseaddr(str(message.get("From", "")))[1].lower()
    if sender.split("@")[0] in MAILER_DAEMONS:
        return "sent by a mail system"
    our_domain = parseaddr(portal.settings.mail_from)[1].rpartition("@")[2].lower()
    if sender == parseaddr(portal.settings.mail_from)[1].lower() or sender.endswith("@" + portal.settings.reply_domain):
        return "our own mail came back"
    message_id = str(message.get("Message-ID", ""))
    if our_domain and message_id.lower().endswith("@" + our_domain + ">") and "mail." in message_id:
        return "our own mail came back"
    subject = str(message.get("Subject", "")).lower()
    if subject.startswith(("autosvar", "automatic reply", "auto:", "out of office", "frånvaro", "abwesend")):
        return "auto-reply"
    return ""
