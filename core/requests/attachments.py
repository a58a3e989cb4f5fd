"""Files on requests: stored through the file storage, described by an :class:`Attachment` row.

Uploads and mail attachments are checked by their content (:mod:`core.requests.attachment_types`, the helper that
decides what a file really is); files a fulfilment makes (an extract, a user list) are the portal's own and
carry the type their maker gives. A file made again by a retried fulfilment replaces the earlier one
(same ``origin``), so a retry never leaves two extracts on a request.
"""

from __future__ import annotations

import hashlib
import logging
import re
import unicodedata
import uuid
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import PurePosixPath, PureWindowsPath
from typing import BinaryIO

from sqlmodel import Session, col, select

from core.models import Attachment, Request, User
from core.platform.clock import Clock
from core.platform.db import Database
from core.platform.errors import NotFound, ValidationFailed
from core.platform.i18n import N_
from core.platform.i18n import gettext as _
from core.platform.storage import FileStorage, StorageError, TooLarge, read_chunks
from core.requests.attachment_types import KINDS, Refused, detect, name_for
from core.requests.queries import get_request, valid_id

log = logging.getLogger(__name__)

MAX_FILES = 10
"""Files on one chat message (the form's and the mail intake's limit)."""
TOO_LARGE = N_("the file is larger than %(max_mb)s MB")
NOT_AN_IMAGE = N_("only images (JPEG, PNG, GIF, WebP, HEIC) can be attached here")

MAX_FILENAME = 200
_UNSAFE = re.compile(r"[\x00-\x1f\x7f<>:\"/\\|?*]+")


def sanitise_filename(name: str, fallback: str = "fil") -> str:
    """A name safe to show and to offer for download: no path, no control or reserved characters.

    Invisible format characters (Unicode category Cf) are removed: a right-to-left override makes
    ``photo<RLO>gnp.txt`` display as "phototxt.png", and other bidirectional controls, zero-width characters
    and byte-order marks only serve to make a name look like something it is not.
    """
    name = unicodedata.normalize("NFC", name or "")
    name = "".join(ch for ch in name if unicodedata.category(ch) != "Cf")
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


UPLOAD_PREFIX = "uploads/"


def new_upload_key(now: datetime | None = None) -> str:
    """Files people send are stored before the request or message exists: their key names no request.

    The key starts with the (UTC) day it was staged, ``uploads/2026-12-07/<random>``: a file staged for a form
    that was never sent is found by its age (housekeeping removes those no attachment row refers to).
    """
    name = uuid.uuid4().hex
    day = (now or datetime.now(UTC)).strftime("%Y-%m-%d")
    return f"{UPLOAD_PREFIX}{day}/{name}"


@dataclass(frozen=True)
class Upload:
    """A file someone sent (form upload or mail attachment): the name they gave and a seekable stream."""

    filename: str
    stream: BinaryIO


@dataclass(frozen=True)
class StagedFile:
    """A checked file already in the storage, waiting for the transaction that records its row."""

    storage_key: str
    filename: str
    content_type: str
    size: int
    sha256: str


class AttachmentRefused(Exception):
    """One file was not accepted; :meth:`message` names the file and says why, in the current language."""

    def __init__(self, filename: str, reason: str, **params: object) -> None:
        super().__init__(f"{filename}: {reason % params if params else reason}")
        self.filename = filename
        self.reason = reason
        self.params = params

    def reason_text(self) -> str:
        return _(self.reason, **self.params) if self.params else _(self.reason)

    def message(self) -> str:
        return _("%(name)s: %(reason)s.", name=self.filename, reason=self.reason_text())


def max_mb_label(max_bytes: int) -> str:
    """The size limit as people write it in the current language: 10, 2,5 (Swedish) or 2.5."""
    from babel.numbers import format_decimal

    from core.platform.i18n import current_language

    megabytes = round(max_bytes / (1024 * 1024), 2)
    return str(format_decimal(megabytes, locale="sv_SE" if current_language() == "sv" else "en_GB"))


