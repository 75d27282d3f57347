"""Durable answers through live daphne and uvicorn servers (tests/settings/durable.py).

A client that goes away (tab closed, reload) leaves the whole answer; a reloaded page
sees the answer so far, growing, then the final item once; Stop (the cancel endpoint)
cancels with the partial answer saved; a second message while an answer runs is
refused (409), a user's third running answer too (429); a cancel reaches the answer on
another worker; a worker killed mid-answer leaves a thread marked interrupted that takes
new messages; SIGTERM lets answers finish for the grace period, then cancels them.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest
from chatkit import types as ck

from django_chatkit.models import RunningResponse
from tests.support.consistency import (
    answer_text,
    assert_database_consistent,
    is_cancel_marker,
    stored_items,
)
from tests.support.live import LiveServer, live_client, server_env, start_server, stop_server
from tests.support.protocol import add_message, is_delta, new_thread, sse_events
from tests.support.sockets import delete_redis_keys, redis_layer_env

pytestmark = pytest.mark.django_db(transaction=True)

T = TypeVar("T")
INTERRUPTED = "interrupted"


@pytest.fixture(scope="module")
def live_settings() -> str:
    return "tests.settings.durable"


@pytest.fixture
def connect() -> Iterator[Callable[..., httpx.Client]]:
    """``live_client``, closed after the test."""
    opened: list[httpx.Client] = []

    def connect(server: LiveServer, user: Any, **kwargs: Any) -> httpx.Client:
        opened.append(live_client(server, user, **kwargs))
        return opened[-1]

    yield connect
    for client in opened:
        client.close()


def slow(count: int, pause: float = 0.05) -> tuple[str, str]:
    """A message the scripted server answers slowly, and the whole answer's text."""
    return f"slow {count} {pause}", "".join(f"part{index} " for index in range(count))


def eventually(check: Callable[[], T], timeout: float = 15.0, what: str = "") -> T:
    """``check()``'s first truthy value, polled until ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {what or check}"
        time.sleep(0.05)


def start_answer(client: httpx.Client, body: dict[str, Any], deltas: int = 3) -> str:
    """Send ``body``, read until ``deltas`` text deltas arrived, then hang up (as a
    closed tab does); the thread's id."""
    thread_id = body.get("params", {}).get("thread_id", "")
    seen = 0
    with client.stream("POST", "/chatkit/", json=body) as response:
        assert response.status_code == 200, response.read()
        for event in sse_events(response):
            if event["type"] == "thread.created":
                thread_id = event["thread"]["id"]
            seen += is_delta(event)
            if seen == deltas:
                break
    return thread_id


def not_running(thread_id: str) -> bool:
    return not RunningResponse.objects.filter(thread__chatkit_id=thread_id).exists()


def assistant_items(user: Any, thread_id: str) -> list[ck.ThreadItem]:
    return [i for i in stored_items(user, thread_id) if isinstance(i, ck.AssistantMessageItem)]


def listed_text(client: httpx.Client, thread_id: str) -> list[str]:
    """The assistant messages' text as a reloaded page reads it (``items.list``)."""
    body = {"type": "items.list", "params": {"thread_id": thread_id, "limit": 50}}
    response = client.post("/chatkit/", json=body)
    assert response.status_code == 200, response.text
    return [
        "".join(part["text"] for part in item["content"])
        for item in response.json()["data"]
        if item["type"] == "assistant_message"
    ]


def test_a_client_that_goes_away_leaves_the_whole_answer(
    connect: Any, asgi_server: LiveServer, alice: Any
) -> None:
    message, whole = slow(20)
    thread_id = start_answer(connect(asgi_server, alice), new_thread(message))

    eventually(lambda: not_running(thread_id), what="the answer to end")
    [answer] = assistant_items(alice, thread_id)
    assert answer_text(answer) == whole
    assert not any(is_cancel_marker(item) for item in stored_items(alice, thread_id))
    assert_database_consistent()


