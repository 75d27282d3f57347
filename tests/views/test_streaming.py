"""Streaming internals: cancellation that lands inside Django's ``send()``, repeated
cancellation, and failures outside the SDK (``django_chatkit.views.streaming``)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from django.contrib.auth import get_user_model
from django.test import AsyncClient

from django_chatkit.models import ThreadItem
from django_chatkit.views.streaming import (
    STREAM_ERROR_CHUNK,
    EventStream,
    EventStreamResponse,
)
from tests.support.live import asgi_application, both_paths
from tests.support.protocol import new_thread, parse_sse, session_http_scope

CANCEL_MARKER = "The user cancelled the stream. Stop responding to the prior request."


@pytest.mark.django_db(transaction=True)
@both_paths
async def test_disconnect_while_django_is_blocked_in_send(tmp_path: Any, lean: bool) -> None:
    """The client goes away while Django waits for a full socket, not for the SDK.

    Real servers rarely leave Django there (daphne's ``send()`` never waits; uvicorn
    lets it return before reporting the disconnect), so an in-process ASGI server
    whose ``send()`` blocks like a full socket makes the case certain. Without the
    separate producer task the SDK generator would only be abandoned here, and
    nothing of the answer would be saved.
    """
    user = await get_user_model().objects.acreate_user("carol", password="pw")
    client = AsyncClient()
    await client.aforce_login(user)
    body = json.dumps(new_thread(f"gate {tmp_path / 'never-created'}")).encode()
    scope = session_http_scope(client, body)
    body_sent = False
    disconnected = asyncio.Event()
    blocked = asyncio.Event()
    frames: list[bytes] = []

    async def receive() -> dict[str, Any]:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            assert message["status"] == 200
            return
        chunk = message.get("body", b"")
        if b"before-gate" in chunk:  # the socket is full from here on
            blocked.set()
            await asyncio.get_running_loop().create_future()
        frames.append(chunk)

    application = asgi_application(lean=lean)
    request = asyncio.create_task(application(scope, receive, send))
    await asyncio.wait_for(blocked.wait(), timeout=10)
    disconnected.set()
    await asyncio.wait_for(request, timeout=10)

    [created] = parse_sse(frames[0])
    thread_id = created["thread"]["id"]
    rows = ThreadItem.objects.filter(thread__user=user, thread__chatkit_id=thread_id)
    items: list[Any] = []
    for _ in range(500):  # the producer saves in the background: poll up to 10 s
        items = [row.to_chatkit() async for row in rows.order_by("created_at", "id")]
        if any(item.type == "sdk_hidden_context" for item in items):
            break
        await asyncio.sleep(0.02)
    assert [item.type for item in items] == [
        "user_message",
        "assistant_message",
        "sdk_hidden_context",
    ]
    assert items[1].content[0].text == "before-gate "
    assert items[2].content == CANCEL_MARKER


async def test_a_second_cancel_does_not_interrupt_the_cancellation_handler() -> None:
    """The iterator's end and the handler's ``close()`` both cancel; only one may land."""
    saved: list[str] = []
    saving = asyncio.Event()
    still_saving = asyncio.Event()

    async def source() -> Any:
        try:
            yield b"data: {}\n\n"
            await asyncio.Event().wait()  # respond() waiting for the model
        except asyncio.CancelledError:
            # Like the SDK's handle_stream_cancelled: it saves the partial answer, then
            # (an await later) the "user cancelled" marker.
            saved.append("partial answer")
            saving.set()
            await still_saving.wait()
            saved.append("cancel marker")
            raise

    stream = EventStream(source())
    response = EventStreamResponse(stream)
    first = asyncio.Event()

    async def serve() -> None:  # Django's send_response() loop
        async for _chunk in response:
            first.set()

    serving = asyncio.create_task(serve())
    await first.wait()
    serving.cancel()  # the client went away while Django waited for the next event
    with pytest.raises(asyncio.CancelledError):
        await serving
    await saving.wait()
    await sync_to_async(response.close)()  # Django's handler, from a worker thread
    await asyncio.sleep(0)
    still_saving.set()
    await asyncio.wait_for(stream.wait(), timeout=5)

    assert saved == ["partial answer", "cancel marker"]
    assert stream.outcome == "cancelled"


async def test_failure_outside_the_sdk_ends_with_an_error_event() -> None:
    finished: list[str] = []

    async def source() -> Any:
        yield b'data: {"type":"stream_options"}\n\n'
        raise RuntimeError("store is down")

    stream = EventStream(source(), on_finish=lambda s: finished.append(s.outcome))
    body = b"".join([chunk async for chunk in stream.chunks()])

    assert body == b'data: {"type":"stream_options"}\n\n' + STREAM_ERROR_CHUNK
    assert parse_sse(STREAM_ERROR_CHUNK) == [
        {"type": "error", "code": "stream.error", "allow_retry": True}
    ]
    assert finished == ["error"]


async def test_closing_an_unstarted_response_is_harmless() -> None:
    started: list[bool] = []

    async def source() -> Any:
        started.append(True)
        yield b"data: {}\n\n"

    response = EventStreamResponse(EventStream(source()))
    await sync_to_async(response.close)()
    assert started == []


async def test_a_durable_stream_runs_on_after_its_reader_left() -> None:
    gate, done = asyncio.Event(), asyncio.Event()

    async def source() -> AsyncIterator[bytes]:
        yield b"data: 1\n\n"
        await gate.wait()
        yield b"data: 2\n\n"
        done.set()

    stream = EventStream(source(), durable=True)
    chunks = stream.chunks()
    assert await anext(chunks) == b"data: 1\n\n"
    await chunks.aclose()  # the client went away
    gate.set()
    await asyncio.wait_for(done.wait(), 5)
    await stream.wait()
    assert stream.outcome == "completed"


async def test_a_durable_stream_whose_response_never_started_runs_anyway() -> None:
    done = asyncio.Event()

    async def source() -> AsyncIterator[bytes]:
        yield b"data: 1\n\n"
        done.set()

    response = EventStreamResponse(EventStream(source(), durable=True))
    await asyncio.to_thread(response.close)  # as Django's ASGI handler closes it
    await asyncio.wait_for(done.wait(), 5)
