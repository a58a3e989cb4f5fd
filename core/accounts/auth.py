"""Log-in, server-side sessions, API tokens and throttling of password guessing.

Sessions and API tokens are stored as keyed digests of their token (:func:`core.platform.signing.digest`).
Across a key rotation a token stored under an earlier key is still found (its digest under each fallback
key) and its row is then stored again under the current key (:func:`rekey`), so that a session or token in
use outlives the old key; one not used before the old key is dropped stops working.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import bindparam, delete, func, update
from sqlalchemy import select as sa_select
from sqlmodel import Session, col, select

from core.accounts import throttle
from core.accounts.throttle import LoginPolicy
from core.models import ApiToken, Organisation, User, WebSession
from core.platform.clock import Clock, as_utc
from core.platform.errors import Conflict
from core.platform.signing import SecretKeys, SigningKeys, digest

# argon2id with OWASP's recommended minimum (19 MiB, 2 passes): 64 MiB per log-in was most of the web
# process's memory peak. Hashes made with other parameters still verify and are upgraded on log-in.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verifying against this keeps an unknown address as slow as a wrong password (no user enumeration by timing).
# A fixed hash of a random string nobody knows, so that importing this module hashes nothing.
_DUMMY_HASH = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$YzIxMDM2ZWQ2ZWY0MjI3MWE0YzM4OGJkNDU1MTQ3ZGY"
TOKEN_PREFIX = "bbp_"
SESSION_TOUCH_INTERVAL = timedelta(hours=1)


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and password_hash is not None
    except (VerificationError, InvalidHashError):
        return False


def normalise_email(email: str) -> str:
    return email.strip().lower()


def authenticate(
    session: Session,
    email: str,
    password: str,
    client: str,
    *,
    clock: Clock,
    policy: LoginPolicy,
    device_cookie: str | None = None,
    secret_key: SigningKeys = "",
) -> User | None:
    """The user for these credentials, or None. Raises ``Throttled`` while a wait earned by failures runs.

    Failures are counted whether or not the account exists, so the answer never tells which addresses have
    accounts; the waits (see :mod:`core.accounts.throttle`) never lock the owner's own browser out.
    """
    now = clock.now()
    keys = throttle.Keys.of(email, client)
    user = session.exec(select(User).where(User.email == normalise_email(email))).first()
    known = throttle.is_known_device(secret_key, device_cookie, user.id if user is not None else None)
    throttle.check(session, keys, now=now, policy=policy, known_device=known)
    ok = verify_password(user.password_hash if user else None, password)
    if ok and user is not None and user.active:
        throttle.clear_account(session, keys)
        if user.password_hash and _hasher.check_needs_rehash(user.password_hash):
            user.password_hash = hash_password(password)
            session.add(user)
        return user
    throttle.record_failure(session, keys, now=now)
    return None


def start_session(session: Session, user: User, *, secret_key: str, clock: Clock, days: int) -> str:
    """A new session for ``user``; returns the cookie value (a fresh token on every log-in)."""
    token = secrets.token_urlsafe(32)
    now = clock.now()
    session.add(
        WebSession(
            token_digest=digest(secret_key, token),
            user_id=user.id,  # type: ignore[arg-type]
            created_at=now,
            last_seen_at=now,
            expires_at=now + timedelta(days=days),
        )
    )
    return token


@dataclass(frozen=True)
class Identity:
    """Who a session cookie or an API token belongs to, with their organisation (none for staff)."""

    user: User
    organisation: Organisation | None
    by_fallback_key: bool = False
    """The token was found under a fallback key's digest: :func:`rekey` it to the current key."""


def _find(session: Session, statement: Any, token: str, keys: SigningKeys) -> tuple[Any, bool]:
    """The row of ``token`` under the current key's digest, else under a fallback key's; and whether by a fallback.

    The current key first, in one query of the prebuilt statement: only a token from before a rotation
    costs more.
    """
    current = keys if isinstance(keys, str) else keys.current
    row = session.exec(statement, params={"digest": digest(current, token)}).first()
    if row is not None or isinstance(keys, str):
        return row, False
    for fallback in keys.fallback_digests(token):
        row = session.exec(statement, params={"digest": fallback}).first()
        if row is not None:
            return row, True
    return None, False


def rekey(session: Session, token: str, keys: SecretKeys) -> None:
    """Store the session or API token ``token`` (found under a fallback key) under the current key's digest."""
    old, new = keys.fallback_digests(token), digest(keys.current, token)
    session.execute(update(WebSession).where(col(WebSession.token_digest).in_(old)).values(token_digest=new))
    session.execute(update(ApiToken).where(col(ApiToken.digest).in_(old)).values(digest=new))


@lru_cache(maxsize=1)
def _session_lookup() -> Any:
    """Built once: every page resolves its session, and building the statement cost more than running it."""
    return (
        sa_select(col(WebSession.id), col(WebSession.expires_at), col(WebSession.last_seen_at), User, Organisation)
        .join(User, col(WebSession.user_id) == col(User.id))
        .outerjoin(Organisation, col(User.organisation_id) == col(Organisation.id))
        .where(col(WebSession.token_digest) == bindparam("digest"))
    )


