"""Settings of the example project: SQLite by default, PostgreSQL with DATABASE_URL."""

import os
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent

SECRET_KEY = os.environ.get("DJANGO_SECRET_KEY", "example-project-insecure-key")
DEBUG = os.environ.get("DJANGO_DEBUG", "1") == "1"
ALLOWED_HOSTS = ["127.0.0.1", "localhost", "[::1]"]

INSTALLED_APPS = [
    "daphne",  # makes `manage.py runserver` serve ASGI (streaming needs it)
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django_chatkit",
    "example_project",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "example_project.urls"
ASGI_APPLICATION = "example_project.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "example_project" / "templates"],
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
    import dj_database_url

    DATABASES = {"default": dj_database_url.parse(os.environ["DATABASE_URL"], conn_max_age=0)}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": BASE_DIR / "db.sqlite3",
            # Concurrent chats write concurrently: WAL, a busy timeout and immediate
            # transactions keep SQLite from failing with "database is locked".
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    }

AUTH_PASSWORD_VALIDATORS = []  # the demo login is demo/demo

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
MEDIA_ROOT = BASE_DIR / "media"
MEDIA_URL = "media/"
# Everybody logs in at Django's /accounts/login/ (the default LOGIN_URL), not only staff.
LOGIN_REDIRECT_URL = "/"
LOGOUT_REDIRECT_URL = "/"

CHATKIT_SERVER = "example_project.server.ExampleServer"

# Live updates and staff replies reach open chats through a channel layer: in memory for
# one process; set REDIS_URL (e.g. redis://127.0.0.1:6379/0) to share it between workers.
if os.environ.get("REDIS_URL"):
    CHANNEL_LAYERS = {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {"hosts": [os.environ["REDIS_URL"]]},
        }
    }
else:
    CHANNEL_LAYERS = {"default": {"BACKEND": "channels.layers.InMemoryChannelLayer"}}
CHATKIT_LIVE_URL = "/chatkit/live/"  # served by asgi.py (django_chatkit.routing)
# A closed tab or a reload does not lose the answer; Stop still stops (docs/durable.rst).
CHATKIT_DURABLE_RESPONSES = True

# The demo's agent runs on OpenAI's DEMO_OPENAI_MODEL when OPENAI_API_KEY is set, and on
# an offline model (example_project/offline.py) otherwise: nothing leaves the machine.
OPENAI_API_KEY = os.environ.get("OPENAI_API_KEY", "")
DEMO_OPENAI_MODEL = os.environ.get("DEMO_OPENAI_MODEL", "gpt-4.1-mini")
# How long each step of the demo's slow tool (the to-do report) takes, in seconds.
DEMO_SLOW_TOOL_SECONDS = 1.0
# How long the offline model takes to tell "a long story" (ask: "tell me a long story").
DEMO_STORY_SECONDS = 10.0

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "loggers": {"django_chatkit": {"handlers": ["console"], "level": "INFO"}},
}
