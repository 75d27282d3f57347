"""``tests.settings.example`` serving ``tests.support.testing_server.ToolkitServer``: the live
servers of tests/testing/test_live.py."""

from tests.settings.example import *  # noqa: F403

CHATKIT_SERVER = "tests.support.testing_server.ToolkitServer"
DEMO_SLOW_TOOL_SECONDS = 0
