"""Fixtures shared by the whole suite: the users, a logged-in client, the contexts, and
the real servers (daphne, uvicorn, moto); each package's own in its ``conftest.py``."""

import os
from typing import Any

import pytest
from asgiref.sync import SyncToAsync
from django.conf import settings
from django.core.cache import caches
from django.db import connections
from django.test import AsyncClient

from django_chatkit import ratelimit
from django_chatkit.context import ChatKitContext
from tests.support.dist import package_dist  # noqa: F401  (the wheel the walkthroughs install)
from tests.support.factories import make_user
from tests.support.live import (  # noqa: F401  (real daphne/uvicorn servers)
    asgi_server,
    endpoint_server,
    live_servers_ahead,
    live_settings,
)
from tests.support.s3 import moto_s3, s3  # noqa: F401  (an S3 server: moto on loopback)
from tests.support.servers import ScriptedServer

#: How much more a test against live servers costs than one in process, roughly.
LIVE_TEST_WEIGHT = 10


@pytest.hookimpl(trylast=True)  # after pytest-django's own ordering
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
    if hasattr(config, "workerinput"):  # a pytest-xdist worker
        items[:] = costliest_modules_first(items, on_postgres)


def costliest_modules_first(items: list[Any], on_postgres: bool) -> list[Any]:
    """``items``, module by module, the costliest modules first (each module's tests in
    their order): ``--dist loadfile`` hands the modules out in this order (the Makefile
    passes ``--no-loadscope-reorder``), so a long module does not start last while the
    other worker runs out of work. The longest: the subprocess walkthroughs (their own
    venv and project: ``database_independent``), then modules by their tests, a test
    against live servers counting ``LIVE_TEST_WEIGHT``."""
    cost: dict[str, float] = {}
    for item in items:
        module = item.nodeid.split("::")[0]
        if "database_independent" in item.keywords and not on_postgres:
            weight = float("inf")
        elif "live_settings" in getattr(item, "fixturenames", ()):
            weight = LIVE_TEST_WEIGHT
        else:
            weight = 1
        cost[module] = cost.get(module, 0) + weight
    rank = {module: position for position, module in enumerate(cost)}
    return sorted(
        items,
        key=lambda item: (-cost[item.nodeid.split("::")[0]], rank[item.nodeid.split("::")[0]]),
    )


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


# users ---------------------------------------------------------------------------------


@pytest.fixture
def alice(db: None) -> Any:
    """A user, ``alice`` (password ``pw``, e-mail ``alice@example.com``, not staff)."""
    return make_user("alice")


@pytest.fixture
def bob(db: None) -> Any:
    """Another user, ``bob`` (password ``pw``): the one who must not reach alice's data."""
    return make_user("bob")


@pytest.fixture
def staff(alice: Any) -> Any:
    """``alice`` with the staff flag: the admin's login page admits only staff."""
    alice.is_staff = True
    alice.save(update_fields=["is_staff"])
    return alice


@pytest.fixture
async def chat(alice: Any) -> AsyncClient:
    """Django's async test client, logged in as ``alice``."""
    client = AsyncClient()
    await client.aforce_login(alice)
    return client


@pytest.fixture
def as_alice(alice: Any) -> ChatKitContext:
    return ChatKitContext(user=alice)


@pytest.fixture
def as_bob(bob: Any) -> ChatKitContext:
    return ChatKitContext(user=bob)


# the server ----------------------------------------------------------------------------


@pytest.fixture
def server() -> ScriptedServer:
    """The suite's ``CHATKIT_SERVER`` (``DjangoStore``, ``DjangoAttachmentStore``)."""
    return ScriptedServer()


#: Half a minute into a minute (and an hour, and a day): a test's requests all fall in one
#: window of any "/m", "/h" or "/d" limit however long the test takes.
FIXED_NOW = 1_800_000_030.0


@pytest.fixture
def fresh_cache(monkeypatch: pytest.MonkeyPatch) -> Any:
    """An empty cache, and the rate limit's clock fixed in the middle of its windows: on
    the real clock a test crossing a minute boundary would start a new window. For the
    rate limit tests: ``pytest.mark.usefixtures("fresh_cache")``."""
    monkeypatch.setattr(ratelimit, "wall_clock", lambda: FIXED_NOW)
    caches["default"].clear()
    yield
    caches["default"].clear()
