"""``tests.settings`` with the server that answers anything (tests.views.test_fuzz.FuzzServer),
for the live servers of tests/views/test_fuzz.py."""

from tests.settings import *  # noqa: F403

CHATKIT_SERVER = "tests.views.test_fuzz.FuzzServer"
