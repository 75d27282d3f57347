"""``tests.settings`` for live servers that run the example project (its agent server and
its URLs: the demo page at ``/``, the admin, the endpoint at ``/chatkit/``)."""

from tests.settings import *  # noqa: F403

ROOT_URLCONF = "example_project.urls"
LOGIN_URL = "admin:login"
CHATKIT_SERVER = "example_project.server.ExampleServer"
DEMO_SLOW_TOOL_SECONDS = 0.05  # the to-do report's two steps
DEMO_STORY_SECONDS = 1.0  # "tell me a long story", streamed over a second
