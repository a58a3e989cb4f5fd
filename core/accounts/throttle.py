"""Slowing down password guessing without handing anyone a way to lock an account's owner out.

A fixed lockout ("five wrong passwords lock the account for 15 minutes") lets anyone who knows an address
lock its owner out. Here nothing locks; failures earn a *wait* before the next try is even checked, and the
wait doubles with every failure past a free allowance (1 s, 2 s, 4 s … up to ``longest_wait``). Failures are
counted three ways, each with its own wait:

- per account **and** client address: the guesser at one address slows down on one account;
- per client address, over all accounts: one address spraying many accounts slows down;
- per account, over all addresses: a guesser with many addresses slows down too — but this wait does not
  apply to a browser the account's owner has logged in from before (it carries a signed *device cookie*
  for that account), so someone else's failures never stop the owner who has the right password on their
  own browser. On a new browser during such an attack the owner waits like everyone else, or uses
  "Forgot your password?".

Failures older than ``memory`` are forgotten, and a successful log-in clears the account's own counts (its
owner has shown they know the password). What a user sees and what is logged is in docs/operations.md.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import delete, func
from sqlmodel import Session, col, select

from core.models import LoginAttempt
from core.platform.clock import as_utc
from core.platform.errors import Throttled
from core.platform.signing import SecretKeys, SigningKeys, link_token

if TYPE_CHECKING:
    from core.platform.settings import Settings

log = logging.getLogger(__name__)
DEVICE_COOKIE = "bbp_device"
DEVICE_COOKIE_DAYS = 365


@dataclass(frozen=True)
class LoginPolicy:
    free_per_account: int
    """Failures on one account (from one address, or from all addresses) before waits begin."""
    free_per_address: int
    """Failures from one client address, over all accounts, before waits begin."""
    longest_wait: timedelta
    memory: timedelta = timedelta(hours=24)

    @classmethod
    def of(cls, settings: Settings) -> LoginPolicy:
        """The installation's policy (``BBPORTAL_LOGIN_ATTEMPTS_PER_*``, ``BBPORTAL_LOGIN_THROTTLE_MINUTES``)."""
        return cls(
            free_per_account=settings.login_attempts_per_account,
            free_per_address=settings.login_attempts_per_address,
            longest_wait=timedelta(minutes=settings.login_throttle_minutes),
        )


@dataclass(frozen=True)
class Keys:
    account: str
    address: str
    pair: str

    @classmethod
    def of(cls, email: str, client: str) -> Keys:
        account = email.strip().lower()[:200]
        address = client[:90]
        return cls(f"account:{account}", f"address:{address}", f"pair:{address}|{account}")


def wait_after(failures: int, free: int, longest: timedelta) -> timedelta:
    """How long after the last failure the next try waits: nothing within the allowance, then doubling."""
    if failures < free:
        return timedelta(0)
    return min(timedelta(seconds=2 ** min(failures - free, 30)), longest)


def check(session: Session, keys: Keys, *, now: datetime, policy: LoginPolicy, known_device: bool) -> None:
    """Raise ``Throttled`` (with the seconds left) while any of the key's waits has not passed."""
    rows = session.exec(
        select(LoginAttempt.key, func.count(), func.max(LoginAttempt.at))
        .where(col(LoginAttempt.key).in_([keys.account, keys.address, keys.pair]))
        .where(LoginAttempt.at >= now - policy.memory)
        .group_by(col(LoginAttempt.key))
    ).all()
    free = {keys.pair: policy.free_per_account, keys.address: policy.free_per_address}
    if not known_device:
        free[keys.account] = policy.free_per_account
    left = timedelta(0)
    for key, failures, last in rows:
        if key in free:
            until = as_utc(last) + wait_after(int(failures), free[key], policy.longest_wait)
            left = max(left, until - now)
    if left > timedelta(0):
        seconds = max(1, int(left.total_seconds() + 0.999))
        log.warning("log-in throttled for %ss (%s, known device: %s)", seconds, keys.pair, known_device)
        raise Throttled("Too many failed attempts. Wait %(seconds)s seconds and try again.", seconds=seconds)


def record_failure(session: Session, keys: Keys, *, now: datetime) -> None:
    session.add_all([LoginAttempt(key=key, at=now) for key in (keys.account, keys.address, keys.pair)])
    log.info("log-in failed (%s)", keys.pair)


def clear_account(session: Session, keys: Keys) -> None:
    """The owner logged in: their account's counts start again (the address's do not)."""
    session.execute(delete(LoginAttempt).where(col(LoginAttempt.key).in_([keys.account, keys.pair])))


def device_token(secret_key: str, user_id: int) -> str:
    """The device cookie's value for ``user_id``: a random nonce and a signature over it and the user."""
    nonce = secrets.token_urlsafe(12)
    return f"{nonce}.{link_token(secret_key, 'device', user_id, nonce)}"


def is_known_device(secret_key: SigningKeys, cookie: str | None, user_id: int | None) -> bool:
    """Whether ``cookie`` was given by :func:`device_token` to this user, under an accepted key (constant-time
    comparisons). A log-in gives the browser a new cookie signed with the current key."""
    if not cookie or user_id is None or cookie.count(".") != 2:
        return False
    nonce, _, token = cookie.partition(".")
    keys = SecretKeys(secret_key) if isinstance(secret_key, str) else secret_key
    return keys.matches(token, lambda key: link_token(key, "device", user_id, nonce))


def forget_old_attempts(session: Session, now: datetime, policy: LoginPolicy) -> int:
    """Housekeeping: delete failures older than the policy's memory (they no longer count); returns how many."""
    result = session.execute(delete(LoginAttempt).where(col(LoginAttempt.at) < now - policy.memory))
    return int(result.rowcount)  # type: ignore[attr-defined]
