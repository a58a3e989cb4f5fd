"""Sending mail: SMTP in production, ``.eml`` files in the data folder in embedded mode."""

from __future__ import annotations

import os
import smtplib
import ssl
from email.message import EmailMessage
from email.utils import parseaddr
from pathlib import Path
from typing import Protocol

from core.platform.settings import Settings


class Mailer(Protocol):
    def send(self, message: EmailMessage) -> None:
        """Hand one message over for delivery; raise when it was not accepted (the job retries)."""
        ...


class SmtpMailer:
    def __init__(
        self, host: str, port: int, security: str, username: str, password: str, envelope_from: str, timeout: float = 30
    ) -> None:
        self.host, self.port, self.security = host, port, security
        self.username, self.password = username, password
        self.envelope_from = envelope_from
        self.timeout = timeout
        self._context: ssl.SSLContext | None = None

    @property
    def context(self) -> ssl.SSLContext:
        """The TLS context, made once per mailer: loading the system's CA bundle costs tens of milliseconds of CPU,
        which, made per mail, was a third of a worker's whole CPU (bench/topology.py with py-spy). An
        ``SSLContext`` may be shared between threads; two threads racing here both build a valid one."""
        if self._context is None:
            self._context = ssl.create_default_context()
        return self._context

    def send(self, message: EmailMessage) -> None:
        smtp: smtplib.SMTP
        if self.security == "tls":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self.context)
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.security == "starttls":
                smtp.starttls(context=self.context)
            if self.username:
                smtp.login(self.username, self.password)
            smtp.send_message(message, from_addr=self.envelope_from)


class FolderMailer:
    """Embedded mode: each mail becomes ``<data_dir>/mail/<Message-ID>.eml`` (a re-send overwrites it)."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder

    def send(self, message: EmailMessage) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        name = safe_name(str(message["Message-ID"]))
        target = self.folder / f"{name}.eml"
        temporary = target.with_suffix(".tmp")
        temporary.write_bytes(message.as_bytes())
        os.replace(temporary, target)  # readers never see half a file


def safe_name(message_id: str) -> str:
    return "".join(c if c.isalnum() or c in "-._" else "_" for c in message_id.strip("<>"))[:150]


def build_mailer(settings: Settings) -> Mailer:
    if settings.smtp_host:
        return SmtpMailer(
            settings.smtp_host,
            settings.smtp_port,
            settings.smtp_security,
            settings.smtp_username,
            settings.smtp_password,
            parseaddr(settings.mail_envelope_from)[1],
        )
    return FolderMailer(settings.data_dir / "mail")
