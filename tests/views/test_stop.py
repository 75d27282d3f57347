"""The Stop button: whenever the client goes away, the thread keeps either the whole
answer, or the part of it that was streamed plus the SDK's "user cancelled" marker —
never a user message left without either, never an item twice.
"""

from __future__ import annotations

import asyncio
import json
import random
import socket
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import psycopg
import pytest
from chatkit import types as ck
from django.contrib.auth import get_user_model
from django.db import connection
from django.test import AsyncClient

from django_chatkit.db import run_db
from django_chatkit.models import Thread, ThreadItem
from tests.support.consistency import (
    answer_text,
    assert_database_consistent,
    is_cancel_marker,
    stored_items,
)
from tests.support.live import (
    HOST,
    LiveServer,
    asgi_application,
    both_paths,
    live_client,
)
from tests.support.protocol import (
    add_message,
    is_delta,
    new_thread,
    parse_sse,
    session_http_scope,
    sse_events,
)

pytestmark = pytest.mark.django_db(transaction=True)


# a cancel before the SDK handles cancellation --------------------------------------------


class WriteLock:
    """Holds the database's write lock on thread items from a connection of its own."""

    def __init__(self) -> None:
        db = connection.settings_dict
        if connection.vendor == "sqlite":
            import sqlite3

            self.conn: Any = sqlite3.connect(
                db["NAME"], isolation_level=None, check_same_thread=False
            )
            self.conn.execute("BEGIN IMMEDIATE")  # no other writer until released
        else:
            self.conn = psycopg.connect(
                dbname=db["NAME"], host=db["HOST"], port=db["PORT"] or 5432, user=db["USER"]
            )
            self.conn.execute("LOCK TABLE django_chatkit_threaditem IN EXCLUSIVE MODE")

    def release(self) -> None:
        self.conn.rollback()
        self.conn.close()


@both_paths
async def test_cancel_while_the_user_message_is_saved_leaves_a_marker(lean: bool) -> None:
    """The client goes away while the SDK still saves the user's message, before the
    part of the stream where the SDK handles cancellation: the message must not be left
    without an answer or a marker. A database lock holds the save up, so the cancel
    lands exactly there."""
    user = await get_user_model().objects.acreate_user("carol", password="pw")
    client = AsyncClient()
    await client.aforce_login(user)
    response = await client.post(
        "/chatkit/", data=new_thread("echo first"), content_type="application/json"
    )
    events = parse_sse(b"".join([chunk async for chunk in response.streaming_content]))
    thread_id = events[0]["thread"]["id"]

    body = json.dumps(add_message(thread_id, "slow 3 0.05")).encode()
    scope = session_http_scope(client, body)
    body_sent = False
    started = asyncio.Event()
    disconnected = asyncio.Event()

    async def receive() -> dict[str, Any]:
        nonlocal body_sent
        if not body_sent:
            body_sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await disconnected.wait()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        if message["type"] == "http.response.start":
            started.set()

    lock = await run_db(WriteLock)
    try:
        request = asyncio.create_task(asgi_application(lean=lean)(scope, receive, send))
        await asyncio.wait_for(started.wait(), timeout=10)
        await asyncio.sleep(0.3)  # the SDK is now waiting to save the user message
        disconnected.set()
        await asyncio.wait_for(request, timeout=10)
    finally:
        await run_db(lock.release)

    items: list[ck.ThreadItem] = []
    for _ in range(500):  # the SDK finishes in the background: poll up to 10 s
        items = await run_db(stored_items, user, thread_id)
        if any(is_cancel_marker(item) for item in items):
            break
        await asyncio.sleep(0.02)
    # The SDK handled the cancel at respond()'s first await, after its first delta.
    assert [item.type for item in items] == [
        "user_message",
        "assistant_message",
        "user_message",
        "assistant_message",
        "sdk_hidden_context",
    ]
    assert answer_text(items[3]) == "part0 "
    assert is_cancel_marker(items[4])


# 100 answers, each cut off at a random point ---------------------------------------------

DELTAS = 8
FULL_ANSWER = "".join(f"part{index} " for index in range(DELTAS))
# thread.created, the user message, stream_options, item added, content part added,
# the deltas, the answer done.
FRAMES = 5 + DELTAS + 1
RUNS_PER_SERVER = 50  # daphne and uvicorn, each on both paths: 200 in all


@dataclass
class Run:
    tag: str
    cut: int  # frames read before going away: 0 = before the response, FRAMES = all
    seen: str = ""  # answer text the client received
    thread_id: str | None = None
    outcome: str = field(default="")


def plan(kind: str) -> list[Run]:
    """Every cut point once, then random ones (seeded: the same plan every run)."""
    rng = random.Random(f"stop-{kind}")
    cuts = list(range(FRAMES + 1))
    cuts += [rng.randint(0, FRAMES) for _ in range(RUNS_PER_SERVER - len(cuts))]
    return [Run(f"run-{index}", cut) for index, cut in enumerate(cuts)]


