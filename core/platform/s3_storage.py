"""Files in S3-compatible storage (AWS S3, MinIO, Ceph, Garage …): the same guarantees as the folder.

A key of the portal becomes the object ``<prefix>/<key>`` in one bucket. The guarantees of
:class:`~core.platform.storage.FileStorage` hold as they do for the folder:

- a write is all or nothing: an object appears only when its upload completes (S3 never shows half an
  object); a stream that fails or grows past its limit aborts the upload, so no object and no parts are
  left behind (parts of an aborted multipart upload are deleted by the abort);
- files are never served from the bucket: objects stay private (no ACL, no pre-signed URL), and every
  download streams through the portal's checked routes, so the organisation check is the same for both.

Small files go up in one ``PutObject``; a stream longer than :data:`PART_BYTES` (a large extract) goes up
in parts of that size, so memory stays bounded whatever the file's size.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import UTC
from typing import TYPE_CHECKING, Any, BinaryIO, cast
from urllib.parse import urlparse

from core.platform.errors import ConfigurationError
from core.platform.storage import StorageError, StorageUnavailable, StoredFile, TooLarge, check_key

if TYPE_CHECKING:
    from core.platform.settings import Settings

log = logging.getLogger(__name__)
PART_BYTES = 8 * 1024 * 1024
"""Size of one part of a multipart upload (S3 wants at least 5 MiB for every part but the last)."""
MISSING = frozenset({"404", "NoSuchKey", "NotFound"})


class S3Storage:
    """Files as objects under ``prefix`` in ``bucket``, through one boto3 client (clients are thread-safe)."""

    def __init__(self, client: Any, bucket: str, prefix: str = "") -> None:
        self.client = client
        self.bucket = bucket
        self.prefix = prefix.strip("/") + "/" if prefix.strip("/") else ""

    @classmethod
    def from_settings(cls, settings: Settings) -> S3Storage:
        """``BBPORTAL_STORAGE_URL=s3://bucket/prefix`` with the endpoint, region and credentials settings."""
        url = urlparse(settings.storage_url.strip())
        if url.scheme != "s3" or not url.netloc:
            raise ConfigurationError(
                "BBPORTAL_STORAGE_URL must name a bucket: s3://bucket or s3://bucket/prefix, not %(url)s.",
                url=settings.storage_url,
            )
        try:
            import boto3
            from botocore.config import Config
        except ImportError as exc:
            raise ConfigurationError(
                "BBPORTAL_STORAGE_URL names S3, but boto3 is not installed: install the portal with its s3 extra."
            ) from exc
        client = boto3.session.Session().client(
            "s3",
            endpoint_url=settings.s3_endpoint_url or None,
            region_name=settings.s3_region or None,
            aws_access_key_id=settings.s3_access_key_id or None,
            aws_secret_access_key=settings.s3_secret_access_key or None,
            # Path-style addressing works with every S3-compatible server; a few retries ride out a blip.
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 3, "mode": "standard"}),
        )
        return cls(client, url.netloc, url.path)

    def _name(self, key: str) -> str:
        return self.prefix + check_key(key)

    def save(self, key: str, chunks: Iterable[bytes], *, max_bytes: int | None = None) -> int:
        name = self._name(key)
        size = 0
        buffer = bytearray()
        upload_id: str | None = None
        parts: list[dict[str, Any]] = []
        try:
            for chunk in chunks:
                size += len(chunk)
                if max_bytes is not None and size > max_bytes:
                    raise TooLarge(f"larger than {max_bytes} bytes")
                buffer += chunk
                while len(buffer) >= PART_BYTES:
                    if upload_id is None:
                        upload_id = self.client.create_multipart_upload(Bucket=self.bucket, Key=name)["UploadId"]
                    part, buffer = bytes(buffer[:PART_BYTES]), buffer[PART_BYTES:]
                    parts.append(self._upload_part(name, upload_id, len(parts) + 1, part))
            if upload_id is None:
                self.client.put_object(Bucket=self.bucket, Key=name, Body=bytes(buffer))
            else:
                if buffer or not parts:
                    parts.append(self._upload_part(name, upload_id, len(parts) + 1, bytes(buffer)))
                self.client.complete_multipart_upload(
                    Bucket=self.bucket, Key=name, UploadId=upload_id, MultipartUpload={"Parts": parts}
                )
        except BaseException as exc:
            if upload_id is not None:
                self._abort(name, upload_id)
            if isinstance(exc, OSError) or _is_boto_error(exc):
                raise StorageUnavailable(f"Could not store {key!r}: {exc}") from exc
            raise
        return size

    def _upload_part(self, name: str, upload_id: str, number: int, body: bytes) -> dict[str, Any]:
        answer = self.client.upload_part(Bucket=self.bucket, Key=name, UploadId=upload_id, PartNumber=number, Body=body)
        return {"ETag": answer["ETag"], "PartNumber": number}

    def _abort(self, name: str, upload_id: str) -> None:
        """Drop an unfinished upload and its parts; if even that fails, the bucket's lifecycle rule for
        incomplete uploads (docs/operations.md) removes them."""
        try:
            self.client.abort_multipart_upload(Bucket=self.bucket, Key=name, UploadId=upload_id)
        except Exception:  # the original failure is what the caller must see
            log.exception("Could not abort the upload of %s", name)

    @contextmanager
    def open(self, key: str) -> Iterator[BinaryIO]:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=self._name(key))
        except Exception as exc:
            if _code(exc) in MISSING:
                raise StorageError(f"No stored file {key!r}") from exc
            if _is_boto_error(exc):
                raise StorageUnavailable(f"Could not read {key!r}: {exc}") from exc
            raise
        body = answer["Body"]
        try:
            yield cast(BinaryIO, body)
        finally:
            body.close()

    def delete(self, key: str) -> None:
        try:
            self.client.delete_object(Bucket=self.bucket, Key=self._name(key))
        except Exception as exc:
            if _code(exc) in MISSING:
                return
            if _is_boto_error(exc):
                raise StorageUnavailable(f"Could not remove {key!r}: {exc}") from exc
            raise

    def exists(self, key: str) -> bool:
        try:
            self.client.head_object(Bucket=self.bucket, Key=self._name(key))
        except Exception as exc:
            if _code(exc) in MISSING:
                return False
            if _is_boto_error(exc):
                raise StorageUnavailable(f"Could not look for {key!r}: {exc}") from exc
            raise
        return True

    def files(self, prefix: str) -> Iterator[StoredFile]:
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=self.prefix + prefix)
        try:
            for page in pages:
                for item in page.get("Contents", ()):
                    modified = item["LastModified"]
                    yield StoredFile(item["Key"][len(self.prefix) :], modified.astimezone(UTC))
        except Exception as exc:
            if _is_boto_error(exc):
                raise StorageUnavailable(f"Could not list {prefix!r}: {exc}") from exc
            raise


def _code(exc: BaseException) -> str:
    """The S3 error code of a botocore ``ClientError`` (``NoSuchKey``, ``404`` …), else empty."""
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def _is_boto_error(exc: BaseException) -> bool:
    """A failure of the storage service or the way to it (botocore's errors), not of the portal's own code."""
    from botocore.exceptions import BotoCoreError, ClientError

    return isinstance(exc, BotoCoreError | ClientError)
