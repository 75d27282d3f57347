"""Durable answers in process: checkpoints, the refusals before an answer starts, and
nothing at all with the setting off."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Any

import pytest
from channels.layers import get_channel_layer
from chatkit import types as ck
from django.test import override_settings

from django_chatkit.context import ChatKitContext, RequestReads
from django_chatkit.db import run_db
from django_chatkit.durable.checkpoints import DurableServer, checkpointed
from django_chatkit.durable.worker import Run, worker
from django_chatkit.live import user_group
from django_chatkit.models import RunningResponse, Thread, ThreadItem
from tests.support.protocol import add_message, new_thread, post, stream
from tests.support.servers import ScriptedServer

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("stopped_worker")]


async def saved_thread(server: ScriptedServer, context: ChatKitContext) -> ck.ThreadMetadata:
    thread = ck.ThreadMetadata(id="thr_durable", created_at=datetime.now())
    await server.store.save_thread(thread, context)
    return thread


def answer_events(thread: ck.ThreadMetadata, fail: bool) -> AsyncIterator[ck.ThreadStreamEvent]:
    item = ck.AssistantMessageItem(
        id="msg_answer", thread_id=thread.id, created_at=datetime.now(), content=[]
    )

    async def events() -> AsyncIterator[ck.ThreadStreamEvent]:
        yield ck.ThreadItemAddedEvent(item=item)
        part = ck.AssistantMessageContent(text="")
        yield ck.ThreadItemUpdatedEvent(
            item_id=item.id,
            update=ck.AssistantMessageContentPartAdded(content_index=0, content=part),
        )
        for word in ("so ", "far "):
            yield ck.ThreadItemUpdatedEvent(
                item_id=item.id,
                update=ck.AssistantMessageContentPartTextDelta(content_index=0, delta=word),
            )
        if fail:
            raise RuntimeError("the model failed")
        done = ck.AssistantMessageContent(text="so far done")
        yield ck.ThreadItemDoneEvent(item=item.model_copy(update={"content": [done]}))

    return events()


def stored_text() -> list[str]:
    return [
        "".join(part.text for part in item.to_chatkit().content)  # type: ignore[union-attr]
        for item in ThreadItem.objects.filter(type="assistant_message")
    ]


async def test_a_checkpoint_saves_the_text_so_far_and_tells_open_chats(alice: Any) -> None:
    server = ScriptedServer()
    context = ChatKitContext(user=alice, reads=RequestReads())
    thread = await saved_thread(server, context)
    context.running = Run(user_id=alice.pk, thread_id=thread.id, checkpoint_interval=0)
    context.running.thread_pk = await Thread.objects.values_list("pk", flat=True).aget()
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(user_group(alice.pk), channel)

    events = checkpointed(server, answer_events(thread, fail=False), thread, context)
    seen = []
    async for event in events:
        seen.append(event)
        if isinstance(event, ck.ThreadItemDoneEvent):  # the SDK saves it: continued
            assert context.reads.continues(thread.id, event.item.id)
            await server.store.add_thread_item(thread.id, event.item, context)
    assert len(seen) == 5
    assert await asyncio.wait_for(layer.receive(channel), 1) == {
        "type": "chatkit.thread_updated",
        "thread_id": thread.id,
        "scope": "",
    }
    assert await run_db(stored_text) == ["so far done"]  # updated, not added


async def test_a_failed_answer_leaves_no_checkpointed_half_item(alice: Any) -> None:
    server = ScriptedServer()
    context = ChatKitContext(user=alice, reads=RequestReads())
    thread = await saved_thread(server, context)
    context.running = Run(user_id=alice.pk, thread_id=thread.id, checkpoint_interval=0)
    checkpoints = []
    with pytest.raises(RuntimeError, match="the model failed"):
        async for _event in checkpointed(server, answer_events(thread, fail=True), thread, context):
            checkpoints.append(await run_db(stored_text))
    assert ["so "] in checkpoints  # it was checkpointed (after each event)...
    assert await run_db(stored_text) == []  # ...and is gone


class ProbeServer(ScriptedServer):
    """Counts the running-answer rows while it answers."""

    seen: list[int] = []

    async def respond(self, thread: Any, item: Any, context: Any) -> AsyncIterator[Any]:
        ProbeServer.seen.append(await RunningResponse.objects.acount())
        async for event in super().respond(thread, item, context):
            yield event


@override_settings(CHATKIT_SERVER="tests.durable.test_checkpoints.ProbeServer")
@pytest.mark.parametrize("durable", [False, True])
async def test_a_row_exists_while_a_durable_answer_runs_and_only_then(
    chat: Any, durable: bool
) -> None:
    ProbeServer.seen = []
    with override_settings(CHATKIT_DURABLE_RESPONSES=durable):
        events = await stream(chat, new_thread("echo hello"))
        thread_id = events[0]["thread"]["id"]
        await stream(chat, add_message(thread_id, "echo again"))
    assert ProbeServer.seen == ([1, 1] if durable else [0, 0])
    assert await RunningResponse.objects.acount() == 0


@override_settings(CHATKIT_DURABLE_RESPONSES=True)
async def test_a_worker_over_its_limit_or_shutting_down_starts_no_answer(chat: Any) -> None:
    with override_settings(CHATKIT_MAX_RUNNING_PER_WORKER=0):
        response = await post(chat, new_thread("echo hello"))
    assert response.status_code == 429
    assert response.json()["error"] == "too_many_responses"
    assert response.headers["Retry-After"]

    worker().shutting_down = True
    response = await post(chat, new_thread("echo hello"))
    assert response.status_code == 503
    assert response.json()["error"] == "shutting_down"
    assert await Thread.objects.acount() == 0  # nothing was saved


class ActingServer(ScriptedServer):
    """Answers an action the way it answers a message."""

    async def action(self, thread: Any, action: Any, sender: Any, context: Any) -> Any:
        async for event in answer_events(thread, fail=False):
            yield event


async def test_the_durable_flows_checkpoint_actions_and_cancel_as_the_server_does(
    alice: Any,
) -> None:
    inner = ActingServer()
    context = ChatKitContext(user=alice, reads=RequestReads())
    thread = await saved_thread(inner, context)
    context.running = Run(user_id=alice.pk, thread_id=thread.id, checkpoint_interval=0)
    durable = DurableServer(inner)
    action = ck.Action(type="go", payload={})
    events = [e async for e in durable.action(thread, action, None, context)]
    assert isinstance(events[-1], ck.ThreadItemDoneEvent)
    assert await run_db(stored_text) == ["so far "]  # the last checkpoint
    assert durable.get_stream_options(thread, context) == inner.get_stream_options(thread, context)
    await durable.handle_stream_cancelled(thread, [], context)  # the SDK's: its note
    assert await ThreadItem.objects.filter(type="sdk_hidden_context").acount() == 1


async def test_a_checkpoint_of_a_deleted_thread_is_skipped(alice: Any) -> None:
    server = ScriptedServer()
    context = ChatKitContext(user=alice, reads=RequestReads())
    thread = await saved_thread(server, context)
    context.running = Run(user_id=alice.pk, thread_id=thread.id, checkpoint_interval=0)
    await Thread.objects.all().adelete()
    events = [e async for e in checkpointed(server, answer_events(thread, False), thread, context)]
    assert len(events) == 5 and await ThreadItem.objects.acount() == 0
