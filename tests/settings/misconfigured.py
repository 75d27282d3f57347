"""``tests.settings`` with a wrong ``CHATKIT_SERVER`` and ``DEBUG`` on, for live servers
(no system checks run under daphne or uvicorn), with levels in the log."""

from tests.settings import *  # noqa: F403
from tests.settings import LOGGING

DEBUG = True
CHATKIT_SERVER = "tests.nowhere.Server"
LOGGING = {
    **LOGGING,
    "formatters": {"levels": {"format": "%(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "levels"}},
}
