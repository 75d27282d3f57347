"""The worker's side of durable answers in process: the rows (claims, stale rows marked
interrupted), the cancel endpoint and ``request_cancel`` (this worker, another worker
over the channel layer, no channel layer), the heartbeat task, and the SIGTERM grace."""

from __future__ import annotations

import asyncio
import signal
from datetime import datetime, timedelta
from typing import Any

import pytest
from channels.layers import get_channel_layer
from chatkit import types as ck
from django.test import override_settings
from django.utils import timezone

from django_chatkit.db import run_db
from django_chatkit.durable import request_cancel, running
from django_chatkit.durable.worker import Run, worker
from django_chatkit.exceptions import ResponseRunning, TooManyResponses
from django_chatkit.managers import Owner
from django_chatkit.models import RunningResponse, Thread
from tests.support.consistency import stored_items

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("stopped_worker")]


class FakeStream:
    """The stream a run runs in: records the cancel; ends when told."""

    detached = True

    def __init__(self) -> None:
        self.cancelled = asyncio.Event()

    def start(self) -> None:
        pass

    def cancel(self) -> None:
        self.cancelled.set()

    async def wait(self) -> None:
        await self.cancelled.wait()


async def new_thread(user: Any, chatkit_id: str = "thr_w") -> Thread:
    payload = ck.ThreadMetadata(id=chatkit_id, created_at=datetime.now()).model_dump_json()
    return await Thread.objects.acreate(
        chatkit_id=chatkit_id, user=user, created_at=timezone.now(), payload=payload
    )


async def old_row(thread: Thread, worker_id: str = "dead-worker") -> RunningResponse:
    long_ago = timezone.now() - timedelta(hours=1)
    return await RunningResponse.objects.acreate(
        thread=thread, user_id=thread.user_id, worker=worker_id, heartbeat_at=long_ago
    )


async def test_a_thread_is_claimed_once_and_a_dead_workers_claim_is_taken_over(
    alice: Any,
) -> None:
    thread = await new_thread(alice)
    owner = Owner(alice.pk)
    assert await run_db(running.claim, owner, "thr_missing", "me") == 0
    assert await run_db(running.claim, owner, thread.chatkit_id, "me") == thread.pk
    with pytest.raises(ResponseRunning):
        await run_db(running.claim, owner, thread.chatkit_id, "another")
    await RunningResponse.objects.filter(pk=thread.pk).aupdate(
        heartbeat_at=timezone.now() - timedelta(hours=1)
    )
    assert await run_db(running.claim, owner, thread.chatkit_id, "another") == thread.pk
    row = await RunningResponse.objects.aget(pk=thread.pk)
    assert row.worker == "another"
    [note] = await run_db(stored_items, alice, thread.chatkit_id)
    assert isinstance(note, ck.SDKHiddenContextItem) and "interrupted" in note.content


async def test_stale_rows_are_marked_once_and_do_not_count_against_the_limit(
    alice: Any,
) -> None:
    threads = [await new_thread(alice, f"thr_{n}") for n in range(3)]
    for thread in threads:
        await old_row(thread)
    await run_db(running.check_user_limit, alice.pk)  # stale rows: no limit hit
    assert await run_db(running.interrupt_stale) == 3
    assert await run_db(running.interrupt_stale) == 0
    assert await RunningResponse.objects.acount() == 0
    for thread in threads:
        await RunningResponse.objects.acreate(thread=thread, user=alice, worker="live")
    with pytest.raises(TooManyResponses):
        await run_db(running.check_user_limit, alice.pk)


@override_settings(CHATKIT_RESPONSE_HEARTBEAT=0.05)
async def test_the_heartbeat_keeps_this_workers_rows_and_marks_dead_ones(alice: Any) -> None:
    here = worker()
    await here.start()
    mine, dead = await new_thread(alice, "thr_mine"), await new_thread(alice, "thr_dead")
    await old_row(mine, here.id)
    await old_row(dead)
    here.add(Run(user_id=alice.pk, thread_pk=mine.pk, thread_id=mine.chatkit_id))
    async with asyncio.timeout(10):
        while await RunningResponse.objects.filter(pk=dead.pk).aexists():  # noqa: ASYNC110  (the worker task deletes it)
            await asyncio.sleep(0.02)
    row = await RunningResponse.objects.aget(pk=mine.pk)
    assert row.heartbeat_at > timezone.now() - timedelta(seconds=5)  # beaten


async def test_a_cancel_reaches_this_worker_another_one_or_nobody(
    alice: Any, settings: Any
) -> None:
    here = worker()
    await here.start()
    thread = await new_thread(alice)
    assert await request_cancel(thread) is False  # nothing runs

    # Runs here.
    row = await RunningResponse.objects.acreate(thread=thread, user=alice, worker=here.id)
    run = Run(user_id=alice.pk, thread_pk=thread.pk, thread_id=thread.chatkit_id)
    run.stream = stream = FakeStream()
    here.add(run)
    assert await request_cancel(thread) is True
    assert stream.cancelled.is_set() and run.cancel_requested

    # Runs on another worker: the message goes to its channel.
    layer = get_channel_layer()
    other = await layer.new_channel()
    row.worker = other
    await row.asave()
    assert await request_cancel(thread) is True
    message = await asyncio.wait_for(layer.receive(other), 2)
    assert message == {"type": "chatkit.cancel", "thread": thread.pk}

    # This worker's listener hears such a message.
    again = FakeStream()
    run.stream = again
    await layer.send(here.channel, message)
    await asyncio.wait_for(again.cancelled.wait(), 2)

    # With no channel layer, another worker cannot be reached.
    settings.CHANNEL_LAYERS = {}
    assert await request_cancel(thread) is False


async def test_the_cancel_endpoint(alice: Any, bob: Any, chat: Any) -> None:
    thread = await new_thread(alice)
    url = f"/chatkit/threads/{thread.chatkit_id}/cancel/"
    response = await chat.post(url)
    assert response.status_code == 200 and response.json() == {"cancelled": False}
    assert (await chat.post("/chatkit/threads/thr_nope/cancel/")).status_code == 404
    assert (await chat.post("/chatkit/threads/%00/cancel/")).status_code == 404
    await chat.aforce_login(bob)
    foreign = await chat.post(url)
    assert foreign.status_code == 404 and foreign.json()["error"] == "not_found"
    await chat.alogout()
    assert (await chat.post(url)).status_code == 401


async def test_sigterm_waits_for_the_grace_then_cancels_and_passes_the_signal_on(
    alice: Any, settings: Any
) -> None:
    settings.CHATKIT_SHUTDOWN_GRACE = 0.2
    here = worker()
    await here.start()
    handed_on: list[int] = []
    previous, here._previous_handler = here._previous_handler, lambda s, f: handed_on.append(s)
    try:
        quick, slow = Run(user_id=alice.pk, thread_pk=1), Run(user_id=alice.pk, thread_pk=2)
        slow.stream = stream = FakeStream()
        here.add(quick)
        here.add(slow)
        asyncio.get_running_loop().call_later(0.05, here.remove, quick)  # ends in time
        stream_end = asyncio.ensure_future(stream.wait())
        stream_end.add_done_callback(lambda _: here.remove(slow))  # ends once cancelled
        await here._shut_down(signal.SIGTERM)
        assert not quick.cancel_requested and slow.cancel_requested
        assert handed_on == [signal.SIGTERM]
    finally:
        here._previous_handler = previous
        here.shutting_down = False
