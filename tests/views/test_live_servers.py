"""The endpoint served by real ASGI servers (daphne and uvicorn) over loopback TCP.

Each test runs once per server and path (Django's handler, the lean path). The server
process shares this run's test database, so the tests commit (``transaction=True``) and
poll the database for what the server saves after a client went away.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.contrib.auth import get_user_model

from django_chatkit.models import ThreadItem
from tests.support.live import LiveServer, live_client, streamed
from tests.support.protocol import add_message, is_delta, new_thread, sse_events

pytestmark = pytest.mark.django_db(transaction=True)

CANCEL_MARKER = "The user cancelled the stream. Stop responding to the prior request."


def read_until(stream: Any, predicate: Any) -> list[dict[str, Any]]:
    """Events from ``stream`` up to and including the first one matching ``predicate``."""
    events = []
    for event in stream:
        events.append(event)
        if predicate(event):
            return events
    raise AssertionError(f"stream ended before the expected event: {events}")


def wait_for_items(user: Any, thread_id: str, until: Any, timeout: float = 15.0) -> list[Any]:
    """Poll the database until ``until(items)`` holds for the thread's saved items."""
    deadline = time.monotonic() + timeout
    while True:
        items = [
            row.to_chatkit()
            for row in ThreadItem.objects.filter(
                thread__user=user, thread__chatkit_id=thread_id
            ).order_by("created_at", "id")
        ]
        if until(items):
            return items
        if time.monotonic() > deadline:
            summary = [(item.type, len(item.model_dump_json())) for item in items]
            raise AssertionError(f"thread {thread_id} holds (type, size): {summary}")
        time.sleep(0.05)


def has_cancel_marker(items: list[Any]) -> bool:
    return any(item.type == "sdk_hidden_context" for item in items)


