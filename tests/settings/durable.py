"""``tests.settings`` with durable answers on, for the live servers of tests/durable/:
short checkpoints, heartbeats and shutdown grace, so that the tests run in seconds."""

import os

from tests.settings import *  # noqa: F403

CHATKIT_DURABLE_RESPONSES = True
CHATKIT_CHECKPOINT_INTERVAL = 0.1
CHATKIT_RESPONSE_HEARTBEAT = 0.2
CHATKIT_SHUTDOWN_GRACE = float(os.environ.get("CHATKIT_TEST_SHUTDOWN_GRACE", "2"))
CHATKIT_MAX_RUNNING_PER_USER = 2