def stage(storage: FileStorage, upload: Upload, *, max_bytes: int, images_only: bool = False) -> StagedFile:
    """Check one file by its content and size, then store it; a refused file leaves nothing in the storage."""
    name = sanitise_filename(upload.filename)
    stream = upload.stream
    stream.seek(0, 2)
    if stream.tell() > max_bytes:
        raise AttachmentRefused(name, TOO_LARGE, max_mb=max_mb_label(max_bytes))
    try:
        detected = detect(stream, name)
    except Refused as exc:
        raise AttachmentRefused(name, exc.reason) from None
    if images_only and not detected.kind.is_image:
        raise AttachmentRefused(name, NOT_AN_IMAGE)
    final_name = sanitise_filename(name_for(name, detected.kind))
    key = new_upload_key()
    stream.seek(0)
    digesting = _Digesting(read_chunks(stream))
    try:
        size = storage.save(key, digesting, max_bytes=max_bytes)
    except TooLarge:
        raise AttachmentRefused(name, TOO_LARGE, max_mb=max_mb_label(max_bytes)) from None
    return StagedFile(key, final_name, detected.content_type, size, digesting.digest.hexdigest())


def stage_all(
    storage: FileStorage,
    uploads: Sequence[Upload],
    *,
    field: str,
    max_bytes: int,
    max_files: int = MAX_FILES,
    images_only: bool = False,
) -> list[StagedFile]:
    """Every file of one form field, or none: a refusal lists each refused file under ``field``."""
    if len(uploads) > max_files:
        raise ValidationFailed(
            {field: [_("Attach at most %(count)s files at a time; none of them were kept.", count=max_files)]}
        )
    staged: list[StagedFile] = []
    problems: list[str] = []
    try:
        for upload in uploads:
            try:
                staged.append(stage(storage, upload, max_bytes=max_bytes, images_only=images_only))
            except AttachmentRefused as exc:
                problems.append(exc.message())
    except BaseException:  # the storage failed (disk full …): none of this field's files are kept
        discard(storage, staged)
        raise
    if problems:
        discard(storage, staged)
        raise ValidationFailed({field: problems})
    return staged


def discard(storage: FileStorage, staged: Iterable[StagedFile]) -> None:
    """Remove staged files whose transaction did not commit (a failure here is logged, never raised)."""
    for item in staged:
        try:
            storage.delete(item.storage_key)
        except (StorageError, OSError):
            log.exception("Could not remove the staged file %s", item.storage_key)


def record(
    session: Session,
    staged: Sequence[StagedFile],
    *,
    request_id: int,
    clock: Clock,
    message_id: int | None = None,
    internal: bool = False,
    uploaded_by_id: int | None = None,
    origin_prefix: str | None = None,
) -> list[Attachment]:
    """The rows of staged files, in the caller's transaction (the one that writes the message or request)."""
    rows = []
    for number, item in enumerate(staged, start=1):
        row = Attachment(
            request_id=request_id,
            message_id=message_id,
            filename=item.filename,
            content_type=item.content_type,
            size=item.size,
            sha256=item.sha256,
            storage_key=item.storage_key,
            internal=internal,
            origin=f"{origin_prefix}:{number}" if origin_prefix else None,
            uploaded_by_id=uploaded_by_id,
            created_at=clock.now(),
        )
        session.add(row)
        rows.append(row)
    session.flush()
    return rows


STAGED_PREFIXES = ("uploads/", "requests/")
"""Where files are written before the transaction that records their row: uploads (:func:`stage`) and the
files fulfilments make (:func:`store_generated`). Other keys (a plugin's own) are never swept."""
LOOKUP_BATCH = 500


