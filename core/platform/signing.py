"""Signed tokens for one-time links, and the keyed digest under which a table finds them.

A link's token is derived from its row and the secret key, never stored: the table keeps only
:func:`digest` of it, and the mail job rebuilds the link from the row when it sends the mail. Every
one-time link of the portal and of its plugins (a password reset, an invitation, a service account's new
password) is made here, so there is one way to make them and one place to review it. A link is found by the
digest of the token presented, not by rebuilding it, so links already in mailboxes keep working when the way
tokens are made changes.
"""

from __future__ import annotations

import base64
import hashlib
import hmac


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
