"""System checks of django_chatkit: one test per check id, and ``manage.py check``."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.checks import run_checks
from django.core.management import call_command
from django.core.management.base import SystemCheckError
from django.test import override_settings

from django_chatkit.checks import (
    check_asgi,
    check_limits,
    check_rate_limit,
    check_server,
    check_sqlite_concurrency,
    check_urls,
    runserver_asgi_warnings,
)

SQLITE_OK = {
    "ENGINE": "django.db.backends.sqlite3",
    "NAME": "chat.sqlite3",
    "OPTIONS": {
        "init_command": "PRAGMA journal_mode = WAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    },
}


class NotAServer:
    pass


def ids(messages: list[Any]) -> list[str]:
    return [message.id for message in messages]


def test_valid_server_passes() -> None:
    assert check_server() == []


@pytest.mark.parametrize("unset", [True, False])
def test_e001_server_not_set(settings: Any, unset: bool) -> None:
    if unset:
        del settings.CHATKIT_SERVER
    else:
        settings.CHATKIT_SERVER = ""
    [error] = check_server()
    assert error.id == "django_chatkit.E001"
    assert error.msg == (
        "CHATKIT_SERVER is not set: name your ChatKitServer subclass, "
        "e.g. CHATKIT_SERVER = 'myproject.chat.MyServer'."
    )
    assert "DjangoChatKitServer" in error.hint


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("tests.nowhere.Server", "No module named 'tests.nowhere'"),
        ("tests.support.servers.Missing", 'does not define a "Missing" attribute'),
        ("NoDots", "doesn't look like a module path"),
        ("tests.support.broken_server.Server", "RuntimeError('broken on import')"),
    ],
)
def test_e002_server_not_importable(settings: Any, path: str, reason: str) -> None:
    settings.CHATKIT_SERVER = path
    [error] = check_server()
    assert error.id == "django_chatkit.E002"
    assert error.msg.startswith(f"CHATKIT_SERVER = {path!r} could not be imported: ")
    assert reason in error.msg


@pytest.mark.parametrize("path", ["tests.test_checks.NotAServer", "django_chatkit.conf.conf"])
def test_e003_not_a_server_class(settings: Any, path: str) -> None:
    settings.CHATKIT_SERVER = path
    [error] = check_server()
    assert error.id == "django_chatkit.E003"
    assert error.msg == (
        f"CHATKIT_SERVER = {path!r} is not a subclass of chatkit.server.ChatKitServer."
    )


def test_e004_abstract_server(settings: Any) -> None:
    settings.CHATKIT_SERVER = "django_chatkit.server.DjangoChatKitServer"
    [error] = check_server()
    assert error.id == "django_chatkit.E004"
    assert error.msg == (
        "CHATKIT_SERVER = 'django_chatkit.server.DjangoChatKitServer' is abstract: "
        "implement respond."
    )
    assert error.hint


def test_e005_numbers_out_of_range(settings: Any) -> None:
    assert check_limits() == []
    settings.CHATKIT_MAX_REQUEST_BYTES = 0
    settings.CHATKIT_MAX_PAGE_SIZE = "lots"
    settings.CHATKIT_SSE_KEEPALIVE = -1
    messages = check_limits()
    assert ids(messages) == ["django_chatkit.E005"] * 3
    assert [message.msg for message in messages] == [
        "CHATKIT_MAX_REQUEST_BYTES must be a number of at least 1.",
        "CHATKIT_MAX_PAGE_SIZE must be a number of at least 1.",
        "CHATKIT_SSE_KEEPALIVE must be a number of at least 0.",
    ]


@pytest.mark.parametrize(
    ("options", "missing"),
    [
        ({}, 'WAL journal mode, transaction_mode "IMMEDIATE"'),
        ({"init_command": "PRAGMA journal_mode=WAL;"}, 'transaction_mode "IMMEDIATE"'),
        ({"transaction_mode": "IMMEDIATE"}, "WAL journal mode"),
        ({**SQLITE_OK["OPTIONS"], "init_command": "PRAGMA journal_mode=DELETE;"}, "WAL"),
    ],
)
def test_w001_sqlite_without_concurrent_writers(options: dict[str, Any], missing: str) -> None:
    databases = {
        "default": {"ENGINE": "django.db.backends.postgresql", "NAME": "chat"},
        "chats": {**SQLITE_OK, "OPTIONS": options},
        "ok": SQLITE_OK,
    }
    # override_settings warns that changing DATABASES affects open connections; the
    # check only reads the setting.
    with (
        pytest.warns(UserWarning, match="Overriding setting DATABASES"),
        override_settings(DATABASES=databases),
    ):
        [warning] = check_sqlite_concurrency()
    assert warning.id == "django_chatkit.W001"
    assert warning.msg.startswith(
        "The SQLite database 'chats' is not set up for concurrent writers (missing: "
    )
    assert missing in warning.msg
    assert "transaction_mode" in warning.hint


def test_w001_silent_for_the_test_database() -> None:
    assert check_sqlite_concurrency() == []


def test_manage_py_check(settings: Any) -> None:
    out = StringIO()
    call_command("check", stdout=out)
    assert "System check identified no issues" in out.getvalue()

    settings.CHATKIT_SERVER = "tests.nowhere.Server"
    settings.CHATKIT_SSE_KEEPALIVE = -5
    with pytest.raises(SystemCheckError) as failure:
        call_command("check", stdout=StringIO(), stderr=StringIO())
    assert "django_chatkit.E002" in str(failure.value)
    assert "django_chatkit.E005" in str(failure.value)


def test_e005_message_limits_out_of_range(settings: Any) -> None:
    settings.CHATKIT_MAX_ATTACHMENTS_PER_MESSAGE = -1
    settings.CHATKIT_MAX_MESSAGE_CHARS = 0
    assert [message.msg for message in check_limits()] == [
        "CHATKIT_MAX_ATTACHMENTS_PER_MESSAGE must be a number of at least 0.",
        "CHATKIT_MAX_MESSAGE_CHARS must be a number of at least 1.",
    ]


@pytest.mark.parametrize("rate", ["30", "30/week", "0/m", "-1/s", "x/m", (30,), (0, 60), ("1", 2)])
def test_e006_rate_limit_malformed(settings: Any, rate: Any) -> None:
    settings.CHATKIT_RATE_LIMIT = rate
    [error] = check_rate_limit()
    assert error.id == "django_chatkit.E006"
    assert error.msg.startswith("CHATKIT_RATE_LIMIT is not valid: ")
    assert '"30/m"' in error.hint


@pytest.mark.parametrize("rate", [None, "", "30/m", "5 / H", (10, 30), [1, 1]])
def test_rate_limit_valid_values(settings: Any, rate: Any) -> None:
    settings.CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache"}}
    settings.CHATKIT_RATE_LIMIT = rate
    assert check_rate_limit() == []


def test_e007_rate_limit_cache_not_in_caches(settings: Any) -> None:
    settings.CHATKIT_RATE_LIMIT = "30/m"
    settings.CHATKIT_RATE_LIMIT_CACHE = "ratelimit"
    [error] = check_rate_limit()
    assert error.id == "django_chatkit.E007"
    assert error.msg == "CHATKIT_RATE_LIMIT_CACHE = 'ratelimit' is not an alias in CACHES."
    assert "default" in error.hint


@pytest.mark.parametrize("backend", ["locmem.LocMemCache", "dummy.DummyCache"])
def test_w006_rate_limit_in_a_per_process_cache(settings: Any, backend: str) -> None:
    settings.CACHES = {"default": {"BACKEND": f"django.core.cache.backends.{backend}"}}
    settings.CHATKIT_RATE_LIMIT = "30/m"
    [warning] = check_rate_limit()
    assert warning.id == "django_chatkit.W006"
    assert backend.split(".")[1] in warning.msg
    assert "RedisCache" in warning.hint


def test_w030_urls_not_included(settings: Any) -> None:
    assert check_urls() == []
    settings.ROOT_URLCONF = "tests.support.urls_without_chatkit"
    [warning] = check_urls()
    assert warning.id == "django_chatkit.W030"
    assert warning.msg.startswith("django_chatkit.urls is not included in the URLconf: ")
    assert "'django_chatkit' is not a registered namespace" in warning.msg
    assert 'path("chatkit/", include("django_chatkit.urls"))' in warning.hint
    assert 'SILENCED_SYSTEM_CHECKS = ["django_chatkit.W030"]' in warning.hint
    # A check of the urls tag: `manage.py check --tag urls` runs it, `--tag models` not.
    assert "django_chatkit.W030" in ids(run_checks(tags=["urls"]))
    assert "django_chatkit.W030" not in ids(run_checks(tags=["models"]))
    # A URLconf that does not import is Django's own error to report, not a W030.
    settings.ROOT_URLCONF = "tests.nowhere"
    assert check_urls() == []


BASE_APPS = ["django.contrib.staticfiles", "django_chatkit"]


@pytest.mark.parametrize(
    ("debug", "apps", "asgi", "problem"),
    [
        (True, BASE_APPS, None, "daphne is not in INSTALLED_APPS, so `manage.py runserver` "),
        (True, BASE_APPS, "p.asgi.application", "daphne is not in INSTALLED_APPS"),
        (True, ["daphne", *BASE_APPS], None, "ASGI_APPLICATION is not set: runserver fails."),
        (True, ["daphne", *BASE_APPS], "p.asgi.application", None),
        (True, ["daphne.apps.DaphneConfig", *BASE_APPS], "p.asgi.application", None),
        # Production (uvicorn or daphne on the command line): nothing to say.
        (False, BASE_APPS, None, None),
    ],
)
def test_w031_runserver_would_serve_wsgi(
    debug: bool, apps: list[str], asgi: str | None, problem: str | None
) -> None:
    # Not through INSTALLED_APPS: loading daphne's app here would register its checks
    # (and install Twisted's reactor) for the rest of the test run.
    messages = runserver_asgi_warnings(debug=debug, installed_apps=apps, asgi_application=asgi)
    if problem is None:
        assert messages == []
        return
    [warning] = messages
    assert warning.id == "django_chatkit.W031"
    assert problem in warning.msg
    assert "DEBUG = False" in warning.hint
    assert 'SILENCED_SYSTEM_CHECKS = ["django_chatkit.W031"]' in warning.hint


def test_w031_in_manage_py_check_and_silenced(settings: Any) -> None:
    assert check_asgi() == []  # the tests' settings: DEBUG = False
    settings.DEBUG = True  # and no daphne in INSTALLED_APPS
    [warning] = check_asgi()
    assert warning.id == "django_chatkit.W031"
    out = StringIO()
    call_command("check", stdout=out, stderr=out)
    assert "django_chatkit.W031" in out.getvalue()
    # Added to what the suite silences (W040 for its own PostgreSQL database).
    settings.SILENCED_SYSTEM_CHECKS = [*settings.SILENCED_SYSTEM_CHECKS, "django_chatkit.W031"]
    out = StringIO()
    call_command("check", stdout=out, stderr=out)
    assert out.getvalue().startswith("System check identified no issues (")
    assert "W031" not in out.getvalue()
