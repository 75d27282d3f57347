"""Settings for the test suite: SQLite on disk by default, PostgreSQL with DATABASE_URL."""

import os
import tempfile
from pathlib import Path

import dj_database_url

BASE_DIR = Path(__file__).resolve().parent.parent  # tests/
TEMP_DIR = Path(os.environ.get("CHATKIT_TEST_TMP") or tempfile.gettempdir())

SECRET_KEY = "django_chatkit-tests-not-secret"
DEBUG = False
# Live WebSocket tests start servers with a real host list, so origins are checked.
ALLOWED_HOSTS = os.environ.get("CHATKIT_TEST_ALLOWED_HOSTS", "*").split(",")
USE_TZ = True
TIME_ZONE = "Europe/Paris"  # not UTC, so naive/aware mistakes show
LANGUAGE_CODE = "en"
USE_I18N = True

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_chatkit",
    "example_project",  # the demo's models and commands, for tests/example/
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
]

ROOT_URLCONF = "tests.support.urls"
ASGI_APPLICATION = "tests.support.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ]
        },
    }
]

if os.environ.get("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=0)}
    # A connection per store call, on purpose (tests/views/test_connections.py counts them):
    # what django_chatkit.W040 warns projects about, so silenced for the suite only.
    SILENCED_SYSTEM_CHECKS = ["django_chatkit.W040"]
else:
    # On disk, never in memory: the store and the live servers use other threads and
    # processes, which an in-memory database would silently not share.
    sqlite_path = str(TEMP_DIR / f"django_chatkit_tests_{os.getpid()}.sqlite3")
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": sqlite_path,
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
            "TEST": {"NAME": sqlite_path},
        }
    }
# A live server started by a test process uses that process' test database.
if os.environ.get("CHATKIT_LIVE_DB_NAME"):
    DATABASES["default"]["NAME"] = os.environ["CHATKIT_LIVE_DB_NAME"]
# Connection handling of a live server in tests/views/test_faults.py (PostgreSQL only).
if os.environ.get("CHATKIT_TEST_DB_POOL"):
    DATABASES["default"].setdefault("OPTIONS", {})["pool"] = True
if os.environ.get("CHATKIT_TEST_CONN_HEALTH_CHECKS"):
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

MEDIA_ROOT = os.environ.get("CHATKIT_MEDIA_ROOT") or str(
    TEMP_DIR / f"django_chatkit_media_{os.getpid()}"
)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
STATIC_URL = "/static/"

PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]

CHATKIT_SERVER = "tests.support.servers.ScriptedServer"

# Live updates: in memory (one process) unless CHATKIT_TEST_REDIS_URL names a Redis
# server, as for the test that runs two server processes; each run uses its own prefix.
if os.environ.get("CHATKIT_TEST_REDIS_URL"):
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [os.environ["CHATKIT_TEST_REDIS_URL"]],
                "prefix": os.environ.get("CHATKIT_TEST_REDIS_PREFIX", "django_chatkit_tests"),
            },
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_chatkit": {"handlers": ["console"], "level": "INFO"}},
}
