"""Push to open chats from anywhere: views, background jobs, management commands, the admin.

ChatKit hears from the server only while one of its own requests streams. To reach a
chat that is open but idle, the page keeps a WebSocket open
(:class:`django_chatkit.live.consumers.LiveUpdatesConsumer`, through Django Channels) and the
functions here notify it over the channel layer. A notification names the thread that
changed, never its content: the widget then calls ChatKit's ``fetchUpdates()``, which
reads the new items through the ordinary, authenticated endpoint.

Each user's sockets listen to one group, :func:`user_group`, so a user hears about their
own threads only. With the in-memory channel layer a push reaches the sockets of the
same process; with ``channels_redis`` it reaches every worker.

Sync functions write in the caller's transaction and notify once it commits; the
``a``-prefixed variants are for async code (which Django runs outside transactions).
"""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import datetime
from functools import partial
from typing import Any

from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from chatkit import types as ck
from django.db import transaction
from django.utils import timezone

from django_chatkit import signals
from django_chatkit.context import ChatKitContext
from django_chatkit.db import run_db
from django_chatkit.ids import new_id
from django_chatkit.models import Thread, ThreadItem
from django_chatkit.store.backend import ID_PREFIXES, DjangoStore

logger = logging.getLogger("django_chatkit")

#: The channel layer message type; consumers handle it in ``chatkit_thread_updated``.
MESSAGE_TYPE = "chatkit.thread_updated"

__all__ = [
    "aadd_assistant_message",
    "aadd_item",
    "add_assistant_message",
    "add_item",
    "anotify_thread",
    "notify_thread",
    "user_group",
]

_SAFE_GROUP_KEY = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


def user_group(user_id: Any) -> str:
    """The channel layer group of one user's open chats."""
    key = str(user_id)
    if not _SAFE_GROUP_KEY.match(key):  # group names are short ASCII: hash odd keys
        key = hashlib.sha256(key.encode()).hexdigest()[:40]
    return f"django_chatkit.user.{key}"


def _message(thread: Thread) -> tuple[str, dict[str, Any]]:
    return user_group(thread.user_id), {
        "type": MESSAGE_TYPE,
        "thread_id": thread.chatkit_id,
        "scope": thread.scope,
    }


async def anotify_thread(thread: Thread) -> bool:
    """Tell the owner's open chats that ``thread`` changed.

    Returns ``False`` (and logs why) when the message could not be handed to the
    channel layer; what was saved stays saved, and the chat shows it on its next load.
    """
    layer = get_channel_layer()
    if layer is None:
        logger.warning(
            "CHANNEL_LAYERS is not configured: thread %s changed but open chats are not told.",
            thread.chatkit_id,
        )
        return False
    group, message = _message(thread)
    try:
        await layer.group_send(group, message)
    except Exception:
        logger.exception("Could not notify open chats of thread %s", thread.chatkit_id)
        return False
    return True


def notify_thread(thread: Thread) -> None:
    """Tell the owner's open chats that ``thread`` changed, once the current transaction
    commits (at once outside a transaction). Not from async code: use
    :func:`anotify_thread` there."""
    transaction.on_commit(partial(async_to_sync(anotify_thread), thread), robust=True)


def _save_item(thread: Thread, item: ck.ThreadItem) -> ChatKitContext:
    if item.thread_id != thread.chatkit_id:
        raise ValueError(f"Item {item.id} belongs to thread {item.thread_id}, not {thread}")
    row = ThreadItem(thread=thread)
    row.set_item(item)
    with transaction.atomic():
        row.save()
        Thread.objects.filter(pk=thread.pk).update(updated_at=timezone.now())
    # The item_saved signal gets the owner's context, as if the store had saved it.
    return ChatKitContext(user=thread.user, scope=thread.scope)


def add_item(thread: Thread, item: ck.ThreadItem, *, notify: bool = True) -> ck.ThreadItem:
    """Add ``item`` to ``thread`` outside any ChatKit request, and tell open chats.

    The item must name the thread (``item.thread_id == thread.chatkit_id``) and have a
    fresh id. Sends :data:`~django_chatkit.signals.item_saved` (``sender`` is
    :class:`~django_chatkit.store.DjangoStore`) and notifies after commit.
    """
    context = _save_item(thread, item)

    def committed() -> None:
        signals.item_saved.send(
            sender=DjangoStore,
            thread_id=thread.chatkit_id,
            item=item,
            created=True,
            context=context,
        )
        if notify:
            async_to_sync(anotify_thread)(thread)

    transaction.on_commit(committed, robust=True)
    return item


async def aadd_item(thread: Thread, item: ck.ThreadItem, *, notify: bool = True) -> ck.ThreadItem:
    """Async :func:`add_item`."""
    context = await run_db(_save_item, thread, item)
    await signals.item_saved.asend(
        sender=DjangoStore, thread_id=thread.chatkit_id, item=item, created=True, context=context
    )
    if notify:
        await anotify_thread(thread)
    return item


def assistant_message(thread: Thread, text: str) -> ck.AssistantMessageItem:
    """A new assistant message saying ``text`` in ``thread`` (not saved)."""
    return ck.AssistantMessageItem(
        id=new_id(ID_PREFIXES["message"]),
        thread_id=thread.chatkit_id,
        created_at=datetime.now(),  # naive local time, as the SDK stamps its own items
        content=[ck.AssistantMessageContent(text=text)],
    )


def add_assistant_message(
    thread: Thread, text: str, *, notify: bool = True
) -> ck.AssistantMessageItem:
    """Add an assistant message saying ``text`` to ``thread`` and tell open chats.

    For background jobs, management commands and staff replies; returns the saved item.
    """
    item = assistant_message(thread, text)
    add_item(thread, item, notify=notify)
    return item


async def aadd_assistant_message(
    thread: Thread, text: str, *, notify: bool = True
) -> ck.AssistantMessageItem:
    """Async :func:`add_assistant_message`."""
    item = assistant_message(thread, text)
    await aadd_item(thread, item, notify=notify)
    return item
