"""``tests.settings.example`` with durable answers: a closed connection does not stop an
answer, Stop (the cancel endpoint) does. The long story takes two seconds."""

from tests.settings.example import *  # noqa: F403

CHATKIT_DURABLE_RESPONSES = True
CHATKIT_CHECKPOINT_INTERVAL = 0.1
DEMO_STORY_SECONDS = 2.0