def test_stream_is_flushed_event_by_event(
    endpoint_server: LiveServer, alice: Any, tmp_path
) -> None:
    gate = tmp_path / "gate"
    with (
        live_client(endpoint_server, alice) as client,
        streamed(client, new_thread(f"gate {gate}")) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"] == "text/event-stream"
        assert response.headers["cache-control"] == "no-cache"
        assert response.headers["x-accel-buffering"] == "no"
        stream = sse_events(response)
        # The responder is blocked on the gate: this delta can only arrive if each
        # event is flushed as it is produced.
        before = read_until(stream, lambda event: is_delta(event, "before-gate "))
        assert not gate.exists()
        gate.touch()
        after = list(stream)

    assert [event["type"] for event in before] == [
        "thread.created",
        "thread.item.done",  # the user message
        "stream_options",
        "thread.item.added",
        "thread.item.updated",  # content part added
        "thread.item.updated",  # the first delta
    ]
    assert any(is_delta(event, "after-gate") for event in after)
    done = [event for event in after if event["type"] == "thread.item.done"]
    assert done[-1]["item"]["content"][0]["text"] == "before-gate after-gate"


def test_created_thread_is_listed(endpoint_server: LiveServer, alice: Any) -> None:
    with live_client(endpoint_server, alice) as client:
        with streamed(client, new_thread("echo hello live")) as response:
            events = list(sse_events(response))
        thread_id = events[0]["thread"]["id"]
        assert events[-1]["type"] == "thread.item.done"

        threads = client.post("/chatkit/", json={"type": "threads.list", "params": {}})
        items = client.post(
            "/chatkit/", json={"type": "items.list", "params": {"thread_id": thread_id}}
        )

    assert threads.status_code == 200
    assert [thread["id"] for thread in threads.json()["data"]] == [thread_id]
    assert items.status_code == 200
    listed = items.json()["data"]
    assert [item["type"] for item in listed] == ["assistant_message", "user_message"]
    assert listed[0]["content"][0]["text"] == "hello live "
    assert listed[1]["content"][0]["text"] == "echo hello live"


def test_responder_failure_ends_with_error_event(endpoint_server: LiveServer, alice: Any) -> None:
    with (
        live_client(endpoint_server, alice) as client,
        streamed(client, new_thread("fail")) as response,
    ):
        assert response.status_code == 200
        events = list(sse_events(response))  # every frame complete, none cut off

    assert events[-1] == {"type": "error", "code": "stream.error", "allow_retry": True}
    assert any(is_delta(event, "about to fail ") for event in events)
    thread_id = events[0]["thread"]["id"]
    assert f"thread={thread_id} status=200 outcome=error" in endpoint_server.log()


def test_disconnect_while_responding_saves_partial_answer(
    endpoint_server: LiveServer, alice: Any, tmp_path
) -> None:
    never = tmp_path / "never-created"
    # Leaving the block closes the connection while respond() waits on the gate.
    with (
        live_client(endpoint_server, alice) as client,
        streamed(client, new_thread(f"gate {never}")) as response,
    ):
        events = read_until(sse_events(response), lambda event: is_delta(event, "before-gate "))
    thread_id = events[0]["thread"]["id"]

    items = wait_for_items(alice, thread_id, has_cancel_marker)
    assert [item.type for item in items] == [
        "user_message",
        "assistant_message",
        "sdk_hidden_context",
    ]
    assert items[1].content[0].text == "before-gate "
    assert items[2].content == CANCEL_MARKER


def test_disconnect_while_sending_saves_partial_answer(
    endpoint_server: LiveServer, alice: Any, tmp_path
) -> None:
    # 32 deltas of 512 KiB (16 MiB) do not fit in the socket buffers of a client that
    # stops reading after the first one: the server still has most of them to write
    # when the client goes away.
    never = tmp_path / "never-created"
    with (
        live_client(endpoint_server, alice) as client,
        streamed(client, new_thread(f"big 32 512 {never}")) as response,
    ):
        events = read_until(sse_events(response), is_delta)
    thread_id = events[0]["thread"]["id"]

    items = wait_for_items(alice, thread_id, has_cancel_marker)
    assert [item.type for item in items] == [
        "user_message",
        "assistant_message",
        "sdk_hidden_context",
    ]
    assert items[1].content[0].text == "x" * (32 * 512 * 1024)
    assert items[2].content == CANCEL_MARKER


def error(response: Any) -> tuple[int, dict[str, Any]]:
    assert response.headers["content-type"] == "application/json"
    return response.status_code, response.json()


def test_error_statuses(endpoint_server: LiveServer, alice: Any) -> None:
    other = get_user_model().objects.create_user("bob", password="pw")
    with (
        live_client(endpoint_server, other) as client,
        streamed(client, new_thread("echo mine")) as response,
    ):
        events = list(sse_events(response))  # read to the end
    foreign_id = events[0]["thread"]["id"]
    get_thread = {"type": "threads.get_by_id", "params": {"thread_id": foreign_id}}
    not_found = (404, {"error": "not_found", "message": f"Thread {foreign_id} not found"})

    with live_client(endpoint_server) as anonymous:
        assert error(anonymous.post("/chatkit/", json=get_thread)) == (
            401,
            {
                "error": "not_authenticated",
                "message": "Authentication required.",
                "login_url": "/accounts/login/",
            },
        )
    with live_client(endpoint_server, alice, csrf=False) as no_csrf:
        assert error(no_csrf.post("/chatkit/", json=get_thread)) == (
            403,
            {"error": "forbidden", "message": "CSRF verification failed: CSRF cookie not set."},
        )
    with live_client(endpoint_server, alice) as client:
        assert error(client.post("/chatkit/", json=get_thread)) == not_found
        assert error(client.post("/chatkit/", json=add_message(foreign_id, "mine!"))) == not_found
        malformed = client.post(
            "/chatkit/", content=b"{not json", headers={"content-type": "application/json"}
        )
        assert error(malformed) == (
            400,
            {
                "error": "invalid_request",
                "message": "Invalid JSON: key must be a string at line 1 column 2",
            },
        )
        get = client.get("/chatkit/")
        assert error(get) == (
            405,
            {"error": "method_not_allowed", "message": "GET is not allowed; use POST."},
        )
        assert get.headers["allow"] == "POST"
        padding = "x" * (2 * 1024 * 1024)  # CHATKIT_MAX_REQUEST_BYTES is 2 MiB
        too_big = {"type": "threads.list", "params": {}, "metadata": {"padding": padding}}
        assert error(client.post("/chatkit/", json=too_big)) == (
            413,
            {"error": "request_too_large", "message": "The request body exceeds 2097152 bytes."},
        )

    # The other user's thread is untouched: their message and the answer, nothing else.
    items = ThreadItem.objects.filter(thread__user=other, thread__chatkit_id=foreign_id)
    assert sorted(items.values_list("type", flat=True)) == ["assistant_message", "user_message"]
