"""Signed names in our mail: reply addresses, thread ids and Message-IDs that only we can make.

A reply address carries a token naming the request and the recipient; it cannot be forged or moved to
another request or person without the secret key. The intake reads it back with :func:`parse`. Every
Message-ID we send names its recipient and is signed too, so that a delivery report quoting it proves
that the bounced mail was ours and for whom (:func:`recipients_in_message_ids`).

Names are made with the current secret key and read back with every accepted key (``keys``: the
installation's :class:`~core.platform.signing.SecretKeys`), so that the addresses and Message-IDs already
in customers' mailboxes keep working across a key rotation until the old key is dropped.
"""

from __future__ import annotations

import hashlib
import hmac
import re

from core.platform.signing import SigningKeys, accepted

SIGNATURE_LENGTH = 24
_TOKEN = re.compile(rf"^(\d+)-(\d+)-([0-9a-f]{{{SIGNATURE_LENGTH}}})$")


def _signature(secret_key: str, request_id: int, user_id: int) -> str:
    mac = hmac.new(secret_key.encode(), f"reply:{request_id}:{user_id}".encode(), hashlib.sha256)
    return mac.hexdigest()[:SIGNATURE_LENGTH]


def make(secret_key: str, request_id: int, user_id: int) -> str:
    return f"{request_id}-{user_id}-{_signature(secret_key, request_id, user_id)}"


def address(secret_key: str, domain: str, request_id: int, user_id: int) -> str:
    return f"svar+{make(secret_key, request_id, user_id)}@{domain}"


def thread_signature(secret_key: str, request_id: int) -> str:
    return hmac.new(secret_key.encode(), f"thread:{request_id}".encode(), hashlib.sha256).hexdigest()[:16]


_THREAD = re.compile(r"<request\.(\d+)\.([0-9a-f]{16})@[^>]+>")


def requests_in_references(keys: SigningKeys, header: str) -> list[int]:
    """Request ids named by our own, intact thread ids in In-Reply-To/References (newest last)."""
    found = []
    for request_id, signature in _THREAD.findall(header or ""):
        if any(hmac.compare_digest(signature, thread_signature(key, int(request_id))) for key in accepted(keys)):
            found.append(int(request_id))
    return found


def parse(keys: SigningKeys, token: str) -> tuple[int, int] | None:
    """(request id, user id) when the token is ours and intact, else None."""
    match = _TOKEN.match(token.strip().lower())
    if not match:
        return None
    request_id, user_id = int(match.group(1)), int(match.group(2))
    signature = match.group(3)
    if not any(hmac.compare_digest(signature, _signature(key, request_id, user_id)) for key in accepted(keys)):
        return None
    return request_id, user_id


MESSAGE_ID_SIGNATURE_LENGTH = 16
_MESSAGE_ID = re.compile(
    rf"<(([a-z0-9_][a-z0-9_.]*?)\.u(\d+)\.([0-9a-f]{{{MESSAGE_ID_SIGNATURE_LENGTH}}})@[^>\s]+)>", re.I
)


def _message_id_signature(secret_key: str, stem: str, user_id: int) -> str:
    mac = hmac.new(secret_key.encode(), f"message:{stem}:{user_id}".encode(), hashlib.sha256)
    return mac.hexdigest()[:MESSAGE_ID_SIGNATURE_LENGTH]


def message_id(secret_key: str, domain: str, key: str, user_id: int) -> str:
    """The Message-ID of our mail with dedupe ``key`` to user ``user_id``: the same on every retry, signed.

    ``key`` is the outbox row's dedupe key (``mail:12:3``, ``password:7``), written with dots. ``user_id`` 0
    stands for a recipient who is no portal user: the id is still recognisably ours, and marks nobody.
    """
    stem = key.replace(":", ".")
    return f"<{stem}.u{user_id}.{_message_id_signature(secret_key, stem, user_id)}@{domain}>"


def recipients_in_message_ids(keys: SigningKeys, header: str) -> list[int]:
    """The users our own, intact Message-IDs in ``header`` were sent to (in the order they appear)."""
    return [user_id for _id, user_id in _ours(keys, header)]


def our_message_ids(keys: SigningKeys, header: str) -> list[str]:
    """Our own, intact Message-IDs in ``header`` (``<…>``, in the order they appear): a reply names the mail
    it answers by one, so that every mail we sent ties its replies to its request, not only the thread id."""
    return [message_id for message_id, _user in _ours(keys, header)]


def _ours(keys: SigningKeys, header: str) -> list[tuple[str, int]]:
    found = []
    for whole, stem, user_id, signature in _MESSAGE_ID.findall(header or ""):
        if any(
            hmac.compare_digest(signature.lower(), _message_id_signature(key, stem.lower(), int(user_id)))
            for key in accepted(keys)
        ):
            found.append((f"<{whole}>", int(user_id)))
    return found
