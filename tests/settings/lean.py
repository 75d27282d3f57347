"""``tests.settings`` for the live servers of tests/views/test_lean.py: the URLconf and the
marking middleware of ``tests.support.lean_site``, its receiver's and ``django.request``'s log
lines (message only), and ``CSRF_USE_SESSIONS`` when ``CHATKIT_TEST_CSRF_USE_SESSIONS``
is set."""

import os

from tests.settings import *  # noqa: F403
from tests.settings import LOGGING, MIDDLEWARE

ROOT_URLCONF = "tests.support.lean_site"
MIDDLEWARE = [*MIDDLEWARE, "tests.support.lean_site.mark_django_responses"]
CSRF_USE_SESSIONS = bool(os.environ.get("CHATKIT_TEST_CSRF_USE_SESSIONS"))
LOGGING = {
    **LOGGING,
    "loggers": {
        **LOGGING["loggers"],
        "tests.support.lean_site": {"handlers": ["console"], "level": "INFO", "propagate": False},
        # "Not Found: /chatkit/": what Django logs for each 4xx/5xx answer.
        "django.request": {"handlers": ["console"], "level": "WARNING", "propagate": False},
    },
}
