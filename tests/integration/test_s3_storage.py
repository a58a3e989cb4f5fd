"""Files on S3-compatible storage: the folder's guarantees, against a real S3 server (moto's server mode).

The storage guarantees that a write is all or nothing (a failing or too long stream leaves neither an object
nor the parts of an unfinished upload), that keys cannot name anything outside the portal's prefix, and that
a storage that cannot be reached is a :class:`StorageUnavailable` (the web's 503 and "try again"). The
attachment tests (``test_attachments.py``) run whole against it too.
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlmodel import select

from core.models import Attachment
from core.platform import outbox
from core.platform.errors import ConfigurationError
from core.platform.s3_storage import PART_BYTES, S3Storage
from core.platform.settings import Settings
from core.platform.storage import FolderStorage, StorageError, StorageUnavailable, TooLarge, read_chunks
from core.portal import Portal, build_storage
from core.workflow import actions as workflow
from tests import s3
from tests.support import World


@pytest.fixture
def bucket(s3_endpoint: str) -> str:
    return s3.new_bucket(s3_endpoint)


@pytest.fixture
def storage(s3_endpoint: str, bucket: str) -> S3Storage:
    return S3Storage(s3.client(s3_endpoint), bucket, "portal/files")


def pieces(data: bytes, size: int = 1024 * 1024) -> Iterator[bytes]:
    for start in range(0, len(data), size):
        yield data[start : start + size]


def read(storage: S3Storage, key: str) -> bytes:
    with storage.open(key) as handle:
        return b"".join(read_chunks(handle))


def test_a_small_file_and_one_in_parts_come_back_as_they_were(
    storage: S3Storage, s3_endpoint: str, bucket: str
) -> None:
    small = b"Hej!\n"
    large = os.urandom(PART_BYTES + 12345)  # two parts: a full one and the rest
    assert storage.save("uploads/ab/small", [small]) == len(small)
    assert storage.save("requests/7/large", pieces(large), max_bytes=len(large)) == len(large)
    assert read(storage, "uploads/ab/small") == small and read(storage, "requests/7/large") == large
    assert s3.objects(s3_endpoint, bucket) == ["portal/files/requests/7/large", "portal/files/uploads/ab/small"]
    assert s3.unfinished_uploads(s3_endpoint, bucket) == []
    assert storage.exists("uploads/ab/small") and not storage.exists("uploads/ab/other")
    storage.save("uploads/ab/small", [b"replaced"])
    assert read(storage, "uploads/ab/small") == b"replaced"


def test_an_empty_file_is_a_file(storage: S3Storage) -> None:
    assert storage.save("uploads/00/empty", []) == 0
    assert storage.exists("uploads/00/empty") and read(storage, "uploads/00/empty") == b""


def test_a_stream_that_fails_leaves_no_object_and_no_parts(storage: S3Storage, s3_endpoint: str, bucket: str) -> None:
    def broken(after: int) -> Iterator[bytes]:
        yield os.urandom(after)
        raise OSError(5, "Input/output error")

    for after in (1000, PART_BYTES + 1000):  # one PutObject never sent; a multipart upload begun and aborted
        with pytest.raises(StorageUnavailable):
            storage.save("uploads/cd/broken", broken(after))
    assert s3.objects(s3_endpoint, bucket) == [] and s3.unfinished_uploads(s3_endpoint, bucket) == []


def test_a_failure_of_the_caller_passes_through_and_keeps_nothing(
    storage: S3Storage, s3_endpoint: str, bucket: str
) -> None:
    def interrupted() -> Iterator[bytes]:
        yield os.urandom(PART_BYTES + 1)
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        storage.save("uploads/cd/interrupted", interrupted())
    assert s3.objects(s3_endpoint, bucket) == [] and s3.unfinished_uploads(s3_endpoint, bucket) == []


def test_a_stream_past_its_limit_is_refused_and_keeps_nothing(
    storage: S3Storage, s3_endpoint: str, bucket: str
) -> None:
    with pytest.raises(TooLarge):
        storage.save("uploads/ef/small-limit", [b"x" * 100], max_bytes=99)
    with pytest.raises(TooLarge):
        storage.save("uploads/ef/after-a-part", pieces(os.urandom(PART_BYTES * 2)), max_bytes=PART_BYTES + 10)
    assert s3.objects(s3_endpoint, bucket) == [] and s3.unfinished_uploads(s3_endpoint, bucket) == []


@pytest.mark.parametrize("key", ["../other/x", "uploads/../../x", "Uploads/A", "/abs", "", "uploads/a b"])
def test_keys_cannot_leave_the_prefix(storage: S3Storage, key: str) -> None:
    with pytest.raises(StorageError, match="Invalid storage key"):
        storage.save(key, [b"x"])
    with pytest.raises(StorageError), storage.open(key):
        pass


def test_two_installations_in_one_bucket_never_see_each_others_files(s3_endpoint: str, bucket: str) -> None:
    one = S3Storage(s3.client(s3_endpoint), bucket, "one")
    other = S3Storage(s3.client(s3_endpoint), bucket, "other/")
    one.save("uploads/aa/file", [b"one"])
    assert not other.exists("uploads/aa/file") and [f.key for f in other.files("")] == []
    with pytest.raises(StorageError, match="No stored file"), other.open("uploads/aa/file"):
        pass
    other.delete("uploads/aa/file")  # a missing file is not an error, and the other's file stays
    assert read(one, "uploads/aa/file") == b"one"


def test_files_lists_keys_under_a_prefix_with_their_time(storage: S3Storage) -> None:
    before = datetime.now(UTC) - timedelta(minutes=5)
    storage.save("uploads/aa/one", [b"1"])
    storage.save("uploads/bb/two", [b"2"])
    storage.save("requests/3/three", [b"3"])
    listed = {found.key: found.modified_at for found in storage.files("uploads/")}
    assert sorted(listed) == ["uploads/aa/one", "uploads/bb/two"]
    assert all(before < moment <= datetime.now(UTC) + timedelta(minutes=5) for moment in listed.values())
    storage.delete("uploads/aa/one")
    assert [found.key for found in storage.files("uploads/")] == ["uploads/bb/two"]


def test_a_server_that_does_not_answer_is_unavailable_not_missing() -> None:
    nobody = f"http://127.0.0.1:{s3.free_port()}"
    storage = S3Storage(s3.client(nobody), "bucket", "files")
    with pytest.raises(StorageUnavailable):
        storage.save("uploads/aa/file", [b"x"])
    with pytest.raises(StorageUnavailable), storage.open("uploads/aa/file"):
        pass


def test_the_settings_choose_the_storage(tmp_path: object, s3_endpoint: str) -> None:
    settings = Settings(data_dir=tmp_path, _env_file=None)  # type: ignore[call-arg]
    assert isinstance(build_storage(settings), FolderStorage)
    bucket = s3.use_s3(settings, s3_endpoint, prefix="p")
    chosen = build_storage(settings)
    assert isinstance(chosen, S3Storage) and (chosen.bucket, chosen.prefix) == (bucket, "p/")
    chosen.save("uploads/aa/file", io.BytesIO(b"via settings"))
    assert s3.objects(s3_endpoint, bucket) == ["p/uploads/aa/file"]
    for wrong in ("s3://", "https://bucket/files", "/srv/files"):
        settings.storage_url = wrong
        with pytest.raises(ConfigurationError):
            build_storage(settings)


@pytest.fixture
def test_settings(test_settings: Settings, s3_endpoint: str) -> Settings:
    """The portal of this module's end-to-end tests keeps its files in S3."""
    s3.use_s3(test_settings, s3_endpoint)
    return test_settings


def test_an_extract_made_into_s3_is_served_to_its_organisation_only(
    portal: Portal, world: World, make_web: Any, s3_endpoint: str
) -> None:
    filed = workflow.file(
        portal, world.member, "log_extract", {"system_id": world.system.id, "extract": {"kind": "users"}}, None
    )
    outbox.drain(portal)
    with portal.database.reading() as session:
        row = session.exec(select(Attachment).where(Attachment.request_id == filed.id)).one()
    bucket = portal.settings.storage_url.removeprefix("s3://").split("/")[0]
    assert s3.objects(s3_endpoint, bucket) == [f"portal/files/{row.storage_key}"]
    own, outsider = make_web(), make_web()
    own.login(world.member.email)
    outsider.login(world.outsider.email)
    download = own.get(f"/requests/{filed.id}/attachments/{row.id}")
    assert download.status_code == 200 and download.content.startswith("\ufeff".encode())
    assert len(download.content) == row.size
    assert outsider.get(f"/requests/{filed.id}/attachments/{row.id}").status_code == 404
