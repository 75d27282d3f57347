"""Concurrent streams through a live server: two messages to one thread at once, and 50
streams of one user at once. Nothing is lost, nothing is stored twice, and the order the
store gives is the same on every listing (on SQLite: no "database is locked")."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from django_chatkit.models import Thread
from tests.support.consistency import answer_text, assert_database_consistent, stored_items
from tests.support.live import LiveServer, live_client
from tests.support.protocol import add_message, new_thread, sse_events

pytestmark = pytest.mark.django_db(transaction=True)


def stream_all(client: Any, body: dict[str, Any]) -> list[dict[str, Any]]:
    with client.stream("POST", "/chatkit/", json=body) as response:
        assert response.status_code == 200
        return list(sse_events(response))


def list_items(client: Any, thread_id: str, order: str, limit: int = 100) -> list[str]:
    """Every item id of the thread through ``items.list``, page by page."""
    ids: list[str] = []
    after = None
    while True:
        params: dict[str, Any] = {"thread_id": thread_id, "order": order, "limit": limit}
        if after:
            params["after"] = after
        page = client.post("/chatkit/", json={"type": "items.list", "params": params})
        assert page.status_code == 200, page.text
        ids += [item["id"] for item in page.json()["data"]]
        if not page.json()["has_more"]:
            return ids
        after = page.json()["after"]


def test_two_simultaneous_messages_to_one_thread(
    asgi_server: LiveServer, django_user_model: Any
) -> None:
    user = django_user_model.objects.create_user("alice", password="pw")
    clients = [live_client(asgi_server, user) for _ in range(2)]
    thread_id = stream_all(clients[0], new_thread("echo start"))[0]["thread"]["id"]
    rounds = 5
    for round_ in range(rounds):
        barrier = threading.Barrier(2)

        def send(index: int, round_: int = round_, barrier: Any = barrier) -> list[Any]:
            barrier.wait()
            return stream_all(
                clients[index], add_message(thread_id, f"slow 3 0.02 r{round_}m{index}")
            )

        with ThreadPoolExecutor(2) as pool:
            results = list(pool.map(send, range(2)))
        for events in results:
            assert events[-1]["type"] == "thread.item.done", events[-1]
            assert events[-1]["item"]["content"][0]["text"] == "part0 part1 part2 "

    items = stored_items(user, thread_id)
    users = [item for item in items if item.type == "user_message"]
    answers = [item for item in items if item.type == "assistant_message"]
    texts = sorted(item.content[0].text for item in users)
    assert texts == sorted(
        ["echo start"] + [f"slow 3 0.02 r{r}m{i}" for r in range(rounds) for i in range(2)]
    )
    assert len(answers) == 1 + 2 * rounds
    assert [answer_text(item) for item in answers[1:]] == ["part0 part1 part2 "] * (2 * rounds)
    assert len({item.id for item in items}) == len(items) == 2 + 4 * rounds

    # One order, whatever the listing: repeated, paged one by one, in both directions.
    expected = [item.id for item in items]
    for client in clients:
        for _ in range(3):
            assert list_items(client, thread_id, "asc") == expected
        assert list_items(client, thread_id, "asc", limit=1) == expected
        assert list_items(client, thread_id, "desc", limit=3) == expected[::-1]
        client.close()
    assert assert_database_consistent() == len(items)


def test_fifty_concurrent_streams_of_one_user(
    asgi_server: LiveServer, django_user_model: Any
) -> None:
    user = django_user_model.objects.create_user("alice", password="pw")
    count = 50
    clients = [live_client(asgi_server, user) for _ in range(count)]
    barrier = threading.Barrier(count)

    def create(index: int) -> list[dict[str, Any]]:
        barrier.wait()
        with clients[index] as client:
            return stream_all(client, new_thread(f"slow 3 0.05 n{index}"))

    with ThreadPoolExecutor(count) as pool:
        results = list(pool.map(create, range(count)))

    thread_ids = [events[0]["thread"]["id"] for events in results]
    assert len(set(thread_ids)) == count
    for events in results:
        assert not [event for event in events if event["type"] == "error"]
        assert events[-1]["item"]["content"][0]["text"] == "part0 part1 part2 "
    assert sorted(Thread.objects.filter(user=user).values_list("chatkit_id", flat=True)) == sorted(
        thread_ids
    )
    for index, thread_id in enumerate(thread_ids):
        items = stored_items(user, thread_id)
        assert [item.type for item in items] == ["user_message", "assistant_message"]
        assert items[0].content[0].text == f"slow 3 0.05 n{index}"
        assert answer_text(items[1]) == "part0 part1 part2 "
    assert assert_database_consistent() == 2 * count

    with live_client(asgi_server, user) as client:  # all 50 list, each once, page by page
        listed: list[str] = []
        after = None
        while True:
            params: dict[str, Any] = {"limit": 7, **({"after": after} if after else {})}
            page = client.post("/chatkit/", json={"type": "threads.list", "params": params})
            assert page.status_code == 200
            listed += [thread["id"] for thread in page.json()["data"]]
            if not page.json()["has_more"]:
                break
            after = page.json()["after"]
    assert sorted(listed) == sorted(thread_ids)
    assert len(listed) == count
    log = asgi_server.log()
    assert "database is locked" not in log
    assert log.count("op=threads.create") >= count