@lru_cache(maxsize=1)
def _token_lookup() -> Any:
    return (
        sa_select(col(ApiToken.revoked_at), User, Organisation)
        .join(User, col(ApiToken.user_id) == col(User.id))
        .outerjoin(Organisation, col(User.organisation_id) == col(Organisation.id))
        .where(col(ApiToken.digest) == bindparam("digest"))
    )


def resolve_session(
    session: Session, token: str, *, secret_key: SigningKeys, clock: Clock
) -> tuple[Identity | None, int | None]:
    """The session's user and organisation (or None), and the session's id when its expiry should slide
    forward now.

    One query; the expiry slides at most once an hour, so reading pages rarely writes.
    """
    row, by_fallback = _find(session, _session_lookup(), token, secret_key)
    if row is None:
        return None, None
    session_id, expires_at, last_seen_at, user, organisation = row
    now = clock.now()
    if as_utc(expires_at) <= now or not user.active:
        return None, None
    stale = now - as_utc(last_seen_at) > SESSION_TOUCH_INTERVAL
    return Identity(user, organisation, by_fallback), session_id if stale else None


def extend_session(session: Session, session_id: int, *, days: int, clock: Clock) -> None:
    now = clock.now()
    session.execute(
        update(WebSession)
        .where(col(WebSession.id) == session_id)
        .values(last_seen_at=now, expires_at=now + timedelta(days=days))
    )


def end_session(session: Session, token: str, *, secret_key: SigningKeys) -> None:
    digests = [digest(secret_key, token)] if isinstance(secret_key, str) else secret_key.digests(token)
    session.execute(delete(WebSession).where(col(WebSession.token_digest).in_(digests)))


def remove_expired_sessions(session: Session, now: datetime) -> int:
    """Housekeeping: delete the sessions that have expired (they let no one in); returns how many."""
    result = session.execute(delete(WebSession).where(col(WebSession.expires_at) <= now))
    return int(result.rowcount)  # type: ignore[attr-defined]


def end_all_sessions(session: Session, user_id: int) -> None:
    """Deactivating a user or changing their password ends every session they have, everywhere."""
    session.execute(delete(WebSession).where(col(WebSession.user_id) == user_id))


MAX_API_TOKENS = 10
"""Active (unrevoked) API tokens one user may hold: enough for every script they run, not an endless supply."""


def create_api_token(session: Session, user: User, name: str, *, secret_key: str, clock: Clock) -> str:
    """Returns the token once; only its keyed digest is stored. Refused past :data:`MAX_API_TOKENS` active ones.

    Callers make tokens only for a person logged in with a session: a token never mints further tokens
    (they would survive revoking it)."""
    active = session.exec(
        select(func.count())
        .select_from(ApiToken)
        .where(ApiToken.user_id == user.id, col(ApiToken.revoked_at).is_(None))
    ).one()
    if int(active) >= MAX_API_TOKENS:
        raise Conflict(
            "You have %(count)s active API tokens, the most one person may have. Revoke one you no longer use first.",
            count=MAX_API_TOKENS,
        )
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(
        ApiToken(
            user_id=user.id,  # type: ignore[arg-type]
            name=name.strip()[:100] or "API",
            digest=digest(secret_key, token),
            prefix=token[:12],
            created_at=clock.now(),
        )
    )
    return token


def user_for_token(session: Session, token: str, *, secret_key: SigningKeys) -> User | None:
    found = identity_for_token(session, token, secret_key=secret_key)
    return found.user if found is not None else None


def identity_for_token(session: Session, token: str, *, secret_key: SigningKeys) -> Identity | None:
    """The token's owner (None when the token is unknown, revoked or its owner deactivated)."""
    row, by_fallback = _find(session, _token_lookup(), token, secret_key)
    if row is None:
        return None
    revoked_at, user, organisation = row
    if revoked_at is not None or not user.active:
        return None
    return Identity(user, organisation, by_fallback)


def revoke_all_tokens(session: Session, user_id: int, *, clock: Clock) -> None:
    for api_token in session.exec(
        select(ApiToken).where(ApiToken.user_id == user_id, col(ApiToken.revoked_at).is_(None))
    ):
        api_token.revoked_at = clock.now()
        session.add(api_token)


def csrf_token(secret_key: str, session_token: str) -> str:
    """Bound to the session cookie: a page from another site cannot know it (no extra state needed)."""
    return hmac.new(secret_key.encode(), b"csrf:" + session_token.encode(), hashlib.sha256).hexdigest()


def csrf_matches(keys: SigningKeys, session_token: str, provided: str) -> bool:
    """Whether ``provided`` is the CSRF token of ``session_token`` under an accepted key (a form rendered before
    a rotation still posts)."""
    if isinstance(keys, str):
        keys = SecretKeys(keys)
    return keys.matches(provided, lambda key: csrf_token(key, session_token))
