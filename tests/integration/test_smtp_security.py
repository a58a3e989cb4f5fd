"""SMTP as production uses it: STARTTLS and implicit TLS, with a login, against a real aiosmtpd server."""

from __future__ import annotations

import datetime as dt
import ssl
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from core.platform.mailer import SmtpMailer
from tests.integration.test_notifications import Inbox, free_port


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost")]), critical=False)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return cert_path, key_path


def authenticator(server: Any, session: Any, envelope: Any, mechanism: str, data: Any) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (b"portal", b"s3cret")
    return AuthResult(success=ok)


@pytest.fixture
def trust(certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    """The mailer verifies certificates as in production; here it trusts the test's own CA."""
    real = ssl.create_default_context

    def trusting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        context = real(*args, **kwargs)
        context.load_verify_locations(str(certificate[0]))
        return context

    monkeypatch.setattr(ssl, "create_default_context", trusting)


def server_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(certificate[0]), str(certificate[1]))
    return context


def message() -> EmailMessage:
    mail = EmailMessage()
    mail["From"], mail["To"], mail["Subject"] = "portal@bbgruppen.example", "maja@testet.example", "Hej"
    mail["Message-ID"] = "<tls-test@bbgruppen.example>"
    mail.set_content("Hej")
    return mail


@pytest.fixture
def starttls_server(certificate: tuple[Path, Path]) -> Iterator[tuple[Inbox, int]]:
    inbox, port = Inbox(), free_port()
    controller = Controller(
        inbox,
        hostname="localhost",
        port=port,
        tls_context=server_context(certificate),
        require_starttls=True,
        authenticator=authenticator,
        auth_required=True,
    )
    controller.start()
    yield inbox, port
    controller.stop()


def test_starttls_with_login(starttls_server: tuple[Inbox, int], trust: None) -> None:
    inbox, port = starttls_server
    SmtpMailer("localhost", port, "starttls", "portal", "s3cret", "bounces@bbgruppen.example").send(message())
    assert [rcpt for _f, rcpt, _m in inbox.messages] == [["maja@testet.example"]]


def test_a_wrong_password_is_an_error_the_job_retries(starttls_server: tuple[Inbox, int], trust: None) -> None:
    import smtplib

    _inbox, port = starttls_server
    with pytest.raises(smtplib.SMTPException):  # refused (or hung up on): the send job fails and is retried
        SmtpMailer("localhost", port, "starttls", "portal", "wrong", "bounces@bbgruppen.example", timeout=5).send(
            message()
        )
    assert _inbox.messages == []


def test_an_untrusted_certificate_is_refused(starttls_server: tuple[Inbox, int]) -> None:
    _inbox, port = starttls_server
    with pytest.raises(ssl.SSLError):
        SmtpMailer("localhost", port, "starttls", "portal", "s3cret", "bounces@bbgruppen.example").send(message())


def test_implicit_tls(certificate: tuple[Path, Path], trust: None) -> None:
    inbox, port = Inbox(), free_port()
    controller = Controller(
        inbox,
        hostname="localhost",
        port=port,
        ssl_context=server_context(certificate),
        authenticator=authenticator,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    try:
        SmtpMailer("localhost", port, "tls", "portal", "s3cret", "bounces@bbgruppen.example").send(message())
    finally:
        controller.stop()
    assert len(inbox.messages) == 1


def test_the_tls_context_is_built_once_per_mailer_and_never_for_plain_smtp(
    starttls_server: tuple[Inbox, int], trust: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Loading the CA bundle is the costly part of a TLS context: a worker sending thousands of mails makes it once."""
    inbox, port = starttls_server
    built: list[ssl.SSLContext] = []
    trusting = ssl.create_default_context

    def counting(*args: Any, **kwargs: Any) -> ssl.SSLContext:
        built.append(trusting(*args, **kwargs))
        return built[-1]

    monkeypatch.setattr(ssl, "create_default_context", counting)
    mailer = SmtpMailer("localhost", port, "starttls", "portal", "s3cret", "bounces@bbgruppen.example")
    for _ in range(3):
        mailer.send(message())
    assert len(inbox.messages) == 3 and len(built) == 1

    plain_inbox, plain_port = Inbox(), free_port()
    controller = Controller(plain_inbox, hostname="localhost", port=plain_port)
    controller.start()
    try:
        SmtpMailer("localhost", plain_port, "none", "", "", "bounces@bbgruppen.example").send(message())
    finally:
        controller.stop()
    assert len(plain_inbox.messages) == 1 and len(built) == 1
