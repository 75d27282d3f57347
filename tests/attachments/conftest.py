"""Attachments on S3: the ``s3`` storage alias on moto's bucket (``tests/conftest.py``
starts the server)."""

import pytest


@pytest.fixture
def s3_storage(settings, s3):
    settings.STORAGES = {**settings.STORAGES, "s3": s3.storage()}
    settings.CHATKIT_ATTACHMENT_STORAGE = "s3"
    return s3
