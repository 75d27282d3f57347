"""Checks W040/W041: PostgreSQL without a pool or CONN_MAX_AGE, a pool without health checks."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection

from django_chatkit.checks import check_database_connections, check_postgresql_connection

POSTGRESQL = "django.db.backends.postgresql"


def ids(messages: list[Any]) -> list[str]:
    return [message.id for message in messages]


@pytest.mark.parametrize(
    "database",
    [
        {"ENGINE": POSTGRESQL},  # Django's default CONN_MAX_AGE is 0
        {"ENGINE": POSTGRESQL, "CONN_MAX_AGE": 0, "CONN_HEALTH_CHECKS": True},
        {"ENGINE": POSTGRESQL, "CONN_MAX_AGE": 0, "OPTIONS": {"pool": False}},
        {"ENGINE": "django.contrib.gis.db.backends.postgis", "CONN_MAX_AGE": 0},
    ],
)
def test_w040_postgresql_without_pool_or_conn_max_age(database: dict[str, Any]) -> None:
    [warning] = check_postgresql_connection("main", database)
    assert warning.id == "django_chatkit.W040"
    assert warning.msg.startswith("The PostgreSQL database 'main' has neither a connection pool")
    assert '"pool"' in warning.hint and "CONN_MAX_AGE = 60" in warning.hint


@pytest.mark.parametrize("pool", [True, {"min_size": 4, "max_size": 16}])
def test_w041_pool_without_health_checks(pool: Any) -> None:
    database = {"ENGINE": POSTGRESQL, "CONN_MAX_AGE": 0, "OPTIONS": {"pool": pool}}
    [warning] = check_postgresql_connection("main", database)
    assert warning.id == "django_chatkit.W041"
    assert warning.hint == "Set CONN_HEALTH_CHECKS = True on the database 'main'."
    database["CONN_HEALTH_CHECKS"] = True
    assert check_postgresql_connection("main", database) == []


@pytest.mark.parametrize(
    "database",
    [
        {"ENGINE": POSTGRESQL, "CONN_MAX_AGE": 60},
        {"ENGINE": POSTGRESQL, "CONN_MAX_AGE": None},  # persistent, unlimited
        {"ENGINE": "django.db.backends.sqlite3", "CONN_MAX_AGE": 0},
        {"ENGINE": "django.db.backends.mysql"},
    ],
)
def test_no_warning_when_connections_are_reused_or_not_postgresql(
    database: dict[str, Any],
) -> None:
    assert check_postgresql_connection("main", database) == []


def test_the_registered_check_covers_the_databases_asked_for() -> None:
    everything = check_database_connections()
    assert check_database_connections(databases=["default"]) == everything
    assert check_database_connections(databases=["elsewhere"]) == []


def _test_database_warns() -> bool:
    """Does this run's database draw W040? PostgreSQL runs use CONN_MAX_AGE = 0 (a
    connection per store call, which tests/views/test_connections.py counts on), no pool."""
    return connection.vendor == "postgresql" and not connection.settings_dict["OPTIONS"].get("pool")


@pytest.mark.parametrize("args", [(), ("--database", "default")])
def test_manage_py_check_shows_w040(settings: Any, args: tuple[str, ...]) -> None:
    """Shown by a plain ``check`` (and ``runserver``), not only with ``--database``.

    tests/settings/ silences W040 for the suite's own PostgreSQL database; a project
    silences nothing, as here."""
    settings.SILENCED_SYSTEM_CHECKS = []
    out, err = StringIO(), StringIO()
    call_command("check", *args, stdout=out, stderr=err)
    assert ("django_chatkit.W040" in err.getvalue()) is _test_database_warns()
    if not _test_database_warns():
        assert "System check identified no issues" in out.getvalue()