def remove_unrecorded(database: Database, storage: FileStorage, written_before: datetime) -> int:
    """Housekeeping: delete staged files never recorded (their transaction failed, the process died, a form
    was left with its files) written before ``written_before``; returns how many.

    A file is kept while any row names it; only files older than the cut-off are looked at, so a file being
    staged or held for a form right now is never taken from under it.
    """
    removed = 0
    for prefix in STAGED_PREFIXES:
        old = [found.key for found in storage.files(prefix) if found.modified_at < written_before]
        for start in range(0, len(old), LOOKUP_BATCH):
            batch = old[start : start + LOOKUP_BATCH]
            with database.reading() as session:
                recorded = set(
                    session.exec(select(Attachment.storage_key).where(col(Attachment.storage_key).in_(batch)))
                )
            for key in batch:
                if key in recorded:
                    continue
                try:
                    storage.delete(key)
                except (StorageError, OSError):
                    log.exception("Could not remove the unrecorded file %s", key)
                    continue
                removed += 1
    return removed


def remove_generated(
    database: Database, storage: FileStorage, *, type_key: str, origins: Sequence[str], made_before: datetime
) -> int:
    """Delete the files fulfilments of requests of ``type_key`` made with one of ``origins`` before
    ``made_before`` (an extract past its expiry): the rows first, then the files; returns how many.

    Rows first: a file whose removal fails is only an unrecorded file (housekeeping removes it the next day),
    never a row that promises a file no longer there.
    """
    with database.writing() as session:
        rows = list(
            session.exec(
                select(Attachment)
                .join(Request, col(Request.id) == col(Attachment.request_id))
                .where(
                    Request.type_key == type_key,
                    col(Attachment.origin).in_(list(origins)),
                    col(Attachment.uploaded_by_id).is_(None),
                    col(Attachment.created_at) < made_before,
                )
            )
        )
        keys = [row.storage_key for row in rows]
        for row in rows:
            session.delete(row)
    for key in keys:
        try:
            storage.delete(key)
        except (StorageError, OSError):
            log.exception("Could not remove the expired file %s", key)
    return len(keys)


@dataclass(frozen=True)
class AttachmentView:
    """What a page or the API shows of a file; the URL is the checked download route of the viewer's side."""

    id: int
    request_id: int
    message_id: int | None
    filename: str
    content_type: str
    size: int
    internal: bool
    origin: str | None
    sha256: str = ""
    created_at: datetime | None = None

    @property
    def is_image(self) -> bool:
        return self.content_type.startswith("image/")

    @property
    def shows_inline(self) -> bool:
        kind = KINDS.get(self.content_type.split(";")[0])
        return kind is not None and kind.shows_inline

    @property
    def form_field(self) -> str | None:
        """The form field a file was filed with (``form:photos:1`` → ``photos``)."""
        if self.origin and self.origin.startswith("form:"):
            return self.origin.split(":")[1]
        return None

    def url(self, staff: bool) -> str:
        return f"{'/staff' if staff else ''}/requests/{self.request_id}/attachments/{self.id}"


def view(row: Attachment) -> AttachmentView:
    return AttachmentView(
        row.id or 0,
        row.request_id,
        row.message_id,
        row.filename,
        row.content_type,
        row.size,
        row.internal,
        row.origin,
        row.sha256,
        row.created_at,
    )


def visible_attachments(session: Session, viewer: User, request_id: int) -> list[AttachmentView]:
    """Every file on a request the viewer may see, oldest first: staff see all, customers none that is internal.

    The caller has already checked that the viewer may see the request itself.
    """
    query = select(Attachment).where(Attachment.request_id == request_id)
    if not viewer.is_staff:
        query = query.where(col(Attachment.internal).is_(False))
    return [view(row) for row in session.exec(query.order_by(col(Attachment.id)))]


def find_attachment(session: Session, viewer: User, request_id: int, attachment_id: int) -> Attachment:
    """One file, if the viewer may see its request and the file; otherwise NotFound (never a hint it exists)."""
    get_request(session, viewer, request_id)
    row = session.get(Attachment, attachment_id) if valid_id(attachment_id) else None
    if row is None or row.request_id != request_id or (row.internal and not viewer.is_staff):
        raise NotFound("There is no such file.")
    return row
