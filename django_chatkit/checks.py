"""System checks for django_chatkit (``manage.py check``).

========================  ==========================================================
``django_chatkit.E001``   ``CHATKIT_SERVER`` is not set.
``django_chatkit.E002``   ``CHATKIT_SERVER`` cannot be imported.
``django_chatkit.E003``   ``CHATKIT_SERVER`` is not a ``ChatKitServer`` subclass.
``django_chatkit.E004``   ``CHATKIT_SERVER`` is abstract (``respond()`` missing).
``django_chatkit.E005``   A numeric ``CHATKIT_*`` setting is out of range.
``django_chatkit.W001``   A SQLite database is not set up for concurrent writers.
========================  ==========================================================
"""

from __future__ import annotations

import inspect
from typing import Any

from chatkit.server import ChatKitServer
from django.conf import settings
from django.core.checks import CheckMessage, Error, Warning, register
from django.utils.module_loading import import_string

from .conf import conf

SQLITE_HINT = (
    'Set OPTIONS = {"init_command": "PRAGMA journal_mode=WAL;", '
    '"transaction_mode": "IMMEDIATE", "timeout": 20} on the SQLite database, '
    "or use PostgreSQL."
)


@register()
def check_server(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    path = conf.CHATKIT_SERVER
    if not path:
        return [
            Error(
                "CHATKIT_SERVER is not set.",
                hint="Set CHATKIT_SERVER to the dotted path of your ChatKitServer subclass, "
                "e.g. 'myproject.chat.MyServer' (subclass django_chatkit.server."
                "DjangoChatKitServer and implement respond()).",
                id="django_chatkit.E001",
            )
        ]
    try:
        server_class = import_string(path)
    except ImportError as exc:
        return [
            Error(
                f"CHATKIT_SERVER = {path!r} cannot be imported: {exc}",
                hint="Check the dotted path and that its module imports without errors.",
                id="django_chatkit.E002",
            )
        ]
    if not (isinstance(server_class, type) and issubclass(server_class, ChatKitServer)):
        return [
            Error(
                f"CHATKIT_SERVER = {path!r} is not a ChatKitServer subclass.",
                hint="Subclass django_chatkit.server.DjangoChatKitServer.",
                id="django_chatkit.E003",
            )
        ]
    if inspect.isabstract(server_class):
        missing = ", ".join(sorted(getattr(server_class, "__abstractmethods__", ())))
        return [
            Error(
                f"CHATKIT_SERVER = {path!r} is abstract: implement {missing}.",
                id="django_chatkit.E004",
            )
        ]
    return []


@register()
def check_limits(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    minimums = {
        "CHATKIT_MAX_REQUEST_BYTES": 1,
        "CHATKIT_MAX_PAGE_SIZE": 1,
        "CHATKIT_SSE_KEEPALIVE": 0,
    }
    for name, minimum in minimums.items():
        try:
            value = getattr(conf, name)
        except (TypeError, ValueError):
            value = None
        if value is None or value < minimum:
            errors.append(
                Error(
                    f"{name} must be a number of at least {minimum}.",
                    id="django_chatkit.E005",
                )
            )
    return errors


@register()
def check_sqlite_concurrency(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    warnings: list[CheckMessage] = []
    for alias, database in settings.DATABASES.items():
        if not database.get("ENGINE", "").endswith("sqlite3"):
            continue
        options = database.get("OPTIONS", {})
        init_command = str(options.get("init_command", "")).replace(" ", "").lower()
        problems = []
        if "journal_mode=wal" not in init_command:
            problems.append("WAL journal mode")
        if str(options.get("transaction_mode", "")).upper() != "IMMEDIATE":
            problems.append('transaction_mode "IMMEDIATE"')
        if problems:
            warnings.append(
                Warning(
                    f"The SQLite database {alias!r} is not set up for concurrent writers "
                    f"(missing: {', '.join(problems)}): concurrent chats will fail with "
                    "'database is locked'.",
                    hint=SQLITE_HINT,
                    id="django_chatkit.W001",
                )
            )
    return warnings
