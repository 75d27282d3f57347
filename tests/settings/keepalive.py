"""``tests.settings`` with a short keep-alive, for the live servers of
tests/views/test_keepalive.py (a live server cannot take ``override_settings``)."""

from tests.settings import *  # noqa: F403

CHATKIT_SSE_KEEPALIVE = 0.2
