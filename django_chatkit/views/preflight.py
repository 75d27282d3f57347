"""Checks a request must pass before the server handles it.

A ``StreamingResult`` is lazy: a missing thread or a foreign attachment fails during
iteration, after ``200`` and the headers went out. Everything that can fail for a
reason the client should hear about as ``404``/``400``/``409`` is checked here first,
with the same store calls (and so the same ownership rules) the SDK will make. Of the
other operations, two would fail with a ``ValueError`` the SDK raises for input that
cannot apply; they are checked here too, and answered ``400``.
"""

from __future__ import annotations

import base64
from typing import Any

from chatkit import types as ck
from chatkit.server import ChatKitServer

from django_chatkit.conf import conf
from django_chatkit.exceptions import (
    InvalidRequest,
    MessageTooLarge,
    ThreadNotActive,
    TooManyAttachments,
)
from django_chatkit.ratelimit import check_rate_limit
from django_chatkit.usage.quotas import check_usage_limits


def check_message_input(message: ck.UserMessageInput) -> None:
    """Refuse a user message over ``CHATKIT_MAX_ATTACHMENTS_PER_MESSAGE``
    (:class:`~django_chatkit.exceptions.TooManyAttachments`, 400) or
    ``CHATKIT_MAX_MESSAGE_CHARS`` (:class:`~django_chatkit.exceptions.MessageTooLarge`, 413)."""
    max_attachments = conf.CHATKIT_MAX_ATTACHMENTS_PER_MESSAGE
    if len(message.attachments) > max_attachments:
        raise TooManyAttachments(f"A message may have at most {max_attachments} attachments.")
    max_chars = conf.CHATKIT_MAX_MESSAGE_CHARS
    chars = len(message.quoted_text or "")
    for part in message.content:
        chars += len(part.text)
    if chars > max_chars:
        raise MessageTooLarge(f"A message may be at most {max_chars} characters long.")


async def preflight(server: ChatKitServer[Any], request: ck.ChatKitReq, context: Any) -> None:
    """Raise ``NotFoundError`` (404) or a :class:`~django_chatkit.exceptions.ChatKitError`
    early: ``InvalidRequest`` (400), ``ThreadNotActive`` (409), the limits'
    ``TooManyAttachments``, ``MessageTooLarge``, ``QuotaExceeded`` and ``RateLimited``."""
    if not ck.is_streaming_req(request):
        await check_non_streaming(server, request, context)
        return
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
            raise InvalidRequest(f"Item {params.item_id} is not a user message")
    elif isinstance(request, ck.ThreadsAddStructuredInputReq):
        item = await store.load_item(params.thread_id, params.item_id, context)
        if not isinstance(item, ck.StructuredInputItem):
            raise InvalidRequest(f"Item {params.item_id} is not a structured input item")
        if item.status != "pending":
            raise InvalidRequest(f"Structured input item {item.id} is not pending")
    elif isinstance(request, ck.ThreadsCustomActionReq) and params.item_id:
        item = await store.load_item(params.thread_id, params.item_id, context)
        if not isinstance(item, ck.WidgetItem):
            raise InvalidRequest(f"Item {params.item_id} is not a widget")
    elif isinstance(request, ck.ThreadsAddClientToolOutputReq):
        last = await store.load_thread_items(params.thread_id, None, 1, "desc", context)
        if not any(
            isinstance(item, ck.ClientToolCallItem) and item.status == "pending"
            for item in last.data
        ):
            raise InvalidRequest(f"Thread {params.thread_id} has no pending client tool call")

    # One query, with CHATKIT_USAGE_LIMITS only; before the rate limit, which counts.
    await check_usage_limits(context)
    # Last: a request refused above costs nothing.
    await check_rate_limit(getattr(context, "user", None))


async def check_non_streaming(
    server: ChatKitServer[Any], request: ck.NonStreamingReq, context: Any
) -> None:
    """Refuse (``InvalidRequest``, 400) what the SDK would refuse with a ``ValueError``:
    ``audio_base64`` that is not base64, a sync action's sender item that is not a widget."""
    params: Any = request.params
    if isinstance(request, ck.InputTranscribeReq):
        try:
            base64.b64decode(params.audio_base64)  # as the SDK decodes it
        except ValueError as exc:  # binascii.Error, or characters that are not ASCII
            raise InvalidRequest(f"params.audio_base64 is not base64: {exc}") from None
    elif isinstance(request, ck.ThreadsSyncCustomActionReq) and params.item_id:
        item = await server.store.load_item(params.thread_id, params.item_id, context)
        if not isinstance(item, ck.WidgetItem):
            raise InvalidRequest(f"Item {params.item_id} is not a widget")
