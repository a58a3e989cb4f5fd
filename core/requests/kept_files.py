"""Files chosen on a form, kept across a validation error: a signed token of the staged files rides in the page.

A browser does not send chosen files again after an error, so the form's files are staged once (checked and
stored, :func:`core.requests.attachments.stage`) and the re-rendered form carries a token naming them. The
token is signed with the portal's secret and bound to the user and their session: a token made for someone
else, or edited, names no files. A staged key already recorded on a request is never attached again (a token
replayed after filing). Staged files that are never filed stay under ``uploads/<day>/`` (the day they were
staged, :func:`core.requests.attachments.new_upload_key`), where housekeeping finds them by age.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlmodel import Session, col, select

from core.models import Attachment
from core.requests.attachments import UPLOAD_PREFIX, StagedFile

PURPOSE = "kept-files"
TOKEN = "kept_files"
"""The form field that carries the token."""
REMOVE = "remove_kept"
"""The form field of the boxes that remove kept files (each sends :attr:`KeptFile.ref`)."""
MAX_AGE_SECONDS = 24 * 3600
"""A form left open longer than a day asks for its files again (housekeeping may have removed them)."""


@dataclass(frozen=True)
class KeptFile:
    """One staged file of a form field, as the form shows it ("Kept: plan.pdf") and can remove it."""

    field: str
    staged: StagedFile

    @property
    def filename(self) -> str:
        return self.staged.filename

    @property
    def size(self) -> int:
        return self.staged.size

    @property
    def ref(self) -> str:
        """What the form's "remove" box sends: stands for this file within the token, reveals nothing else."""
        return hashlib.sha256(self.staged.storage_key.encode()).hexdigest()[:16]


def _binding(user_id: int, session_token: str | None) -> str:
    """The user and their session, hashed: a token is worth nothing in another session or to another user."""
    return hashlib.sha256(f"{user_id}:{session_token or ''}".encode()).hexdigest()


def _sign(secret_key: str, body: str) -> str:
    mac = hmac.new(secret_key.encode(), f"{PURPOSE}:{body}".encode(), hashlib.sha256).digest()
    return base64.urlsafe_b64encode(mac).decode().rstrip("=")


def issue(secret_key: str, *, user_id: int, session_token: str | None, files: Iterable[KeptFile], now: datetime) -> str:
    """The token of ``files`` (empty when there are none)."""
    listed = [
        [f.field, f.staged.storage_key, f.staged.filename, f.staged.content_type, f.staged.size, f.staged.sha256]
        for f in files
    ]
    if not listed:
        return ""
    payload = {"b": _binding(user_id, session_token), "t": int(now.timestamp()), "f": listed}
    body = base64.urlsafe_b64encode(json.dumps(payload, separators=(",", ":")).encode()).decode().rstrip("=")
    return f"{body}.{_sign(secret_key, body)}"


def redeem(secret_key: str, token: str, *, user_id: int, session_token: str | None, now: datetime) -> list[KeptFile]:
    """The files a token names, if it is genuine, this user's and session's, and not too old; else none."""
    body, _sep, signature = (token or "").partition(".")
    if not body or not signature or not hmac.compare_digest(signature, _sign(secret_key, body)):
        return []
    try:
        payload = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        if payload["b"] != _binding(user_id, session_token):
            return []
        if not 0 <= now.timestamp() - int(payload["t"]) <= MAX_AGE_SECONDS:
            return []
        kept = [
            KeptFile(str(field), StagedFile(str(key), str(name), str(kind), int(size), str(sha)))
            for field, key, name, kind, size, sha in payload["f"]
        ]
    except (ValueError, KeyError, TypeError):
        return []
    return [f for f in kept if f.staged.storage_key.startswith(UPLOAD_PREFIX)]


def unrecorded(session: Session, files: list[KeptFile]) -> list[KeptFile]:
    """Those of ``files`` not yet on any request: a token replayed after filing attaches nothing twice."""
    keys = [f.staged.storage_key for f in files]
    if not keys:
        return []
    taken = set(session.exec(select(Attachment.storage_key).where(col(Attachment.storage_key).in_(keys))))
    return [f for f in files if f.staged.storage_key not in taken]


def by_field(files: Iterable[KeptFile]) -> dict[str, list[StagedFile]]:
    grouped: dict[str, list[StagedFile]] = {}
    for item in files:
        grouped.setdefault(item.field, []).append(item.staged)
    return grouped


def kept_of(staged: Mapping[str, list[StagedFile]]) -> list[KeptFile]:
    return [KeptFile(field, item) for field, items in staged.items() for item in items]