def test_a_reload_sees_the_answer_grow_then_the_final_item_once(
    connect: Any, asgi_server: LiveServer, alice: Any
) -> None:
    message, whole = slow(40)
    client = connect(asgi_server, alice)
    thread_id = start_answer(client, new_thread(message))

    # The reloaded page: the text so far (checkpointed), growing.
    first = eventually(lambda: listed_text(client, thread_id), what="a checkpoint")
    assert len(first) == 1 and whole.startswith(first[0]) and first[0] != whole
    grown = eventually(
        lambda: (t := listed_text(client, thread_id)) and len(t[0]) > len(first[0]) and t,
        what="the checkpoint to grow",
    )
    assert whole.startswith(grown[0])

    eventually(lambda: not_running(thread_id), what="the answer to end")
    assert listed_text(client, thread_id) == [whole]  # one item, the whole answer
    assert_database_consistent()


def test_stop_cancels_the_answer_and_keeps_the_part_streamed(
    connect: Any, asgi_server: LiveServer, alice: Any, bob: Any
) -> None:
    message, whole = slow(100)
    client = connect(asgi_server, alice)
    thread_id = start_answer(client, new_thread(message))
    cancel_url = f"/chatkit/threads/{thread_id}/cancel/"

    foreign = connect(asgi_server, bob).post(cancel_url)
    assert foreign.status_code == 404 and foreign.json()["error"] == "not_found"
    no_csrf = connect(asgi_server, alice, csrf=False).post(cancel_url)
    assert no_csrf.status_code == 403

    # A second message while the answer runs is refused.
    refused = client.post("/chatkit/", json=add_message(thread_id, "echo too soon"))
    assert refused.status_code == 409, refused.text
    assert refused.json()["error"] == "response_running"

    assert client.post(cancel_url).json() == {"cancelled": True}
    eventually(lambda: not_running(thread_id), what="the cancel")
    items = stored_items(alice, thread_id)
    [answer] = [i for i in items if isinstance(i, ck.AssistantMessageItem)]
    assert whole.startswith(answer_text(answer)) and answer_text(answer) != whole
    assert is_cancel_marker(items[-1])
    assert client.post(cancel_url).json() == {"cancelled": False}

    # The thread takes the next message.
    with client.stream("POST", "/chatkit/", json=add_message(thread_id, "echo again")) as r:
        assert r.status_code == 200
        assert list(sse_events(r))[-1]["type"] == "thread.item.done"
    assert_database_consistent()


def test_a_users_answers_running_at_once_are_limited(
    connect: Any, asgi_server: LiveServer, alice: Any
) -> None:
    client = connect(asgi_server, alice)
    message, _ = slow(100)
    threads = [start_answer(client, new_thread(message)) for _ in range(2)]  # the limit

    refused = client.post("/chatkit/", json=new_thread("echo third"))
    assert refused.status_code == 429, refused.text
    assert refused.json()["error"] == "too_many_responses"
    assert refused.headers["Retry-After"]

    for thread_id in threads:
        assert client.post(f"/chatkit/threads/{thread_id}/cancel/").json() == {"cancelled": True}
    for thread_id in threads:
        eventually(lambda: not_running(thread_id), what="the cancel")  # noqa: B023


# other workers ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def redis_workers(
    django_db_setup: None, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[list[LiveServer]]:
    """Two workers with durable answers, sharing a Redis channel layer."""
    directory = tmp_path_factory.mktemp("durable-workers")
    (directory / "media").mkdir()
    env = {**server_env(directory / "media", "tests.settings.durable"), **redis_layer_env()}
    workers: list[LiveServer] = []
    try:
        # Django's handler under daphne, the lean path (django_chatkit.asgi) under uvicorn.
        for kind, lean in (("daphne", False), ("uvicorn", True)):
            workers.append(start_server(kind, env, directory / f"{kind}.log", lean=lean))
        yield workers
    finally:
        for worker in workers:
            stop_server(worker)
        delete_redis_keys(env["CHATKIT_TEST_REDIS_PREFIX"])


