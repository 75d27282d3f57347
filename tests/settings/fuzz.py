"""``tests.settings`` with the server that answers anything (tests.support.servers.FuzzServer),
for the live servers of tests/views/test_fuzz.py."""

from tests.settings import *  # noqa: F403

CHATKIT_SERVER = "tests.support.servers.FuzzServer"
