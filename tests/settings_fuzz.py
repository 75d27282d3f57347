"""``tests.settings`` with the server that answers anything (tests.test_fuzz.FuzzServer),
for the live servers of tests/test_fuzz.py."""

from tests.settings import *  # noqa: F403

CHATKIT_SERVER = "tests.test_fuzz.FuzzServer"
