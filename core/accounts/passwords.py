"""One-time links to set a password: "Glömt lösenord?" and invitations of new users.

The link's token is derived from its row and the secret key (``core.platform.signing``), so the database
holds only a digest and the mail job rebuilds the link from the row id: no usable token is ever stored. A
link dies on use and when it expires; using one ends every session of the user. A link issued before a key
rotation works until the old key is dropped from the fallbacks.
"""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, Any

from sqlmodel import Session, col, func, select

from core.accounts import auth
from core.accounts.administration import MIN_PASSWORD_LENGTH
from core.mail import MailJob, MailKind
from core.mail import service as mail
from core.mail.service import CORE_TEMPLATES
from core.models import PasswordToken, User
from core.platform import signing
from core.platform.clock import Clock
from core.platform.errors import ValidationFailed
from core.platform.i18n import gettext as _

if TYPE_CHECKING:
    from core.portal import Portal

RESET = "reset"
INVITE = "invite"
MAX_RESETS_PER_HOUR = 3


def token_for(secret_key: str, row: PasswordToken) -> str:
    return signing.link_token(secret_key, "password", row.id or 0, row.user_id, row.purpose)


def _issue(session: Session, portal: Portal, user: User, purpose: str) -> PasswordToken:
    now = portal.clock.now()
    hours = portal.settings.password_link_hours if purpose == RESET else portal.settings.invitation_link_hours
    row = PasswordToken(
        digest="pending", user_id=user.id or 0, purpose=purpose, created_at=now, expires_at=now + timedelta(hours=hours)
    )
    session.add(row)
    session.flush()
    row.digest = signing.digest(portal.secret_key, token_for(portal.secret_key, row))
    session.add(row)
    kind = "password_reset" if purpose == RESET else "invitation"
    mail.queue(session, kind, user, dedupe_key=f"password:{row.id}", now=now, token_id=row.id)
    return row


def link_values(job: MailJob) -> dict[str, Any] | None:
    """A password-reset or invitation mail: the link, rebuilt from its row (the token itself is never stored)."""
    row = job.session.get(PasswordToken, int(job.params["token_id"]))
    if row is None or row.used_at is not None:
        return None
    # The token it was issued with: one issued before a key rotation is stored under the old key's digest.
    token = job.portal.secret_keys.issued_token(row.digest, lambda key: token_for(key, row))
    if token is None:
        return None  # the key that issued it was dropped: the link opens nothing, so no mail
    return {
        "link": job.url(f"/password/{token}"),
        "hours": round((row.expires_at - row.created_at).total_seconds() / 3600),
        "login_url": job.url("/login"),
    }


MAIL_KINDS = [MailKind(kind, CORE_TEMPLATES / kind, link_values) for kind in ("password_reset", "invitation")]


def request_reset(portal: Portal, email: str) -> None:
    """Mail a reset link if the address belongs to an active user; the caller answers the same either way."""
    with portal.database.writing() as session:
        user = session.exec(select(User).where(User.email == auth.normalise_email(email))).first()
        if user is None or not user.active:
            return
        recent = session.exec(
            select(func.count())
            .select_from(PasswordToken)
            .where(
                PasswordToken.user_id == user.id,
                PasswordToken.purpose == RESET,
                col(PasswordToken.created_at) >= portal.clock.now() - timedelta(hours=1),
            )
        ).one()
        if recent >= MAX_RESETS_PER_HOUR:
            return
        _issue(session, portal, user, RESET)


def invite(session: Session, portal: Portal, user: User) -> PasswordToken:
    """Called in the transaction that creates the user: the invitation mail goes out after commit."""
    return _issue(session, portal, user, INVITE)


def valid_token(session: Session, portal: Portal, token: str, clock: Clock | None = None) -> PasswordToken | None:
    row = session.exec(
        select(PasswordToken).where(col(PasswordToken.digest).in_(portal.secret_keys.digests(token.strip())))
    ).first()
    now = (clock or portal.clock).now()
    if row is None or row.used_at is not None or row.expires_at <= now:
        return None
    return row


def set_password(portal: Portal, token: str, password: str, repeated: str) -> User | None:
    """Set the password through a link; None when the link is unknown, used or expired."""
    errors = new_password_errors(password, repeated)
    if errors:
        raise ValidationFailed(errors)
    with portal.database.writing() as session:
        row = valid_token(session, portal, token)
        if row is None:
            return None
        user = session.get(User, row.user_id)
        if user is None or not user.active:
            return None
        user.password_hash = auth.hash_password(password)
        row.used_at = portal.clock.now()
        session.add_all([user, row])
        auth.end_all_sessions(session, user.id or 0)
        # Any other unused link of this user dies with this one.
        for other in session.exec(
            select(PasswordToken).where(PasswordToken.user_id == user.id, col(PasswordToken.used_at).is_(None))
        ):
            other.used_at = row.used_at
            session.add(other)
        return user


def new_password_errors(
    new: str, repeated: str, *, fields: tuple[str, str] = ("password", "repeated")
) -> dict[str, list[str]]:
    """What is wrong with a new password and its repetition, by field (empty: nothing)."""
    if len(new) < MIN_PASSWORD_LENGTH:
        return {fields[0]: [_("Use at least %(min_length)s characters.", min_length=MIN_PASSWORD_LENGTH)]}
    if new != repeated:
        return {fields[1]: [_("The passwords are not the same.")]}
    return {}


def change_password(session: Session, user_id: int, new: str) -> None:
    """A logged-in user's new password (checked by the caller: the current one proven, ``new_password_errors``
    empty); every session of theirs ends, everywhere."""
    user = session.get(User, user_id)
    if user is None:
        return
    user.password_hash = auth.hash_password(new)
    session.add(user)
    auth.end_all_sessions(session, user_id)
