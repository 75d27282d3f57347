"""Settings of the live attachment servers: ``tests.settings``, plus an S3 bucket when
``CHATKIT_TEST_S3_ENDPOINT`` names one (moto's server, started by the test)."""

import os

from tests.settings import *  # noqa: F403
from tests.settings import STORAGES

if os.environ.get("CHATKIT_TEST_S3_ENDPOINT"):
    STORAGES = {
        **STORAGES,
        "s3": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": os.environ["CHATKIT_TEST_S3_BUCKET"],
                "endpoint_url": os.environ["CHATKIT_TEST_S3_ENDPOINT"],
                "access_key": "testing",
                "secret_key": "testing",
                "region_name": "us-east-1",
                "addressing_style": "path",
                "signature_version": "s3v4",
                "location": "media",
            },
        },
    }
    CHATKIT_ATTACHMENT_STORAGE = "s3"
    CHATKIT_S3_PRESIGNED_UPLOADS = True
