"""Django settings of stacks b, b', c, c' and f: a realistic project around django_chatkit.

Environment switches (``bench.py`` sets them for each server it starts):

``BENCH_STORE``     ``orm`` (``DjangoStore``, stacks c, c'), ``memory`` (``MemoryStore``, b, b') or
                    ``floor`` (``FloorStore``, stack f)
``DATABASE_URL``    PostgreSQL (``postgres://...``); unset: SQLite in WAL mode at
                    ``BENCH_SQLITE_PATH``
``BENCH_DB_POOL``   ``1``: psycopg's connection pool (``OPTIONS={"pool": True}``)
``BENCH_POOL_MAX``  the pool's size; 0: ``"pool": True`` (psycopg_pool's defaults, 4)
``BENCH_POOL_MIN``  the pool's minimum size (default: ``BENCH_POOL_MAX``)
``BENCH_HEALTH_CHECKS`` ``1``: ``CONN_HEALTH_CHECKS = True``
``BENCH_CACHE``     a Redis URL for the default cache (``cached_db`` sessions); unset: local memory
``BENCH_POOL_TIMEOUT`` seconds a request waits for a pooled connection (default 30)
``BENCH_SESSIONS``  ``db`` (Django's default), ``cached_db`` or ``signed_cookies``
"""

import os
import tempfile
from pathlib import Path
from typing import Any

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent

SECRET_KEY = "django_chatkit-benchmarks-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
USE_TZ = True
TIME_ZONE = "UTC"
LANGUAGE_CODE = "en-us"
USE_I18N = True

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django_chatkit",
]

# Django's startproject middleware: sessions, CSRF and authentication on every request.
MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "benchmarks.urls"
ASGI_APPLICATION = "benchmarks.asgi.application"

if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=0)}
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = os.environ.get("BENCH_HEALTH_CHECKS") == "1"
    if os.environ.get("BENCH_DB_POOL") == "1":
        # BENCH_POOL_MAX=0 is what the README recommends, ``"pool": True`` (psycopg_pool's
        # defaults: 4 connections, 30 s timeout); <n> sizes the pool (min = max = n).
        pool_size = int(os.environ.get("BENCH_POOL_MAX") or 0)
        pool_min = int(os.environ.get("BENCH_POOL_MIN") or pool_size)
        pool: dict[str, Any] = {"min_size": pool_min, "max_size": pool_size} if pool_size else {}
        if os.environ.get("BENCH_POOL_TIMEOUT"):
            pool["timeout"] = float(os.environ["BENCH_POOL_TIMEOUT"])
        DATABASES["default"].setdefault("OPTIONS", {})["pool"] = pool or True
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": os.environ.get("BENCH_SQLITE_PATH")
            or str(Path(tempfile.gettempdir()) / "chatkit_bench.sqlite3"),
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }

SESSION_ENGINE = {
    "db": "django.contrib.sessions.backends.db",
    "cached_db": "django.contrib.sessions.backends.cached_db",
    "signed_cookies": "django.contrib.sessions.backends.signed_cookies",
}[os.environ.get("BENCH_SESSIONS", "db")]
if os.environ.get("BENCH_CACHE"):
    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": os.environ["BENCH_CACHE"],
            # One Redis connection pool per process (README, production notes).
            "OPTIONS": {"pool_class": "django_chatkit.redis_pool.SharedConnectionPool"},
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
STORAGES = {
    "default": {
        "BACKEND": "django.core.files.storage.FileSystemStorage",
        "OPTIONS": {"location": str(Path(tempfile.gettempdir()) / "chatkit_bench_media")},
    },
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}

CHATKIT_SERVER = "benchmarks.servers.BenchServer"
# bench.py streams --durable: answers outlive their clients; one user owns every stream.
CHATKIT_DURABLE_RESPONSES = os.environ.get("BENCH_DURABLE") == "1"
CHATKIT_MAX_RUNNING_PER_USER = CHATKIT_MAX_RUNNING_PER_WORKER = 100_000
BENCH_STORE = os.environ.get("BENCH_STORE", "orm")

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    # One INFO line per request is what a production site logs; WARNING keeps the
    # benchmark's terminal readable (the cost difference is within noise).
    "loggers": {"django_chatkit": {"handlers": ["console"], "level": "WARNING"}},
}
