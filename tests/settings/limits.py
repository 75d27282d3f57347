"""``tests.settings`` with small endpoint limits, for the live servers of
tests/views/test_limits.py (a live server cannot take ``override_settings``)."""

from tests.settings import *  # noqa: F403

CHATKIT_MAX_PAGE_SIZE = 2
CHATKIT_MAX_ATTACHMENTS_PER_MESSAGE = 2
CHATKIT_MAX_MESSAGE_CHARS = 12
# Three messages in a window that ends in 2033: no test straddles two windows.
CHATKIT_RATE_LIMIT = (3, 10**9)
