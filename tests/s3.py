"""S3-compatible storage for tests: moto's server mode on a free port, and one fresh bucket per test.

The portal talks to it over HTTP with boto3 exactly as it talks to AWS S3 or MinIO in production; nothing
in the portal is patched or mocked.
"""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from core.platform.settings import Settings

ACCESS_KEY = "test-access-key"
SECRET_KEY = "test-secret-access-key"
REGION = "eu-north-1"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def moto_server() -> Iterator[str]:
    """Start moto's S3 server (``ThreadedMotoServer``) and yield its endpoint URL; stopped afterwards."""
    from moto.server import ThreadedMotoServer

    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def client(endpoint: str) -> Any:
    import boto3

    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name=REGION,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
    )


def new_bucket(endpoint: str) -> str:
    """A fresh, empty bucket (one per test: no test sees another's files)."""
    name = f"bbportal-{uuid.uuid4().hex[:16]}"
    client(endpoint).create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    return name


def use_s3(settings: Settings, endpoint: str, prefix: str = "portal/files") -> str:
    """Point ``settings`` at a new bucket on ``endpoint`` (``BBPORTAL_STORAGE_URL`` and the ``s3_*`` settings)."""
    bucket = new_bucket(endpoint)
    settings.storage_url = f"s3://{bucket}/{prefix}"
    settings.s3_endpoint_url = endpoint
    settings.s3_region = REGION
    settings.s3_access_key_id = ACCESS_KEY
    settings.s3_secret_access_key = SECRET_KEY
    return bucket


def objects(endpoint: str, bucket: str) -> list[str]:
    """Every object in the bucket, by its full name."""
    answer = client(endpoint).list_objects_v2(Bucket=bucket)
    return sorted(item["Key"] for item in answer.get("Contents", ()))


def unfinished_uploads(endpoint: str, bucket: str) -> list[str]:
    """Multipart uploads begun and neither completed nor aborted (their parts would cost storage)."""
    answer = client(endpoint).list_multipart_uploads(Bucket=bucket)
    return [upload["Key"] for upload in answer.get("Uploads", ())]
