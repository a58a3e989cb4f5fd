"""The SMTP/LMTP listener for production: the MTA hands replies over the network instead of a pipe.

Each message goes through the same :func:`core.conversation.intake.receive` as ``bbportal mail receive``, once per
recipient, with the envelope written in front as an MDA would (``Return-Path``, ``Delivered-To``), so the
intake sees what the MTA saw. Answers: taken (attached, quarantined or ignored) → 250; refused for good
(too large, empty) → 552/554; anything else (the database is away, an error of ours) → 451, so the MTA keeps
the mail and tries again; the same bytes arriving again are taken once. Over LMTP every recipient gets its
own answer. Only our reply domain and our bounce address are accepted (550 at RCPT): this is no relay.
"""

from __future__ import annotations

import asyncio
import logging
from email.utils import parseaddr
from typing import TYPE_CHECKING, Any

from aiosmtpd.controller import Controller
from aiosmtpd.lmtp import LMTP
from aiosmtpd.smtp import SMTP, Envelope, Session

from core.conversation.intake import Empty, Refused, is_empty, receive

if TYPE_CHECKING:
    from core.portal import Portal

log = logging.getLogger(__name__)

LINE_LENGTH_LIMIT = 1024 * 1024
"""Longest line taken (RFC 5321 allows 1000): a broken client's 100 kB header line reaches the quarantine
instead of being refused with "line too long"."""


class IntakeHandler:
    """aiosmtpd handler: checks recipients, then runs the intake in a worker thread per recipient."""

    def __init__(self, portal: Portal, *, lmtp: bool) -> None:
        self.portal = portal
        self.lmtp = lmtp
        self.domain = "@" + portal.settings.reply_domain.strip().lower()
        self.bounce_address = parseaddr(portal.settings.mail_envelope_from)[1].strip().lower()

    def accepts(self, address: str) -> bool:
        address = address.strip().lower()
        return address.endswith(self.domain) or (bool(self.bounce_address) and address == self.bounce_address)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if not self.accepts(address):
            return f"550 5.7.1 <{address}>: relay access denied; this server takes mail for {self.domain[1:]} only"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        replies = [
            await asyncio.to_thread(self.deliver, content, envelope.mail_from or "", recipient)
            for recipient in envelope.rcpt_tos
        ]
        if self.lmtp:
            return "\r\n".join(replies)  # RFC 2033: one answer per recipient, in RCPT order
        return _one_answer(replies)

    def deliver(self, content: bytes, mail_from: str, recipient: str) -> str:
        """One recipient's copy through the intake; the SMTP answer for it."""
        if is_empty(content):  # judged before the envelope lines are written in front, which would fill it
            log.info("refused mail for %s: the mail is empty", recipient)
            return Empty.smtp_reply
        envelope = f"Return-Path: <{_clean(mail_from)}>\r\nDelivered-To: {_clean(recipient)}\r\n".encode()
        try:
            outcome = receive(self.portal, envelope + content)
        except Refused as exc:
            log.info("refused mail for %s: %s", recipient, exc.detail)
            return exc.smtp_reply
        except Exception:  # the database is away, a disk is full, a fault of ours: the MTA tries again later
            log.exception("could not take mail for %s now", recipient)
            return "451 4.3.0 The portal cannot take mail now; try again later"
        log.info(
            "mail for %s: %s (%s), inbound mail #%s", recipient, outcome.status, outcome.reason, outcome.inbound_mail_id
        )
        return f"250 2.0.0 Taken ({outcome.status}, #{outcome.inbound_mail_id})"


def _clean(address: str) -> str:
    """An envelope address as one safe header value (no line breaks smuggled in)."""
    return "".join(c for c in address if c.isprintable() and c not in "<>\r\n")[:320]


def _one_answer(replies: list[str]) -> str:
    """SMTP has one answer per message: try again if any copy must; refused if any was; else taken."""
    for prefix in ("4", "5"):
        for reply in replies:
            if reply.startswith(prefix):
                return reply
    return replies[0] if replies else "250 OK"


class _Smtp(SMTP):
    line_length_limit = LINE_LENGTH_LIMIT


class _Lmtp(LMTP):
    line_length_limit = LINE_LENGTH_LIMIT


class IntakeController(Controller):
    """A threaded aiosmtpd server speaking SMTP or LMTP with the intake handler and the size limit."""

    def __init__(self, portal: Portal, host: str, port: int, *, lmtp: bool = False, **kwargs: Any) -> None:
        self.lmtp = lmtp
        super().__init__(
            IntakeHandler(portal, lmtp=lmtp),
            hostname=host,
            port=port,
            server_hostname=portal.settings.reply_domain,
            data_size_limit=portal.settings.inbound_mail_max_bytes,
            enable_SMTPUTF8=True,
            **kwargs,
        )

    def factory(self) -> SMTP:
        server_class = _Lmtp if self.lmtp else _Smtp
        return server_class(self.handler, **self.SMTP_kwargs)
