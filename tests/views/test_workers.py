"""Two worker processes, one database: nothing lives in a worker's memory between
requests, so a conversation started on one worker goes on through the other.

One daphne and one uvicorn process serve the same database, as two workers behind a
load balancer would; each request of the conversation goes to the other worker.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.support.consistency import answer_text, assert_database_consistent, stored_items
from tests.support.live import (
    LiveServer,
    live_client,
    server_env,
    start_server,
    stop_server,
)
from tests.support.protocol import add_message, new_thread, sse_events

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def two_workers(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    directory = tmp_path_factory.mktemp("two-workers")
    (directory / "media").mkdir()
    env = server_env(directory / "media")
    workers: list[LiveServer] = []
    try:
        for kind in ("daphne", "uvicorn"):
            workers.append(start_server(kind, env, directory / f"{kind}.log"))
        yield workers
    finally:
        for worker in workers:
            stop_server(worker)


def stream(client: Any, body: dict[str, Any]) -> list[dict[str, Any]]:
    with client.stream("POST", "/chatkit/", json=body) as response:
        assert response.status_code == 200, response.read()
        return list(sse_events(response))


def test_a_thread_started_on_one_worker_continues_on_the_other(
    two_workers: list[LiveServer], django_user_model: Any
) -> None:
    user = django_user_model.objects.create_user("alice", password="pw")
    first, second = (live_client(worker, user) for worker in two_workers)
    assert first.base_url != second.base_url

    events = stream(first, new_thread("echo started on daphne"))
    thread_id = events[0]["thread"]["id"]
    assert events[-1]["type"] == "thread.item.done"

    # The other worker sees the thread, its items, and takes the next message.
    listed = second.post("/chatkit/", json={"type": "threads.list", "params": {}})
    assert [thread["id"] for thread in listed.json()["data"]] == [thread_id]
    events = stream(second, add_message(thread_id, "echo continued on uvicorn"))
    assert events[-1]["item"]["content"][0]["text"].strip() == "continued on uvicorn"

    # And back: the first worker answers from everything the second one saved.
    events = stream(first, add_message(thread_id, "echo back on daphne"))
    assert events[-1]["type"] == "thread.item.done"
    loaded = second.post(
        "/chatkit/", json={"type": "threads.get_by_id", "params": {"thread_id": thread_id}}
    )
    assert loaded.status_code == 200
    texts = [item["content"][0]["text"].strip() for item in loaded.json()["items"]["data"]]
    assert texts == [
        "echo started on daphne",
        "started on daphne",
        "echo continued on uvicorn",
        "continued on uvicorn",
        "echo back on daphne",
        "back on daphne",
    ]
    items = stored_items(user, thread_id)
    assert [answer_text(item).strip() for item in items if item.type == "assistant_message"] == [
        "started on daphne",
        "continued on uvicorn",
        "back on daphne",
    ]
    assert assert_database_consistent() == 6
    for worker in two_workers:
        assert "op=threads.add_user_message" in worker.log()
    first.close()
    second.close()
