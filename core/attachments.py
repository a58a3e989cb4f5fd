"""Files on requests: stored through the file storage, described by an :class:`Attachment` row.

Uploads and mail attachments are checked by their content (:mod:`core.attachment_types`, the helper that
decides what a file really is); files a fulfilment makes (an extract, a user list) are the portal's own and
carry the type their maker gives. A file made again by a retried fulfilment replaces the earlier one
(same ``origin``), so a retry never leaves two extracts on a request.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
import uuid
from collections.abc import Iterable, Iterator
from pathlib import PurePosixPath, PureWindowsPath

from sqlmodel import select

from core.clock import Clock
from core.db import Database
from core.models import Attachment
from core.storage import FileStorage

MAX_FILENAME = 200
_UNSAFE = re.compile(r"[\x00-\x1f\x7f<>:\"/\\|?*]+")


def sanitise_filename(name: str, fallback: str = "fil") -> str:
    """A name safe to show and to offer for download: no path, no control or reserved characters."""
    name = unicodedata.normalize("NFC", name or "")
    name = PureWindowsPath(PurePosixPath(name).name).name  # drop any folder part, Unix or Windows
    name = _UNSAFE.sub("_", name).strip(" ._")
    if not name:
        name = fallback
    if len(name) > MAX_FILENAME:
        stem, dot, suffix = name.rpartition(".")
        if dot and 0 < len(suffix) <= 10:
            name = stem[: MAX_FILENAME - len(suffix) - 1] + "." + suffix
        else:
            name = name[:MAX_FILENAME]
    return name


class _Digesting:
    """Passes chunks through while counting a SHA-256 of them (the storage sees one pass of the stream)."""

    def __init__(self, chunks: Iterable[bytes]) -> None:
        self._chunks = chunks
        self.digest = hashlib.sha256()

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._chunks:
            self.digest.update(chunk)
            yield chunk


def new_storage_key(request_id: int) -> str:
    return f"requests/{request_id}/{uuid.uuid4().hex}"


def store_generated(
    database: Database,
    storage: FileStorage,
    clock: Clock,
    *,
    request_id: int,
    filename: str,
    content_type: str,
    chunks: Iterable[bytes],
    origin: str,
    internal: bool = False,
) -> Attachment:
    """Keep a file a fulfilment made; the same ``origin`` on the same request replaces the earlier file.

    The stream goes to storage under a new key *before* the write transaction opens: a large extract takes
    minutes to write, and holding the database's write lock that long would stall every other writer. The
    transaction then only points the row at the new file; the file it replaced is removed after the commit.
    A stream that fails leaves the earlier file and row as they were.
    """
    key = new_storage_key(request_id)
    stream = _Digesting(chunks)
    size = storage.save(key, stream)
    replaced: str | None = None
    try:
        with database.writing() as session:
            row = session.exec(
                select(Attachment).where(Attachment.request_id == request_id, Attachment.origin == origin)
            ).first()
            if row is None:
                row = Attachment(
                    request_id=request_id,
                    origin=origin,
                    storage_key=key,
                    filename="",
                    content_type="",
                    size=0,
                    sha256="",
                    created_at=clock.now(),
                )
            else:
                replaced = row.storage_key
            row.storage_key = key
            row.filename = sanitise_filename(filename)
            row.content_type = content_type
            row.size = size
            row.sha256 = stream.digest.hexdigest()
            row.internal = internal
            row.created_at = clock.now()
            session.add(row)
            session.flush()
    except BaseException:
        storage.delete(key)
        raise
    if replaced is not None and replaced != key:
        storage.delete(replaced)
    return row
