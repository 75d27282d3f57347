"""An S3-compatible server for the attachment tests: moto's server mode on loopback.

``moto_s3`` starts one ``ThreadedMotoServer`` per test session on a free port of
127.0.0.1 and creates a bucket; tests reach it through django-storages' ``S3Storage``
(``s3_storage_options``), exactly as a project would reach AWS or MinIO.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer

BUCKET = "chatkit-attachments"
REGION = "us-east-1"
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


@dataclass
class S3Server:
    endpoint: str
    client: Any  # a boto3 S3 client

    def storage(self, location: str = "media") -> dict[str, Any]:
        """A ``STORAGES`` entry for the bucket through django-storages."""
        return {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": BUCKET,
                "endpoint_url": self.endpoint,
                "access_key": CREDENTIALS["aws_access_key_id"],
                "secret_key": CREDENTIALS["aws_secret_access_key"],
                "region_name": REGION,
                "addressing_style": "path",
                "signature_version": "s3v4",
                "location": location,
            },
        }

    def object_keys(self) -> list[str]:
        listing = self.client.list_objects_v2(Bucket=BUCKET)
        return sorted(obj["Key"] for obj in listing.get("Contents", []))

    def get(self, key: str) -> dict[str, Any]:
        return self.client.get_object(Bucket=BUCKET, Key=key)


@pytest.fixture(scope="session")
def moto_s3() -> Iterator[S3Server]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    endpoint = f"http://{host}:{port}"
    client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION, **CREDENTIALS)
    client.create_bucket(Bucket=BUCKET)
    try:
        yield S3Server(endpoint, client)
    finally:
        server.stop()


@pytest.fixture
def s3(moto_s3: S3Server) -> Iterator[S3Server]:
    """The server with an empty bucket."""
    for key in moto_s3.object_keys():
        moto_s3.client.delete_object(Bucket=BUCKET, Key=key)
    yield moto_s3