def raw_request(server: LiveServer, client: Any, body: dict[str, Any]) -> bytes:
    data = json.dumps(body).encode()
    cookies = "; ".join(f"{name}={value}" for name, value in client.cookies.items())
    head = (
        f"POST /chatkit/ HTTP/1.1\r\nHost: {HOST}:{server.port}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(data)}\r\n"
        f"Cookie: {cookies}\r\nX-CSRFToken: {client.headers['X-CSRFToken']}\r\n\r\n"
    )
    return head.encode() + data


def perform(server: LiveServer, client: Any, run: Run, rng: random.Random) -> None:
    body = new_thread(f"slow {DELTAS} 0.01 {run.tag}")
    if run.cut == 0:  # gone before any byte of the response
        with socket.create_connection((HOST, server.port)) as sock:
            sock.sendall(raw_request(server, client, body))
            time.sleep(rng.uniform(0, 0.03))
        return
    with client.stream("POST", "/chatkit/", json=body) as response:
        assert response.status_code == 200
        for index, event in enumerate(sse_events(response), start=1):
            if event["type"] == "thread.created":
                run.thread_id = event["thread"]["id"]
            if is_delta(event):
                run.seen += event["update"]["delta"]
            if index == run.cut:
                break
        else:
            assert run.cut == FRAMES  # the whole stream was read


def classify(items: list[ck.ThreadItem]) -> str:
    """The outcome of one run's thread, or "running" while it may still change."""
    types = [item.type for item in items]
    marker = [item for item in items if is_cancel_marker(item)]
    if types == ["user_message", "assistant_message"]:
        return "whole answer" if answer_text(items[1]) == FULL_ANSWER else "running"
    if types == ["user_message"]:
        return "running"
    if types == ["user_message", "sdk_hidden_context"] and marker:
        return "marker, no answer text yet"
    if types == ["user_message", "assistant_message", "sdk_hidden_context"] and marker:
        if answer_text(items[1]) == FULL_ANSWER:
            return "whole answer + marker"
        return "partial answer + marker"
    return f"invalid {types}"


def outcomes(user: Any, runs: list[Run]) -> dict[str, str]:
    threads: dict[str, list[str]] = {}
    for tag, thread_id in ThreadItem.objects.filter(
        thread__user=user, type="user_message"
    ).values_list("text", "thread__chatkit_id"):
        threads.setdefault(tag.rsplit(" ", 1)[-1], []).append(thread_id)
    result = {}
    for run in runs:
        found = threads.get(run.tag, [])
        if not found:
            result[run.tag] = "nothing (never started)"
        elif len(found) > 1:
            result[run.tag] = f"invalid: {len(found)} threads"
        else:
            result[run.tag] = classify(stored_items(user, found[0]))
            if run.thread_id is not None:
                assert run.thread_id == found[0]
            run.thread_id = found[0]
    return result


def settle(user: Any, runs: list[Run], timeout: float = 20.0) -> dict[str, str]:
    """Outcomes once every stream has ended and nothing changed for a while."""
    deadline = time.monotonic() + timeout
    previous: dict[str, str] = {}
    while True:
        current = outcomes(user, runs)
        done = "running" not in current.values()
        if done and current == previous:
            return current
        if time.monotonic() > deadline:
            return current
        previous = current
        time.sleep(0.3)


def test_stop_at_random_points(endpoint_server: LiveServer, django_user_model: Any) -> None:
    user = django_user_model.objects.create_user("alice", password="pw")
    runs = plan(endpoint_server.name)
    rng = random.Random(f"delays-{endpoint_server.name}")
    with live_client(endpoint_server, user) as client:
        for run in runs:
            perform(endpoint_server, client, run, rng)
    result = settle(user, runs)
    for run in runs:
        run.outcome = result[run.tag]

    summary = Counter(run.outcome for run in runs)
    print(f"\n{endpoint_server.name}: {len(runs)} stopped answers: {dict(sorted(summary.items()))}")
    problems = []
    for run in runs:
        items = stored_items(user, run.thread_id) if run.thread_id else []
        answers = [answer_text(item) for item in items if item.type == "assistant_message"]
        saved = answers[0] if answers else ""
        if run.outcome.startswith("invalid") or run.outcome == "running":
            problems.append((run, "not a whole answer, nor a partial one with its marker"))
        elif run.outcome.startswith("nothing") and run.cut > 0:
            problems.append((run, "the client saw the thread, the database has nothing"))
        elif run.cut == FRAMES and run.outcome != "whole answer":
            problems.append((run, "read to the end, yet not stored as a whole answer"))
        elif not saved.startswith(run.seen) or not FULL_ANSWER.startswith(saved):
            problems.append((run, f"stored {saved!r} after streaming {run.seen!r}"))
    assert not problems, [(run.tag, run.cut, run.outcome, why) for run, why in problems]

    # No empty thread, no item twice, every row whole.
    assert not Thread.objects.filter(user=user, items__isnull=True).exists()
    assert Thread.objects.filter(user=user).count() == sum(
        not run.outcome.startswith("nothing") for run in runs
    )
    assert_database_consistent()
    assert summary["whole answer"] >= 1
    assert summary["partial answer + marker"] >= 1
