"""One-time links to a new service password: issued on *Utför*, mailed to the account's address, used once.

The token is never stored. It is the core's signed link token (``core.link_token``) of the row's id and a
random salt, so the mail job can rebuild it from the row while the table alone yields nothing; the table
keeps a keyed digest of it for the lookup (under any accepted key: a link mailed before a key rotation works
until the old key is dropped). The mail is one of the mail service's kinds (``MAIL_KIND``): it
goes to the address the system has for the account, in Swedish and then in English, since no language
preference is known for it. Opening the link only shows a button (mail scanners
fetch links); the POST claims the row with a conditional update, so two clicks cannot both set a password.
The new password is made here, handed to the adapter and shown once: it is never written anywhere.
"""

from __future__ import annotations

import secrets
import string
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import update
from sqlmodel import Field, Session, SQLModel, col, select

from core.api import (
    AccessControlRefused,
    AccessControlUnavailable,
    MailJob,
    MailKind,
    find_organisation,
    find_request,
    find_system,
    link_token,
    queue_mail,
    token_digest,
    utc_column,
)

if TYPE_CHECKING:
    from core.api import Portal

LINK_HOURS = 24
MAIL_KIND_KEY = "password_reset.link"
LINK_PATH = "/password-reset/{token}"
PASSWORD_LENGTH = 20
PASSWORD_ALPHABET = "".join(c for c in string.ascii_letters + string.digits if c not in "0O1lI")
"""No characters that look alike on paper or in a small font."""


class ServicePasswordLink(SQLModel, table=True):
    """A mailed link to set a new password for one service account; only a digest of its token is kept."""

    __tablename__ = "password_reset_link"

    id: int | None = Field(default=None, primary_key=True)
    digest: str = Field(max_length=64, unique=True)
    salt: str = Field(max_length=64)
    request_id: int = Field(foreign_key="request.id", index=True)
    system_id: int = Field(foreign_key="system.id")
    service: str = Field(max_length=80)
    username: str = Field(max_length=120)
    email: str = Field(max_length=254)
    """The address the hosted system has for the account when the link was issued: where the link went."""
    created_at: datetime = utc_column()
    expires_at: datetime = utc_column()
    used_at: datetime | None = utc_column(nullable=True)


def token_for(secret_key: str, link: ServicePasswordLink) -> str:
    return link_token(secret_key, "password_reset", link.id or 0, link.salt)


def mask_address(address: str) -> str:
    """``anna@brf-solglantan.example`` → ``a…@brf-solglantan.example``: enough to recognise, not to harvest."""
    local, _, domain = address.partition("@")
    return f"{local[:1]}…@{domain}" if domain else "…"


def generate_password() -> str:
    """A strong password a person can type: letters of both cases and digits, about 115 bits."""
    while True:
        password = "".join(secrets.choice(PASSWORD_ALPHABET) for _ in range(PASSWORD_LENGTH))
        if (
            any(c.islower() for c in password)
            and any(c.isupper() for c in password)
            and any(c.isdigit() for c in password)
        ):
            return password


def link_of_request(session: Session, request_id: int) -> ServicePasswordLink | None:
    return session.exec(
        select(ServicePasswordLink)
        .where(ServicePasswordLink.request_id == request_id)
        .order_by(col(ServicePasswordLink.id).desc())
    ).first()


def issue(
    session: Session, portal: Portal, *, request_id: int, system_id: int, service: str, username: str, email: str
) -> ServicePasswordLink:
    """The link row and its mail job, in the caller's transaction: the mail goes out after the commit."""
    now = portal.clock.now()
    link = ServicePasswordLink(
        digest="pending",
        salt=secrets.token_hex(16),
        request_id=request_id,
        system_id=system_id,
        service=service,
        username=username,
        email=email,
        created_at=now,
        expires_at=now + timedelta(hours=LINK_HOURS),
    )
    session.add(link)
    session.flush()
    link.digest = token_digest(portal.secret_key, token_for(portal.secret_key, link))
    session.add(link)
    queue_mail(session, MAIL_KIND_KEY, email, dedupe_key=f"{MAIL_KIND_KEY}:{link.id}", now=now, link_id=link.id)
    return link


def find(session: Session, portal: Portal, token: str) -> ServicePasswordLink | None:
    """The link a token belongs to, if it is still usable (known, unused, not expired)."""
    link = session.exec(
        select(ServicePasswordLink).where(
            col(ServicePasswordLink.digest).in_(portal.secret_keys.digests(token.strip()))
        )
    ).first()
    if link is None or link.used_at is not None or link.expires_at <= portal.clock.now():
        return None
    return link


class Outcome(StrEnum):
    SET = "set"
    INVALID = "invalid"
    """Unknown, used or expired: the same answer for all three, so a guess learns nothing."""
    UNAVAILABLE = "unavailable"
    """The system did not answer: the link stays usable."""
    REFUSED = "refused"
    """The system refused (the account is gone): the link is spent."""


@dataclass(frozen=True)
class Result:
    outcome: Outcome
    password: str = ""
    service: str = ""
    username: str = ""


def use(portal: Portal, token: str) -> Result:
    """Claim the link, have the system set a new password, and return it for the page to show once."""
    now = portal.clock.now()
    with portal.database.writing() as session:
        link = find(session, portal, token)
        if link is None:
            return Result(Outcome.INVALID)
        claimed = session.execute(
            update(ServicePasswordLink)
            .where(col(ServicePasswordLink.id) == link.id, col(ServicePasswordLink.used_at).is_(None))
            .values(used_at=now)
        )
        if claimed.rowcount != 1:  # type: ignore[attr-defined]
            return Result(Outcome.INVALID)
        system = find_system(session, link.system_id)
    if system is None:
        return Result(Outcome.REFUSED, service=link.service, username=link.username)
    password = generate_password()
    try:
        portal.access_control(system).reset_service_password(link.service, link.username, password)
    except AccessControlRefused:
        return Result(Outcome.REFUSED, service=link.service, username=link.username)
    except AccessControlUnavailable:
        _release(portal, link.id or 0)  # nothing changed in the system: the link may be used again
        return Result(Outcome.UNAVAILABLE, service=link.service, username=link.username)
    except BaseException:
        _release(portal, link.id or 0)  # an adapter bug must not burn the recipient's only link
        raise
    return Result(Outcome.SET, password=password, service=link.service, username=link.username)


def _release(portal: Portal, link_id: int) -> None:
    with portal.database.writing() as session:
        session.execute(update(ServicePasswordLink).where(col(ServicePasswordLink.id) == link_id).values(used_at=None))


def link_values(job: MailJob) -> dict[str, Any] | None:
    """The mail's values, when it is sent: a link already used or expired is not sent (nothing to do)."""
    link = job.session.get(ServicePasswordLink, int(job.params["link_id"]))
    if link is None or link.used_at is not None or link.expires_at <= job.portal.clock.now():
        return None
    system = find_system(job.session, link.system_id)
    request = find_request(job.session, link.request_id)
    organisation = find_organisation(job.session, request.organisation_id) if request is not None else None
    # The token it was issued with: a link issued before a key rotation is stored under the old key's digest.
    token = job.portal.secret_keys.issued_token(link.digest, lambda key: token_for(key, link))
    if system is None or organisation is None or token is None:
        return None
    return {
        "service": link.service,
        "username": link.username,
        "system": system.name,
        "organisation": organisation.name,
        "link": job.url(LINK_PATH.format(token=token)),
        "hours": LINK_HOURS,
    }


MAIL_KIND = MailKind(MAIL_KIND_KEY, Path(__file__).parent / "mail", link_values, reply_by_mail=False)