def test_a_cancel_sent_to_another_worker_stops_the_answer(
    connect: Any, redis_workers: list[LiveServer], alice: Any
) -> None:
    running_on, told = (connect(worker, alice) for worker in redis_workers)
    message, whole = slow(400)  # 20 s: only the cancel ends it within the test
    thread_id = start_answer(running_on, new_thread(message))

    assert told.post(f"/chatkit/threads/{thread_id}/cancel/").json() == {"cancelled": True}
    eventually(lambda: not_running(thread_id), what="the cancel")
    items = stored_items(alice, thread_id)
    assert answer_text(items[1]) != whole and is_cancel_marker(items[-1])


def test_a_killed_worker_leaves_a_thread_marked_interrupted_that_takes_messages(
    connect: Any, redis_workers: list[LiveServer], alice: Any, tmp_path: Path
) -> None:
    (tmp_path / "media").mkdir(exist_ok=True)
    env = server_env(tmp_path / "media", "tests.settings.durable")
    victim = start_server("uvicorn", env, tmp_path / "victim.log")
    try:
        client = connect(victim, alice)
        message, whole = slow(200)
        thread_id = start_answer(client, new_thread(message))
        eventually(lambda: assistant_items(alice, thread_id), what="a checkpoint")
        os.kill(victim.process.pid, signal.SIGKILL)
        victim.process.wait(timeout=10)
    finally:
        stop_server(victim)
    killed = time.monotonic()

    # Another worker takes the thread's next message once the dead one missed three
    # heartbeats (0.6 s here); until then the answer counts as running (409).
    survivor = connect(redis_workers[0], alice)

    def answered() -> bool:
        body = add_message(thread_id, "echo after the crash")
        with survivor.stream("POST", "/chatkit/", json=body) as response:
            if response.status_code == 409:
                return False
            assert response.status_code == 200, response.read()
            return list(sse_events(response))[-1]["type"] == "thread.item.done"

    eventually(answered, timeout=10, what="the thread to take messages")
    assert time.monotonic() - killed < 5
    items = stored_items(alice, thread_id)
    partial = answer_text(items[1])
    assert partial and whole.startswith(partial) and partial != whole  # kept
    notes = [i for i in items if isinstance(i, ck.SDKHiddenContextItem)]
    assert len(notes) == 1 and INTERRUPTED in notes[0].content
    assert not_running(thread_id)
    assert_database_consistent()


@pytest.mark.parametrize("kind", ["daphne", "uvicorn"])
def test_sigterm_lets_answers_finish_for_the_grace_period_then_cancels_them(
    connect: Any, kind: str, alice: Any, tmp_path: Path
) -> None:
    (tmp_path / "media").mkdir(exist_ok=True)
    env = server_env(tmp_path / "media", "tests.settings.durable")
    env["CHATKIT_TEST_SHUTDOWN_GRACE"] = "1.5"
    server = start_server(kind, env, tmp_path / "server.log")
    try:
        client = connect(server, alice)
        short_message, short_whole = slow(20)  # 1 s: finishes within the grace
        long_message, long_whole = slow(200)  # 10 s: cancelled at its end
        short = start_answer(client, new_thread(short_message), deltas=1)
        long = start_answer(client, new_thread(long_message), deltas=1)
        stopping = time.monotonic()
        server.process.send_signal(signal.SIGTERM)
        server.process.wait(timeout=15)
        stopped = time.monotonic() - stopping
    finally:
        stop_server(server)
    assert 1.0 < stopped < 8, (stopped, server.log())

    [short_answer] = assistant_items(alice, short)
    assert answer_text(short_answer) == short_whole
    long_items = stored_items(alice, long)
    assert long_whole.startswith(answer_text(long_items[1]))
    assert answer_text(long_items[1]) != long_whole and is_cancel_marker(long_items[-1])
    assert not_running(short) and not_running(long)
    assert_database_consistent()
