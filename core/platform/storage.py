"""Where files live (chat attachments, extracts): a narrow interface whose default is a folder in the data folder.

A deployment on several machines points ``BBPORTAL_STORAGE_DIR`` at shared storage, or sets
``BBPORTAL_STORAGE_URL=s3://bucket/prefix`` for S3-compatible storage (:mod:`core.platform.s3_storage`);
:func:`core.portal.build_storage` chooses by the settings. Nothing else in the portal touches file paths.
"""

from __future__ import annotations

import os
import re
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import BinaryIO, Protocol

KEY = re.compile(r"^[a-z0-9][a-z0-9/_.-]{0,200}$")


class StorageError(Exception):
    """A file could not be stored or read (disk full, missing file, an invalid key)."""


class StorageUnavailable(StorageError):
    """A write failed for a reason that may pass (a full disk, a shared folder gone): nothing was kept; try again.

    The web answers it with 503 and "try again"; a fulfilment that meets it is retried by the outbox.
    """


class TooLarge(StorageError):
    """The stream was longer than the caller allowed; nothing was kept."""


@dataclass(frozen=True)
class StoredFile:
    """One file as the storage lists it: its key and when it was last written (UTC)."""

    key: str
    modified_at: datetime


class FileStorage(Protocol):
    def save(self, key: str, chunks: Iterable[bytes], *, max_bytes: int | None = None) -> int:
        """Store the stream under ``key`` (replacing a file with that key) and return its size in bytes.

        The write is all or nothing: a stream that fails or grows past ``max_bytes`` leaves nothing behind.
        Raises :class:`TooLarge` past ``max_bytes`` and :class:`StorageUnavailable` when the storage could not
        take the file (a full disk, an unreachable share).
        """
        ...

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        """The stored file, opened for reading."""
        ...

    def delete(self, key: str) -> None:
        """Remove the file; a missing file is not an error."""
        ...

    def exists(self, key: str) -> bool: ...

    def files(self, prefix: str) -> Iterator[StoredFile]:
        """Every stored file whose key starts with ``prefix`` (``"uploads/"``), in no particular order.

        Housekeeping finds the files no row refers to with it; a half-written file of a crashed process
        is listed too (under a key no row has), so that it is removed with them.
        """
        ...


def check_key(key: str) -> str:
    """``key`` if it is one the portal makes (lower-case, no ``..``): never a path out of the storage."""
    if not KEY.match(key) or ".." in key.split("/"):
        raise StorageError(f"Invalid storage key: {key!r}")
    return key


class FolderStorage:
    """Files under one folder; writes go to a temporary file first and are renamed into place."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def save(self, key: str, chunks: Iterable[bytes], *, max_bytes: int | None = None) -> int:
        path = self._path(key)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=".upload-")
        except OSError as exc:
            raise StorageUnavailable(f"Could not store {key!r}: {exc}") from exc
        size = 0
        try:
            with os.fdopen(handle, "wb") as out:
                for chunk in chunks:
                    size += len(chunk)
                    if max_bytes is not None and size > max_bytes:
                        raise TooLarge(f"larger than {max_bytes} bytes")
                    out.write(chunk)
            os.replace(temporary, path)
        except BaseException as exc:
            Path(temporary).unlink(missing_ok=True)
            if isinstance(exc, OSError):
                raise StorageUnavailable(f"Could not store {key!r}: {exc}") from exc
            raise
        return size

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        try:
            handle = self._path(key).open("rb")
        except FileNotFoundError as exc:
            raise StorageError(f"No stored file {key!r}") from exc
        with handle:
            yield handle

    def delete(self, key: str) -> None:
        self._path(key).unlink(missing_ok=True)

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def files(self, prefix: str) -> Iterator[StoredFile]:
        folder, _, stem = prefix.rpartition("/")
        start = self.root / folder if folder else self.root
        if not start.is_dir():
            return
        for path in start.rglob(f"{stem}*" if stem else "*"):
            try:
                if not path.is_file():
                    continue
                modified = datetime.fromtimestamp(path.stat().st_mtime, UTC)
            except FileNotFoundError:  # removed while we looked
                continue
            key = path.relative_to(self.root).as_posix()
            if key.startswith(prefix):
                yield StoredFile(key, modified)


def read_chunks(handle: BinaryIO, size: int = 64 * 1024) -> Iterator[bytes]:
    """Stream a stored file in pieces (for responses), never whole into memory."""
    while chunk := handle.read(size):
        yield chunk
