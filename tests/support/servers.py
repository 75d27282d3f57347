"""The suite's ChatKit servers. ``ScriptedServer`` (``CHATKIT_SERVER``) answers as the
user's message scripts it; ``FuzzServer`` answers anything (tests/views/test_fuzz.py).

The text of the user message picks ``ScriptedServer``'s behaviour:

``echo <text>`` (or anything else)
    answers ``<text>`` in several deltas.
``slow <n> <seconds>``
    answers ``n`` deltas ``seconds`` apart.
``gate <path>``
    sends one delta, waits until the file ``path`` exists, then finishes.
``fail``
    sends one delta, then raises.
``big <n> <kib> <path>``
    sends ``n`` deltas of ``kib`` KiB each, then waits for ``path`` like ``gate``.
``title <text>``
    answers and sets the thread title.
``language``
    answers the request's language (``ChatKitContext.language``).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

from chatkit import types as ck

from django_chatkit.context import ChatKitContext
from django_chatkit.server import DjangoChatKitServer
from django_chatkit.usage import record_usage


def user_text(item: ck.UserMessageItem | None) -> str:
    if item is None:
        return ""
    return " ".join(c.text for c in item.content if isinstance(c, ck.UserMessageTextContent))


async def wait_for_file(path: str) -> None:
    """Wait (30 s at most) until ``path`` exists: the test's signal to go on."""
    # The signal comes from another process (the test driving a live server): poll.
    async with asyncio.timeout(30):
        while not await asyncio.to_thread(os.path.exists, path):  # noqa: ASYNC110
            await asyncio.sleep(0.02)


class ScriptedServer(DjangoChatKitServer):
    async def respond(
        self,
        thread: ck.ThreadMetadata,
        input_user_message: ck.UserMessageItem | None,
        context: ChatKitContext,
    ) -> AsyncIterator[ck.ThreadStreamEvent]:
        words = user_text(input_user_message).split()
        command = words[0] if words else "echo"
        item = ck.AssistantMessageItem(
            id=self.store.generate_item_id("message", thread, context),
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
        text = ""

        def delta(piece: str) -> ck.ThreadItemUpdatedEvent:
            nonlocal text
            text += piece
            return ck.ThreadItemUpdatedEvent(
                item_id=item.id,
                update=ck.AssistantMessageContentPartTextDelta(content_index=0, delta=piece),
            )

        if command == "slow":
            count, pause = int(words[1]), float(words[2])
            for index in range(count):
                yield delta(f"part{index} ")
                await asyncio.sleep(pause)
        elif command == "gate":
            yield delta("before-gate ")
            await wait_for_file(words[1])
            yield delta("after-gate")
        elif command == "fail":
            yield delta("about to fail ")
            raise RuntimeError("scripted failure")
        elif command == "language":
            yield delta(context.language or "-")
        elif command == "big":
            count, kib = int(words[1]), int(words[2])
            for _ in range(count):
                yield delta("x" * (kib * 1024))
            await wait_for_file(words[3])
            yield delta("end")
        else:
            if command == "title":
                thread.title = " ".join(words[1:]) or "Titled"
            body = " ".join(words[1:]) if command in ("echo", "title") else " ".join(words)
            for piece in (body or "hello").split(" "):
                yield delta(piece + " ")

        done = item.model_copy(update={"content": [ck.AssistantMessageContent(text=text)]})
        yield ck.ThreadItemDoneEvent(item=done)


class UsageServer(ScriptedServer):
    """``ScriptedServer`` that records 100 tokens (60 in, 40 out) per answer with the
    one-line ``record_usage`` (tests/usage/)."""

    async def respond(
        self,
        thread: ck.ThreadMetadata,
        input_user_message: ck.UserMessageItem | None,
        context: ChatKitContext,
    ) -> AsyncIterator[ck.ThreadStreamEvent]:
        async for event in super().respond(thread, input_user_message, context):
            yield event
        usage = {"input_tokens": 60, "output_tokens": 40}
        await record_usage(context, thread.id, "scripted", usage, 0.01)


class FuzzServer(DjangoChatKitServer):
    """Answers everything, quickly, whatever the input (actions included)."""

    async def respond(
        self,
        thread: ck.ThreadMetadata,
        input_user_message: ck.UserMessageItem | None,
        context: ChatKitContext,
    ) -> AsyncIterator[ck.ThreadStreamEvent]:
        yield ck.ThreadItemDoneEvent(
            item=ck.AssistantMessageItem(
                id=self.store.generate_item_id("message", thread, context),
                thread_id=thread.id,
                created_at=datetime.now(),
                content=[ck.AssistantMessageContent(text="ok")],
            )
        )

    async def action(
        self, thread: Any, action: Any, sender: Any, context: ChatKitContext
    ) -> AsyncIterator[ck.ThreadStreamEvent]:
        async for event in self.respond(thread, None, context):
            yield event

    async def sync_action(
        self, thread: Any, action: Any, sender: Any, context: ChatKitContext
    ) -> ck.SyncCustomActionResponse:
        return ck.SyncCustomActionResponse(updated_item=sender)
