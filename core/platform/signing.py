"""Signed tokens for one-time links, and the keyed digest under which a table finds them.

A link's token is derived from its row and the secret key, never stored: the table keeps only
:func:`digest` of it, and the mail job rebuilds the link from the row when it sends the mail. Every
one-time link of the portal and of its plugins (a password reset, an invitation, a service account's new
password) is made here, so there is one way to make them and one place to review it. A link is found by the
digest of the token presented, not by rebuilding it, so links already in mailboxes keep working when the way
tokens are made changes.

SigningKeys rotate (:class:`SecretKeys`): everything new is signed with the current key, and what an earlier key
signed (a session, an API token, a reply address in a customer's mailbox, a link, a CSRF token, a device
cookie) is still accepted while that key is listed among the fallbacks, and stops working when it is dropped.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable
from dataclasses import dataclass


@dataclass(frozen=True)
class SecretKeys:
    """The current secret key, which signs everything new, and the earlier keys still accepted on reading."""

    current: str
    fallbacks: tuple[str, ...] = ()

    @property
    def accepted(self) -> tuple[str, ...]:
        """Every key a signature may have been made with, the current one first."""
        return (self.current, *self.fallbacks)

    def digests(self, token: str) -> list[str]:
        """:func:`digest` of ``token`` under each accepted key, the current one first: a row stored under any of
        them is found with ``col(Table.digest).in_(keys.digests(token))``."""
        return [digest(key, token) for key in self.accepted]

    def fallback_digests(self, token: str) -> list[str]:
        """:func:`digest` of ``token`` under the fallback keys only (the current one was tried already)."""
        return [digest(key, token) for key in self.fallbacks]

    def matches(self, presented: str, expected: Callable[[str], str]) -> bool:
        """Whether ``presented`` is ``expected(key)`` for an accepted key (constant-time per comparison)."""
        return any(hmac.compare_digest(presented.encode(), expected(key).encode()) for key in self.accepted)

    def issued_token(self, stored_digest: str, token_for: Callable[[str], str]) -> str | None:
        """The token of a one-time link as it was issued, rebuilt from its row for a mail sent later.

        A link issued before a rotation is stored under the old key's digest: its mail (a retry, or one sent
        just after the rotation) must carry the token of that key, or it would open nothing. None when the
        key that issued it is no longer accepted (the link is dead; no mail).
        """
        for key in self.accepted:
            token = token_for(key)
            if hmac.compare_digest(digest(key, token), stored_digest):
                return token
        return None


SigningKeys = SecretKeys | str
"""What the reading side takes: the installation's keys, or one key (a test, a tool that knows only one)."""


def accepted(keys: SigningKeys) -> tuple[str, ...]:
    """Every key a signature may have been made with, the current one first."""
    return (keys,) if isinstance(keys, str) else keys.accepted


def digest(secret_key: str, token: str) -> str:
    """Keyed digest of a token (a link's, a session's, an API token): a stolen table alone lets no one in."""
    return hmac.new(secret_key.encode(), token.encode(), hashlib.sha256).hexdigest()


def link_token(secret_key: str, purpose: str, row_id: int, *parts: object) -> str:
    """``<row id>.<signature>``: the token of a one-time link to row ``row_id``, its HMAC whole (256 bits,
    URL-safe base64).

    ``purpose`` keeps tokens of different tables apart (a reset link's row 7 is not a service link's row
    7); ``parts`` are what else the token stands for (the user, a per-row random salt), so that a token
    stops matching when one of them changes.
    """
    message = ":".join([purpose, str(row_id), *(str(part) for part in parts)])
    mac = hmac.new(secret_key.encode(), message.encode(), hashlib.sha256).digest()
    return f"{row_id}.{base64.urlsafe_b64encode(mac).decode().rstrip('=')}"
