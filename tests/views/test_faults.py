"""Faults: a database error in the middle of a stream, a server process killed during
streams, PostgreSQL dropping the app's connections between (and during) requests.

The faults are real: a trigger makes the database itself refuse a write the store makes,
the server is killed with SIGKILL, PostgreSQL terminates the server's backends.
"""

from __future__ import annotations

import signal
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
from chatkit import types as ck
from django.db import connection
from django.test import AsyncClient

from django_chatkit.db import run_db
from django_chatkit.models import Thread
from tests.support.consistency import answer_text, assert_database_consistent, stored_items
from tests.support.live import live_client, server_env, start_server, stop_server
from tests.support.protocol import (
    add_message,
    is_delta,
    new_thread,
    sse_events,
    stream,
)

pytestmark = pytest.mark.django_db(transaction=True)

STREAM_ERROR = {"type": "error", "code": "stream.error", "allow_retry": True}


# a database error in the middle of a stream -------------------------------------------


def create_poison_trigger(item_type: str, errcode: str | None) -> None:
    """Make the database refuse any write of a ``item_type`` item whose text has POISON.

    SQLite raises a constraint error (``IntegrityError``); on PostgreSQL ``errcode``
    picks the SQLSTATE (``check_violation`` is an ``IntegrityError``, ``None`` a plain
    ``raise_exception``, which Django reports as ``InternalError``).
    """
    condition = f"NEW.type = '{item_type}' AND NEW.text LIKE '%POISON%'"
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            for event in ("INSERT", "UPDATE"):
                cursor.execute(
                    f"CREATE TRIGGER chatkit_poison_{event.lower()} BEFORE {event} "
                    f"ON django_chatkit_threaditem WHEN {condition} "
                    "BEGIN SELECT RAISE(ABORT, 'poisoned item'); END"
                )
        else:
            using = f" USING ERRCODE = '{errcode}'" if errcode else ""
            cursor.execute(
                "CREATE FUNCTION chatkit_poison() RETURNS trigger AS $$ BEGIN "
                f"IF {condition} THEN RAISE EXCEPTION 'poisoned item'{using}; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            )
            cursor.execute(
                "CREATE TRIGGER chatkit_poison BEFORE INSERT OR UPDATE "
                "ON django_chatkit_threaditem FOR EACH ROW EXECUTE FUNCTION chatkit_poison()"
            )


def drop_poison_trigger() -> None:
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            cursor.execute("DROP TRIGGER IF EXISTS chatkit_poison_insert")
            cursor.execute("DROP TRIGGER IF EXISTS chatkit_poison_update")
        else:
            cursor.execute("DROP TRIGGER IF EXISTS chatkit_poison ON django_chatkit_threaditem")
            cursor.execute("DROP FUNCTION IF EXISTS chatkit_poison()")


@pytest.fixture
def poison() -> Any:
    created = []

    def make(item_type: str, errcode: str | None = "check_violation") -> None:
        create_poison_trigger(item_type, errcode)
        created.append(True)

    yield make
    if created:
        drop_poison_trigger()


ERRCODES = [
    pytest.param("check_violation", id="integrity-error"),
    pytest.param(None, id="other-error", marks=pytest.mark.postgres),
]


@pytest.mark.parametrize("errcode", ERRCODES)
async def test_database_error_saving_the_answer_ends_with_error_event(
    chat: AsyncClient, alice: Any, poison: Any, errcode: str | None
) -> None:
    """The answer's write fails after its deltas went out: the client gets an ``error``
    event, the database holds the user's message and no trace of the answer."""
    await sync(poison)("assistant_message", errcode)

    events = await stream(chat, new_thread("echo POISON pill"))

    assert any(is_delta(event, "POISON ") for event in events)
    assert events[-1] == STREAM_ERROR  # not a "completed" stream whose answer is lost
    assert not any(
        e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message" for e in events
    )
    thread_id = events[0]["thread"]["id"]
    items = await sync(stored_items)(alice, thread_id)
    assert [item.type for item in items] == ["user_message"]
    assert await sync(assert_database_consistent)() == 1

    # The thread stays usable: the next message is answered and stored whole.
    events = await stream(chat, add_message(thread_id, "echo fine"))
    assert events[-1]["type"] == "thread.item.done"
    items = await sync(stored_items)(alice, thread_id)
    assert [item.type for item in items] == ["user_message", "user_message", "assistant_message"]
    assert answer_text(items[2]) == "fine "
    assert await sync(assert_database_consistent)() == 3


@pytest.mark.parametrize("errcode", ERRCODES)
async def test_database_error_saving_the_user_message_ends_with_error_event(
    chat: AsyncClient, alice: Any, poison: Any, errcode: str | None
) -> None:
    """The write fails before the SDK's own error handling begins: the stream still ends
    with an ``error`` event, and nothing of the message is stored."""
    await sync(poison)("user_message", errcode)

    events = await stream(chat, new_thread("POISON"))

    assert [event["type"] for event in events] == ["thread.created", "error"]
    assert events[-1] == STREAM_ERROR
    assert await sync(stored_items)(alice, events[0]["thread"]["id"]) == []
    assert await sync(assert_database_consistent)() == 0


def sync(func: Any) -> Any:
    """``func`` for async code, in a worker thread whose connection is closed after."""
    return partial(run_db, func)


# a server process killed during streams ------------------------------------------------


def read_until_delta(stream: Any) -> list[dict[str, Any]]:
    """Events up to the first delta. ``stream`` must stay referenced afterwards: an
    abandoned event generator is closed when collected, and closes the connection."""
    events = []
    for event in stream:
        events.append(event)
        if is_delta(event):
            return events
    raise AssertionError(f"no delta: {events}")


@pytest.mark.parametrize("kind", ["daphne", "uvicorn"])
def test_server_killed_during_streams_leaves_a_consistent_database(
    kind: str, django_user_model: Any, tmp_path: Path
) -> None:
    user = django_user_model.objects.create_user("alice", password="pw")
    (tmp_path / "media").mkdir(exist_ok=True)
    env = server_env(tmp_path / "media")
    server = start_server(kind, env, tmp_path / "first.log")
    stop = threading.Event()
    completed: list[str] = []

    def chatter(index: int, client: httpx.Client) -> None:
        """Streams that finish (and so write) as fast as they can, until the kill."""
        with client:
            count = 0
            while not stop.is_set():
                count += 1
                try:
                    client.post("/chatkit/", json=new_thread(f"{index}-{count}")).read()
                    completed.append(f"{index}-{count}")
                except httpx.HTTPError:
                    return  # the server is gone

    try:
        with live_client(server, user) as client:
            # A stream the server is in the middle of when it dies.
            gate = tmp_path / "never-created"
            with client.stream("POST", "/chatkit/", json=new_thread(f"gate {gate}")) as response:
                stream = sse_events(response)
                thread_id = read_until_delta(stream)[0]["thread"]["id"]
                workers = [  # logged in here: no database connection left in a thread
                    threading.Thread(target=chatter, args=(i, live_client(server, user)))
                    for i in range(4)
                ]
                for worker in workers:
                    worker.start()
                deadline = time.monotonic() + 20
                while len(completed) < 8 and time.monotonic() < deadline:
                    time.sleep(0.02)
                server.process.send_signal(signal.SIGKILL)
                server.process.wait(timeout=10)
        assert server.process.returncode == -signal.SIGKILL
        stop.set()
        for worker in workers:
            worker.join(timeout=20)
        assert len(completed) >= 8
    finally:
        stop.set()
        stop_server(server)

    count = assert_database_consistent()
    assert count >= 2 * len(completed) + 1
    for thread in Thread.objects.filter(user=user):  # at most one answer per message
        types = [item.type for item in stored_items(user, thread.chatkit_id)]
        assert types in ([], ["user_message"], ["user_message", "assistant_message"]), types
    # The killed stream: its user message is there; nobody could save its answer.
    assert [item.type for item in stored_items(user, thread_id)] == ["user_message"]

    server = start_server(kind, env, tmp_path / "second.log")
    try:
        with live_client(server, user) as client:
            with client.stream("POST", "/chatkit/", json=add_message(thread_id, "echo back")) as r:
                events = list(sse_events(r))
            assert events[-1]["type"] == "thread.item.done"
            assert events[-1]["item"]["content"][0]["text"] == "back "
            listed = client.post(
                "/chatkit/", json={"type": "items.list", "params": {"thread_id": thread_id}}
            )
            assert listed.status_code == 200
            assert [item["type"] for item in listed.json()["data"]] == [
                "assistant_message",
                "user_message",
                "user_message",
            ]
            ids, after = [], None
            while True:  # every thread lists, page by page
                params: dict[str, Any] = {"limit": 7, **({"after": after} if after else {})}
                page = client.post("/chatkit/", json={"type": "threads.list", "params": params})
                assert page.status_code == 200
                ids += [thread["id"] for thread in page.json()["data"]]
                after = page.json().get("after")
                if not page.json()["has_more"]:
                    break
    finally:
        stop_server(server)
    assert sorted(ids) == sorted(
        Thread.objects.filter(user=user).values_list("chatkit_id", flat=True)
    )
    assert len(ids) == len(set(ids))
    assert_database_consistent()


# PostgreSQL drops the server's connections ----------------------------------------------


def terminate_backends() -> int:
    """Terminate every other connection to this database: what a restart does to them."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return len(cursor.fetchall())


CONNECTION_SETUPS = {
    # Django's default: a connection per store call.
    "fresh": {},
    # What the README recommends for production: psycopg's pool (with health checks).
    "pool": {"CHATKIT_TEST_DB_POOL": "1", "CHATKIT_TEST_CONN_HEALTH_CHECKS": "1"},
}


@pytest.mark.postgres
@pytest.mark.parametrize("setup", sorted(CONNECTION_SETUPS))
def test_dropped_database_connections_break_no_request(
    setup: str, django_user_model: Any, tmp_path: Path
) -> None:
    user = django_user_model.objects.create_user("alice", password="pw")
    (tmp_path / "media").mkdir(exist_ok=True)
    env = server_env(tmp_path / "media")
    env.update(CONNECTION_SETUPS[setup])
    server = start_server("uvicorn", env, tmp_path / "server.log")
    try:
        with live_client(server, user) as client:
            with client.stream("POST", "/chatkit/", json=new_thread("echo one")) as response:
                events = list(sse_events(response))
            thread_id = events[0]["thread"]["id"]
            assert client.post("/chatkit/", json={"type": "threads.list", "params": {}}).is_success

            # Between requests.
            assert terminate_backends() >= (1 if setup == "pool" else 0)
            listed = client.post("/chatkit/", json={"type": "threads.list", "params": {}})
            assert listed.status_code == 200
            assert [thread["id"] for thread in listed.json()["data"]] == [thread_id]

            # During a stream, while respond() waits: the answer is still saved.
            gate = tmp_path / "gate"
            body = add_message(thread_id, f"gate {gate}")
            with client.stream("POST", "/chatkit/", json=body) as response:
                stream = sse_events(response)
                for event in stream:
                    if is_delta(event):
                        break
                terminate_backends()
                gate.touch()
                rest = list(stream)
            assert rest[-1]["type"] == "thread.item.done"
            assert rest[-1]["item"]["content"][0]["text"] == "before-gate after-gate"
    finally:
        stop_server(server)
    assert "Traceback" not in server.log()
    items = stored_items(user, thread_id)
    assert [item.type for item in items] == ["user_message", "assistant_message"] * 2
    assert isinstance(items[3], ck.AssistantMessageItem)
    assert assert_database_consistent() == 4
