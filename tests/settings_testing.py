"""``tests.settings_example`` serving ``tests.testing_server.ToolkitServer``: the live
servers of tests/test_testing_live.py."""

from tests.settings_example import *  # noqa: F403

CHATKIT_SERVER = "tests.testing_server.ToolkitServer"
DEMO_SLOW_TOOL_SECONDS = 0
