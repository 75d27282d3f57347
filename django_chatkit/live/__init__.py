"""Live updates: a WebSocket per signed-in user, told when one of their threads changes.

The helpers that add items from outside a request (staff replies, background jobs) and
notify open pages are in :mod:`django_chatkit.live.updates`; the consumer is
:mod:`django_chatkit.live.consumers`, routed by :mod:`django_chatkit.routing`.
"""

from django_chatkit.live.updates import (
    aadd_assistant_message,
    aadd_item,
    add_assistant_message,
    add_item,
    anotify_thread,
    notify_thread,
    user_group,
)

__all__ = [
    "aadd_assistant_message",
    "aadd_item",
    "add_assistant_message",
    "add_item",
    "anotify_thread",
    "notify_thread",
    "user_group",
]
