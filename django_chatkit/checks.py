"""System checks for django_chatkit (``manage.py check``).

========================  ==========================================================
``django_chatkit.E001``   ``CHATKIT_SERVER`` is not set.
``django_chatkit.E002``   ``CHATKIT_SERVER`` cannot be imported.
``django_chatkit.E003``   ``CHATKIT_SERVER`` is not a ``ChatKitServer`` subclass.
``django_chatkit.E004``   ``CHATKIT_SERVER`` is abstract (``respond()`` missing).
``django_chatkit.E005``   A numeric ``CHATKIT_*`` setting is out of range.
``django_chatkit.E006``   ``CHATKIT_RATE_LIMIT`` or ``CHATKIT_UPLOAD_RATE_LIMIT`` is malformed.
``django_chatkit.E007``   ``CHATKIT_RATE_LIMIT_CACHE`` is not an alias in ``CACHES``.
``django_chatkit.W006``   A rate limit counts in a per-process or dummy cache.
``django_chatkit.W001``   A SQLite database is not set up for concurrent writers.
``django_chatkit.W040``   A PostgreSQL database has neither a pool nor ``CONN_MAX_AGE``.
``django_chatkit.W041``   A PostgreSQL pool runs without ``CONN_HEALTH_CHECKS``.
``django_chatkit.E010``   ``CHATKIT_ATTACHMENT_STORAGE`` is not an alias in ``STORAGES``.
``django_chatkit.E011``   ``CHATKIT_UPLOAD_STRATEGY`` is not ``"direct"`` or ``"two_phase"``.
``django_chatkit.W010``   ``CHATKIT_S3_PRESIGNED_UPLOADS`` is on, the storage is not S3.
``django_chatkit.W020``   ``CHATKIT_LIVE_URL`` is set, ``CHANNEL_LAYERS`` is not.
``django_chatkit.W030``   ``django_chatkit.urls`` is not included in the URLconf.
``django_chatkit.W031``   ``DEBUG`` is on and ``runserver`` would serve WSGI (no streaming).
========================  ==========================================================
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from django.conf import settings
from django.core.checks import CheckMessage, Error, Tags, Warning, register
from django.core.files.storage import storages
from django.urls import NoReverseMatch, reverse

from django_chatkit.attachments.files import is_s3
from django_chatkit.conf import conf
from django_chatkit.exceptions import ServerSettingError
from django_chatkit.server import import_server_class

SQLITE_HINT = (
    'Set OPTIONS = {"init_command": "PRAGMA journal_mode=WAL;", '
    '"transaction_mode": "IMMEDIATE", "timeout": 20} on the SQLite database, '
    "or use PostgreSQL."
)


SERVER_HINTS = {
    "django_chatkit.E001": "Subclass django_chatkit.server.DjangoChatKitServer, implement "
    "respond() and set CHATKIT_SERVER to the dotted path of the subclass.",
    "django_chatkit.E002": "Check the dotted path and that its module imports without errors.",
    "django_chatkit.E003": "Subclass django_chatkit.server.DjangoChatKitServer.",
    "django_chatkit.E004": "Implement respond() (and any other abstract method) in the class, "
    "or name a concrete subclass.",
}


@register()
def check_server(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    """E001 to E004: what :func:`~django_chatkit.server.import_server_class` refuses."""
    try:
        import_server_class(conf.CHATKIT_SERVER)
    except ServerSettingError as exc:
        return [Error(str(exc), hint=SERVER_HINTS[exc.check_id], id=exc.check_id)]
    return []


@register()
def check_limits(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    minimums = {
        "CHATKIT_MAX_REQUEST_BYTES": 1,
        "CHATKIT_MAX_PAGE_SIZE": 1,
        "CHATKIT_SSE_KEEPALIVE": 0,
        "CHATKIT_MAX_ATTACHMENTS_PER_MESSAGE": 0,
        "CHATKIT_MAX_MESSAGE_CHARS": 1,
        "CHATKIT_ATTACHMENT_MAX_BYTES": 1,
        "CHATKIT_ATTACHMENT_URL_MAX_AGE": 1,
        "CHATKIT_UPLOAD_URL_MAX_AGE": 1,
        "CHATKIT_ATTACHMENT_CLEANUP_AGE": 0,
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


PER_PROCESS_CACHES = (
    "django.core.cache.backends.locmem.LocMemCache",
    "django.core.cache.backends.dummy.DummyCache",
)


RATE_LIMIT_SETTINGS = ("CHATKIT_RATE_LIMIT", "CHATKIT_UPLOAD_RATE_LIMIT")


@register()
def check_rate_limit(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    errors: list[CheckMessage] = []
    limited = []
    for name in RATE_LIMIT_SETTINGS:
        try:
            rate = getattr(conf, name)
        except ValueError as exc:
            errors.append(
                Error(
                    f"{name} is not valid: {exc}.",
                    hint='Use "<count>/<period>" with period s, m, h or d (e.g. "30/m"), a '
                    "(count, seconds) tuple such as (30, 60), or None for no limit.",
                    id="django_chatkit.E006",
                )
            )
            continue
        if rate is not None:
            limited.append(name)
    if errors or not limited:
        return errors
    names = " and ".join(limited)
    alias = conf.CHATKIT_RATE_LIMIT_CACHE
    caches = settings.CACHES
    if alias not in caches:
        return [
            Error(
                f"CHATKIT_RATE_LIMIT_CACHE = {alias!r} is not an alias in CACHES.",
                hint=f"Add {alias!r} to CACHES or name one of: {', '.join(sorted(caches))}.",
                id="django_chatkit.E007",
            )
        ]
    backend = str(caches[alias].get("BACKEND", ""))
    if backend in PER_PROCESS_CACHES:
        verb = "counts" if len(limited) == 1 else "count"
        return [
            Warning(
                f"{names} {verb} in the cache {alias!r} ({backend.rsplit('.', 1)[-1]}"
                "), which is not shared between worker processes (or stores nothing): "
                "each process allows the full rate, or there is no limit at all.",
                hint="Point CHATKIT_RATE_LIMIT_CACHE at a shared cache: "
                "django.core.cache.backends.redis.RedisCache, Memcached or the database.",
                id="django_chatkit.W006",
            )
        ]
    return []


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


POSTGRESQL_ENGINES = ("django.db.backends.postgresql", "django.contrib.gis.db.backends.postgis")
POOL_HINT = (
    'Use psycopg\'s pool (pip install "psycopg[pool]"): OPTIONS = {"pool": {"min_size": 4, '
    '"max_size": 16}} with CONN_HEALTH_CHECKS = True and CONN_MAX_AGE = 0; or keep '
    "connections open with CONN_MAX_AGE = 60 (seconds) and CONN_HEALTH_CHECKS = True."
)


def check_postgresql_connection(alias: str, database: Mapping[str, Any]) -> list[CheckMessage]:
    """W040/W041 for one ``DATABASES`` entry (nothing for other engines)."""
    if database.get("ENGINE") not in POSTGRESQL_ENGINES:
        return []
    if (database.get("OPTIONS") or {}).get("pool"):
        if database.get("CONN_HEALTH_CHECKS"):
            return []
        return [
            Warning(
                f"The PostgreSQL database {alias!r} uses a connection pool without "
                "CONN_HEALTH_CHECKS: a connection the server dropped (a restart, a "
                "failover) is handed out again, and requests fail until the pool "
                "replaces it.",
                hint=f"Set CONN_HEALTH_CHECKS = True on the database {alias!r}.",
                id="django_chatkit.W041",
            )
        ]
    if database.get("CONN_MAX_AGE", 0) != 0:  # a number of seconds, or None: persistent
        return []
    return [
        Warning(
            f"The PostgreSQL database {alias!r} has neither a connection pool "
            '(OPTIONS["pool"]) nor CONN_MAX_AGE: every store call opens a new connection, '
            "which cost the endpoint half its throughput in the benchmark.",
            hint=POOL_HINT,
            id="django_chatkit.W040",
        )
    ]


@register()
def check_database_connections(
    app_configs: Any = None, databases: Any = None, **kwargs: Any
) -> list[CheckMessage]:
    """W040/W041 for the databases checked (``--database``), else for every alias.

    Not tagged ``database``: it reads only ``DATABASES`` and opens no connection, and
    Django 6 runs ``database``-tagged checks only with ``--database``; untagged, it runs
    in ``check``, ``runserver`` and ``migrate``, where the warning is seen.
    """
    warnings: list[CheckMessage] = []
    for alias, database in settings.DATABASES.items():
        if databases is None or alias in databases:
            warnings += check_postgresql_connection(alias, database)
    return warnings


@register()
def check_attachments(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    messages: list[CheckMessage] = []
    alias = conf.CHATKIT_ATTACHMENT_STORAGE
    if alias not in settings.STORAGES:
        messages.append(
            Error(
                f"CHATKIT_ATTACHMENT_STORAGE = {alias!r} is not an alias in STORAGES.",
                hint=f"Add {alias!r} to STORAGES or name one of: "
                f"{', '.join(sorted(settings.STORAGES))}.",
                id="django_chatkit.E010",
            )
        )
    elif conf.CHATKIT_S3_PRESIGNED_UPLOADS:
        try:
            s3 = is_s3(storages[alias])
        except Exception:
            s3 = False
        if not s3:
            messages.append(
                Warning(
                    "CHATKIT_S3_PRESIGNED_UPLOADS is on, but the attachment storage "
                    f"{alias!r} is not django-storages' S3Storage: two-phase uploads go "
                    "through Django instead.",
                    hint="Point CHATKIT_ATTACHMENT_STORAGE at an S3Storage alias, or turn "
                    "the setting off.",
                    id="django_chatkit.W010",
                )
            )
    if conf.CHATKIT_UPLOAD_STRATEGY not in ("direct", "two_phase"):
        messages.append(
            Error(
                f"CHATKIT_UPLOAD_STRATEGY = {conf.CHATKIT_UPLOAD_STRATEGY!r} is not valid.",
                hint='Use "direct" or "two_phase".',
                id="django_chatkit.E011",
            )
        )
    return messages


@register()
def check_live_updates(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if conf.CHATKIT_LIVE_URL and not getattr(settings, "CHANNEL_LAYERS", None):
        return [
            Warning(
                "CHATKIT_LIVE_URL is set but CHANNEL_LAYERS is not configured: live update "
                "sockets are refused and pushes reach no open chat.",
                hint='Set CHANNEL_LAYERS: {"default": {"BACKEND": '
                '"channels.layers.InMemoryChannelLayer"}} for one process, or '
                "channels_redis.core.RedisChannelLayer for several workers.",
                id="django_chatkit.W020",
            )
        ]
    return []


@register(Tags.urls)
def check_urls(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    if not getattr(settings, "ROOT_URLCONF", None):
        return []
    try:
        reverse("django_chatkit:endpoint")
        return []
    except NoReverseMatch:
        pass
    except Exception:  # a URLconf that does not import: Django's own urls checks say why
        return []
    return [
        Warning(
            "django_chatkit.urls is not included in the URLconf: {% chatkit %} fails "
            "('django_chatkit' is not a registered namespace) and attachments have no "
            "upload or download URLs.",
            hint='Add path("chatkit/", include("django_chatkit.urls")) to your urlpatterns. '
            "If you route the views yourself (and pass url= to {% chatkit %}), silence "
            'this with SILENCED_SYSTEM_CHECKS = ["django_chatkit.W030"].',
            id="django_chatkit.W030",
        )
    ]


ASGI_SILENCE_HINT = (
    "In production, serve with daphne or uvicorn and DEBUG = False (this check then stays "
    "quiet); if you develop with uvicorn or daphne directly, SILENCED_SYSTEM_CHECKS = "
    '["django_chatkit.W031"] silences it.'
)


@register()
def check_asgi(app_configs: Any = None, **kwargs: Any) -> list[CheckMessage]:
    return runserver_asgi_warnings(
        debug=settings.DEBUG,
        installed_apps=list(settings.INSTALLED_APPS),
        asgi_application=getattr(settings, "ASGI_APPLICATION", None),
    )


def runserver_asgi_warnings(
    *, debug: bool, installed_apps: list[str], asgi_application: str | None
) -> list[CheckMessage]:
    """``W031`` when ``manage.py runserver`` would not serve ASGI, in development only.

    Production projects are served by daphne or uvicorn named on the command line, with
    nothing in settings to tell: with ``DEBUG = False`` there is nothing to say. (daphne
    listed after ``django.contrib.staticfiles`` is daphne's own check, ``daphne.E001``.)
    """
    if not debug:
        return []
    # "daphne", or its AppConfig path "daphne.apps.DaphneConfig"
    if not any(str(entry).split(".apps.")[0] == "daphne" for entry in installed_apps):
        problem = (
            "daphne is not in INSTALLED_APPS, so `manage.py runserver` serves WSGI: "
            "responses are buffered, not streamed, and the Stop button cannot cancel."
        )
        hint = (
            'Add "daphne" first in INSTALLED_APPS and set ASGI_APPLICATION = '
            '"myproject.asgi.application". '
        )
    elif not asgi_application:
        problem = "daphne is in INSTALLED_APPS but ASGI_APPLICATION is not set: runserver fails."
        hint = 'Set ASGI_APPLICATION = "myproject.asgi.application". '
    else:
        return []
    return [Warning(problem, hint=hint + ASGI_SILENCE_HINT, id="django_chatkit.W031")]
