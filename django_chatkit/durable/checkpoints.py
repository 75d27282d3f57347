"""Checkpoints of an answer in progress, and the request flows of a durable request.

:class:`DurableServer` runs one durable request with the SDK's request flows, as the
project's server would, but each stream of events its ``respond()`` or ``action()``
yields goes through :func:`checkpointed` on its way to the SDK:

* at most every ``CHATKIT_CHECKPOINT_INTERVAL`` seconds once its client went away (five
  times less often while the client still reads it), an assistant message whose text
  changed is saved as it is so far (``store.save_item``), and the user's open chats are
  told (:func:`django_chatkit.live.anotify_thread`), so a reloaded page shows the text
  so far and fetches more. The request remembers the item as read, so the SDK's final
  ``add_thread_item`` (or its cancellation handler's) updates it in place: no duplicate;
* if the answer fails (the SDK then saves none of its pending items), the checkpointed
  half items are deleted, as if never saved.
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

from chatkit import types as ck
from chatkit.server import ChatKitServer
from chatkit.store import NotFoundError

from django_chatkit.context import ChatKitContext
from django_chatkit.live.updates import anotify_thread
from django_chatkit.managers import Owner
from django_chatkit.models import Thread

logger = logging.getLogger("django_chatkit")

#: While its client still reads the stream, an answer is checkpointed this many times
#: less often: the client has the text, the store's copy only matters if the worker dies.
ATTACHED_INTERVALS = 5

_ASSISTANT_UPDATES = (
    ck.AssistantMessageContentPartAdded,
    ck.AssistantMessageContentPartTextDelta,
    ck.AssistantMessageContentPartAnnotationAdded,
    ck.AssistantMessageContentPartDone,
)


def thread_of(owner: Owner, thread_id: str, thread_pk: int) -> Thread:
    """An unsaved ``Thread`` naming the row (enough to notify its owner's chats)."""
    return Thread(pk=thread_pk, user_id=owner.user_id, scope=owner.scope, chatkit_id=thread_id)


async def checkpointed(
    server: ChatKitServer[ChatKitContext],
    events: AsyncIterator[ck.ThreadStreamEvent],
    thread: ck.ThreadMetadata,
    context: ChatKitContext,
) -> AsyncIterator[ck.ThreadStreamEvent]:
    """``events``, with the answer's claim and checkpoints (see the module docstring)."""
    run = context.running
    interval = run.checkpoint_interval if run is not None else 1.0
    pending: dict[str, ck.AssistantMessageItem] = {}
    changed: set[str] = set()
    saved: set[str] = set()  # checkpointed and not done yet
    last = time.monotonic()
    try:
        async for event in events:
            if isinstance(event, ck.ThreadItemAddedEvent) and isinstance(
                event.item, ck.AssistantMessageItem
            ):
                pending[event.item.id] = event.item.model_copy(deep=True)
            elif isinstance(event, ck.ThreadItemUpdatedEvent) and event.item_id in pending:
                if isinstance(event.update, _ASSISTANT_UPDATES):
                    # The SDK's own bookkeeping of a streamed message (pinned by tests), on
                    # a copy: it keeps the update's content part, which the SDK keeps too.
                    update = event.update.model_copy(deep=True)
                    server._apply_assistant_message_update(pending[event.item_id], update)
                    changed.add(event.item_id)
            elif isinstance(
                event,
                (ck.ThreadItemDoneEvent, ck.ThreadItemReplacedEvent, ck.ThreadItemRemovedEvent),
            ):
                removed = isinstance(event, ck.ThreadItemRemovedEvent)
                ended = event.item_id if removed else event.item.id  # type: ignore[union-attr]
                pending.pop(ended, None)
                changed.discard(ended)
                saved.discard(ended)
            yield event
            stream = run.stream if run is not None else None
            attached = stream is not None and not stream.detached
            due = interval * (ATTACHED_INTERVALS if attached else 1)
            if changed and time.monotonic() - last >= due:
                for item_id in list(changed):
                    await _checkpoint(server, pending[item_id], thread, context)
                    saved.add(item_id)
                changed.clear()
                last = time.monotonic()
    except Exception:
        for item_id in saved:  # the SDK saves no pending item of a failed answer
            with contextlib.suppress(NotFoundError):
                await server.store.delete_thread_item(thread.id, item_id, context=context)
        raise


async def _checkpoint(
    server: ChatKitServer[ChatKitContext],
    item: ck.AssistantMessageItem,
    thread: ck.ThreadMetadata,
    context: ChatKitContext,
) -> None:
    if not any(part.text.strip() for part in item.content):
        return
    try:
        await server.store.save_item(thread.id, item.model_copy(deep=True), context=context)
    except NotFoundError:  # the thread was deleted meanwhile: the SDK will find out
        return
    if context.reads is not None:  # the final add continues what was checkpointed
        context.reads.loaded(thread.id, [item.id])
    run = context.running
    if run is not None and run.thread_pk:
        await anotify_thread(thread_of(Owner.of(context), thread.id, run.thread_pk))


class DurableServer(ChatKitServer[ChatKitContext]):
    """The SDK's request flows for one durable request: ``inner``'s (the project's server,
    or its hand-off stand-in), with every answer stream :func:`checkpointed`."""

    def __init__(self, inner: ChatKitServer[ChatKitContext]) -> None:
        super().__init__(inner.store, inner.attachment_store)
        self.inner = inner

    def respond(
        self,
        thread: ck.ThreadMetadata,
        input_user_message: ck.UserMessageItem | None,
        context: ChatKitContext,
    ) -> AsyncIterator[ck.ThreadStreamEvent]:
        events = self.inner.respond(thread, input_user_message, context)
        return checkpointed(self.inner, events, thread, context)

    def action(self, thread: Any, action: Any, sender: Any, context: ChatKitContext) -> Any:
        events = self.inner.action(thread, action, sender, context)
        return checkpointed(self.inner, events, thread, context)

    def get_stream_options(self, *args: Any, **kwargs: Any) -> ck.StreamOptions:
        return self.inner.get_stream_options(*args, **kwargs)

    async def handle_stream_cancelled(self, *args: Any, **kwargs: Any) -> None:
        await self.inner.handle_stream_cancelled(*args, **kwargs)
