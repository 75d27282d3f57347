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

from django_chatkit.conf import conf
from django_chatkit.ratelimit import check_rate_limit


class ThreadNotActive(Exception):
    """The thread is locked or closed and takes no new user input."""


class RequestRefused(Exception):
    """A request over one of the limits: answered ``status`` with error ``code``."""

    headers: dict[str, str] = {}

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


def check_message_input(message: ck.UserMessageInput) -> None:
    """Refuse a user message over ``CHATKIT_MAX_ATTACHMENTS_PER_MESSAGE`` (400) or
    ``CHATKIT_MAX_MESSAGE_CHARS`` (413)."""
    max_attachments = conf.CHATKIT_MAX_ATTACHMENTS_PER_MESSAGE
    if len(message.attachments) > max_attachments:
        raise RequestRefused(
            400,
            "too_many_attachments",
            f"A message may have at most {max_attachments} attachments.",
        )
    max_chars = conf.CHATKIT_MAX_MESSAGE_CHARS
    chars = len(message.quoted_text or "")
    for part in message.content:
        chars += len(part.text)
    if chars > max_chars:
        raise RequestRefused(
            413, "message_too_large", f"A message may be at most {max_chars} characters long."
        )


async def preflight(server: ChatKitServer[Any], request: ck.StreamingReq, context: Any) -> None:
    """Raise ``NotFoundError``, ``ValueError``, :class:`ThreadNotActive`,
    :class:`RequestRefused` or :class:`~.ratelimit.RateLimited` early."""
    store = server.store
    params: Any = request.params
    if isinstance(request, (ck.ThreadsCreateReq, ck.ThreadsAddUserMessageReq)):
        check_message_input(params.input)
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

    # Last: a request refused above costs nothing.
    await check_rate_limit(getattr(context, "user", None))
