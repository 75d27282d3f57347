import os

import pytest
from asgiref.sync import SyncToAsync
from django.conf import settings
from django.db import connections

from tests.support.live import (  # noqa: F401  (real daphne/uvicorn servers)
    asgi_server,
    endpoint_server,
    live_settings,
)
from tests.support.s3 import moto_s3, s3  # noqa: F401  (an S3 server: moto on loopback)


def pytest_collection_modifyitems(config, items):
    on_postgres = settings.DATABASES["default"]["ENGINE"].endswith("postgresql")
    if on_postgres:  # tests that use none of the suite's databases run once, on SQLite
        marker, reason = "database_independent", "uses no test database: runs in the SQLite run"
    else:
        marker, reason = "postgres", "PostgreSQL only (run with DATABASE_URL)"
    skip = pytest.mark.skip(reason=reason)
    for item in items:
        if marker in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _close_async_orm_connections():
    """Django's async ORM (``aget()``...) in an async test runs on asgiref's one
    thread-sensitive executor thread, whose connection would outlive the test (and keep
    PostgreSQL from dropping the test database at the end). Close it after each test."""
    yield
    SyncToAsync.single_thread_executor.submit(connections.close_all).result()


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    os.makedirs(settings.MEDIA_ROOT, exist_ok=True)
