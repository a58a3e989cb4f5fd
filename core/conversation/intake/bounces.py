"""Hard bounces: a delivery report for one of our mails that failed for good marks the address undeliverable.

A report counts only when it proves the bounced mail was ours: the returned message (or its headers)
carries one of our signed Message-IDs, which names the user the mail was sent to. The reported recipient
(``Final-Recipient``, or ``Original-Recipient``) must then be that user's current address. A forged report
can therefore mark nobody but the person who received the quoted mail, and only at the address it went to.
A temporary failure (4.x.x, ``Action: delayed``) changes nothing: the sending MTA is still trying.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from email import message_from_string, policy
from email.message import EmailMessage, Message
from email.utils import parseaddr

from sqlmodel import Session, col, select

from core.mail import reply_tokens
from core.models import User
from core.platform.signing import SigningKeys

_STATUS = re.compile(r"^\s*([245])\.\d{1,3}\.\d{1,3}")


@dataclass(frozen=True)
class Failure:
    """One recipient block of a delivery report."""

    recipient: str
    """Lower-cased address from ``Final-Recipient`` (or ``Original-Recipient`` when that is missing)."""
    also: str
    """The other of the two, when the report names both (the address before any rewriting)."""
    action: str
    status: str
    diagnostic: str

    @property
    def permanent(self) -> bool:
        match = _STATUS.match(self.status)
        return bool(match and match.group(1) == "5") and self.action in ("failed", "")


@dataclass(frozen=True)
class HardBounce:
    user_id: int
    address: str
    reason: str


def _address(field: str) -> str:
    """``rfc822; Maja@Example.com`` → ``maja@example.com``."""
    kind, _, value = (field or "").partition(";")
    if not value:
        value = kind
    return parseaddr(value.strip())[1].strip().lower()


def _blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):
        return [block for block in payload if isinstance(block, Message)]
    # Some MTAs send the report fields as one encoded text: read its blocks ourselves.
    text = part.get_payload(decode=True)
    decoded = text.decode("utf-8", errors="replace") if isinstance(text, bytes) else str(payload)
    return [message_from_string(chunk.strip() + "\n", policy=policy.default) for chunk in re.split(r"\n\s*\n", decoded)]


def failures(message: EmailMessage) -> list[Failure]:
    """The recipient blocks of every ``message/delivery-status`` part of a report."""
    found: list[Failure] = []
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in _blocks(part)[1:]:  # the first block describes the report, the rest one recipient each
            final = _address(str(block.get("Final-Recipient", "")))
            original = _address(str(block.get("Original-Recipient", "")))
            if not (final or original):
                continue
            found.append(
                Failure(
                    recipient=final or original,
                    also=original if final and original != final else "",
                    action=str(block.get("Action", "")).strip().lower(),
                    status=str(block.get("Status", "")).strip(),
                    diagnostic=" ".join(str(block.get("Diagnostic-Code", "")).split()),
                )
            )
    return found


def returned_message_ids(message: EmailMessage) -> str:
    """Message-IDs of the returned mail (``message/rfc822`` or ``text/rfc822-headers`` part), space-separated."""
    ids: list[str] = []
    for part in message.walk():
        content_type = part.get_content_type()
        headers: Message | None = None
        if content_type in ("message/rfc822", "message/global"):
            inner = part.get_payload()
            headers = inner[0] if isinstance(inner, list) and inner and isinstance(inner[0], Message) else None
        elif content_type in ("text/rfc822-headers", "message/rfc822-headers", "message/global-headers"):
            raw = part.get_payload(decode=True)
            text = raw.decode("utf-8", errors="replace") if isinstance(raw, bytes) else str(part.get_payload())
            headers = message_from_string(text.split("\n\n", 1)[0] + "\n\n", policy=policy.default)
        if headers is not None:
            ids.append(str(headers.get("Message-ID", "")))
    return " ".join(ids)


@dataclass(frozen=True)
class Report:
    """What a delivery report says, read without the database."""

    permanent: list[Failure]
    our_recipients: frozenset[int]
    """Users named by our own, intact Message-IDs in the returned mail."""


def read_report(secret_key: SigningKeys, message: EmailMessage) -> Report | None:
    """The permanent failures of one of our mails, or None when the report is not about our mail or not final."""
    permanent = [f for f in failures(message) if f.permanent]
    if not permanent:
        return None
    users = frozenset(reply_tokens.recipients_in_message_ids(secret_key, returned_message_ids(message)))
    return Report(permanent, users) if users else None


def mark_undeliverable(session: Session, report: Report, now: datetime) -> list[HardBounce]:
    """Mark each reported address that is the current address of the user the bounced mail was for.

    Runs in the transaction that records the report, so a redelivered report finds both done. A later
    bounce keeps the first date and records the newest reason.
    """
    marked: list[HardBounce] = []
    for failure in report.permanent:
        addresses = [a for a in (failure.recipient, failure.also) if a]
        for user in session.exec(select(User).where(col(User.email).in_(addresses))):
            if user.id not in report.our_recipients:
                continue
            reason = f"{failure.status} {failure.diagnostic}".strip()[:300]
            user.mail_undeliverable_at = user.mail_undeliverable_at or now
            user.mail_undeliverable_reason = reason
            session.add(user)
            marked.append(HardBounce(user.id or 0, user.email, reason))
    return marked
