"""The echo responder and the in-memory store, shared by all the stacks.

Nothing here imports Django: stack (a) (``sample_app``) must not pay for it.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from chatkit import types as ck
from chatkit.store import NotFoundError, Store, StoreItemType, default_generate_id

DELTAS = 20


def user_text(item: ck.UserMessageItem | None) -> str:
    if item is None:
        return ""
    return " ".join(c.text for c in item.content if isinstance(c, ck.UserMessageTextContent))


async def echo_respond(
    store: Store[Any], thread: ck.ThreadMetadata, message: ck.UserMessageItem | None, context: Any
) -> AsyncIterator[ck.ThreadStreamEvent]:
    """Answer the user's text in ``DELTAS`` deltas.

    ``slow <seconds> <text>`` pauses ``seconds`` before each delta (the many-streams run).
    """
    text = user_text(message) or "echo"
    pause = 0.0
    if text.startswith("slow "):
        _, seconds, *rest = text.split(" ", 2)
        pause, text = float(seconds), (rest[0] if rest else "") or "echo"
    item = ck.AssistantMessageItem(
        id=store.generate_item_id("message", thread, context),
        thread_id=thread.id,
        created_at=datetime.now(),
        content=[],
    )
    yield ck.ThreadItemAddedEvent(item=item)
    yield ck.ThreadItemUpdatedEvent(
        item_id=item.id,
        update=ck.AssistantMessageContentPartAdded(
            content_index=0, content=ck.AssistantMessageContent(text="")
        ),
    )
    step = max(1, -(-len(text) // DELTAS))
    pieces = [text[i * step : (i + 1) * step] for i in range(DELTAS)]
    for piece in pieces:
        if pause:
            await asyncio.sleep(pause)
        yield ck.ThreadItemUpdatedEvent(
            item_id=item.id,
            update=ck.AssistantMessageContentPartTextDelta(content_index=0, delta=piece),
        )
    item.content = [ck.AssistantMessageContent(text="".join(pieces))]
    yield ck.ThreadItemDoneEvent(item=item)


def _owner(context: Any) -> Any:
    user = getattr(context, "user", None)
    if user is not None:
        return user.pk
    return context.get("user_id") if isinstance(context, dict) else None


def _page(rows: list[Any], after: str | None, limit: int, order: str) -> ck.Page[Any]:
    ordered = rows if order == "asc" else rows[::-1]
    start = 0
    if after:
        ids = [row.id for row in ordered]
        if after not in ids:
            raise NotFoundError(f"{after} not found")
        start = ids.index(after) + 1
    data = ordered[start : start + limit]
    has_more = start + limit < len(ordered)
    return ck.Page(data=data, has_more=has_more, after=data[-1].id if has_more else None)


class MemoryStore(Store[Any]):
    """Threads and items in dicts, per owner (the official samples' kind of store)."""

    def __init__(self) -> None:
        self.threads: dict[Any, dict[str, ck.ThreadMetadata]] = {}
        self.items: dict[tuple[Any, str], dict[str, ck.ThreadItem]] = {}
        self.attachments: dict[str, ck.Attachment] = {}

    def generate_item_id(
        self, item_type: StoreItemType, thread: ck.ThreadMetadata, context: Any
    ) -> str:
        return default_generate_id(item_type)

    def _threads(self, context: Any) -> dict[str, ck.ThreadMetadata]:
        return self.threads.setdefault(_owner(context), {})

    def _items(self, thread_id: str, context: Any) -> dict[str, ck.ThreadItem]:
        if thread_id not in self._threads(context):
            raise NotFoundError(f"Thread {thread_id} not found")
        return self.items.setdefault((_owner(context), thread_id), {})

    async def load_thread(self, thread_id: str, context: Any) -> ck.ThreadMetadata:
        try:
            return self._threads(context)[thread_id].model_copy()
        except KeyError:
            raise NotFoundError(f"Thread {thread_id} not found") from None

    async def save_thread(self, thread: ck.ThreadMetadata, context: Any) -> None:
        if isinstance(thread, ck.Thread):
            thread = ck.ThreadMetadata.model_validate(thread.model_dump(exclude={"items"}))
        self._threads(context)[thread.id] = thread.model_copy()

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: Any
    ) -> ck.Page[ck.ThreadMetadata]:
        return _page(list(self._threads(context).values()), after, limit, order)

    async def delete_thread(self, thread_id: str, context: Any) -> None:
        self._threads(context).pop(thread_id, None)
        self.items.pop((_owner(context), thread_id), None)

    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: Any
    ) -> ck.Page[ck.ThreadItem]:
        return _page(list(self._items(thread_id, context).values()), after, limit, order)

    async def add_thread_item(self, thread_id: str, item: ck.ThreadItem, context: Any) -> None:
        self._items(thread_id, context)[item.id] = item.model_copy()

    async def save_item(self, thread_id: str, item: ck.ThreadItem, context: Any) -> None:
        self._items(thread_id, context)[item.id] = item.model_copy()

    async def load_item(self, thread_id: str, item_id: str, context: Any) -> ck.ThreadItem:
        try:
            return self._items(thread_id, context)[item_id]
        except KeyError:
            raise NotFoundError(f"Item {item_id} not found") from None

    async def delete_thread_item(self, thread_id: str, item_id: str, context: Any) -> None:
        self._items(thread_id, context).pop(item_id, None)

    async def save_attachment(self, attachment: ck.Attachment, context: Any) -> None:
        self.attachments[attachment.id] = attachment

    async def load_attachment(self, attachment_id: str, context: Any) -> ck.Attachment:
        try:
            return self.attachments[attachment_id]
        except KeyError:
            raise NotFoundError(f"Attachment {attachment_id} not found") from None

    async def delete_attachment(self, attachment_id: str, context: Any) -> None:
        self.attachments.pop(attachment_id, None)
