"""Checks a streaming request must pass before its response starts.

A ``StreamingResult`` is lazy: a missing thread or a foreign attachment fails during
iteration, after ``200`` and the headers went out. Everything that can fail for a
reason the client should hear about as ``404``/``400``/``409`` is checked here first,
with the same store calls (and so the same ownership rules) the SDK will make.
"""

from __future__ import annotations

from typing import Any

from chatkit import types as ck
from chatkit.server import ChatKitServer


class ThreadNotActive(Exception):
    """The thread is locked or closed and takes no new user input."""


async def preflight(server: ChatKitServer[Any], request: ck.StreamingReq, context: Any) -> None:
    """Raise ``NotFoundError``, ``ValueError`` or :class:`ThreadNotActive` early."""
    store = server.store
    params: Any = request.params
    thread: ck.ThreadMetadata | None = None
    if not isinstance(request, ck.ThreadsCreateReq):
        thread = await store.load_thread(params.thread_id, context)

    if isinstance(request, (ck.ThreadsCreateReq, ck.ThreadsAddUserMessageReq)):
        for attachment_id in dict.fromkeys(params.input.attachments):
            await store.load_attachment(attachment_id, context)

    if isinstance(request, (ck.ThreadsAddUserMessageReq, ck.ThreadsRetryAfterItemReq)):
        assert thread is not None
        if thread.status.type != "active":
            raise ThreadNotActive(f"Thread {thread.id} is {thread.status.type}")

    if isinstance(request, ck.ThreadsRetryAfterItemReq):
        item = await store.load_item(params.thread_id, params.item_id, context)
        if not isinstance(item, ck.UserMessageItem):
            raise ValueError(f"Item {params.item_id} is not a user message")
    elif isinstance(request, ck.ThreadsAddStructuredInputReq):
        item = await store.load_item(params.thread_id, params.item_id, context)
        if not isinstance(item, ck.StructuredInputItem):
            raise ValueError(f"Item {params.item_id} is not a structured input item")
        if item.status != "pending":
            raise ValueError(f"Structured input item {item.id} is not pending")
    elif isinstance(request, ck.ThreadsCustomActionReq) and params.item_id:
        item = await store.load_item(params.thread_id, params.item_id, context)
        if not isinstance(item, ck.WidgetItem):
            raise ValueError(f"Item {params.item_id} is not a widget")
    elif isinstance(request, ck.ThreadsAddClientToolOutputReq):
        last = await store.load_thread_items(params.thread_id, None, 1, "desc", context)
        if not any(
            isinstance(item, ck.ClientToolCallItem) and item.status == "pending"
            for item in last.data
        ):
            raise ValueError(f"Thread {params.thread_id} has no pending client tool call")
