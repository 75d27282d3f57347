"""Open streams hold no database connection (DESIGN.md: hundreds of concurrent streams on
one worker must fit in PostgreSQL's ``max_connections``).

Django reads the session and the user in the request's own worker thread; unless the
view lets that connection go, it stays open until the response ends — for a stream,
until the model has finished. PostgreSQL only: it is where connections can be counted.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from django.db import connection

from tests.support.live import LiveServer, live_client, streamed
from tests.support.protocol import is_delta, new_thread, sse_events

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.postgres]

STREAMS = 12


def backends_on_this_database() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_open_streams_hold_no_database_connection(
    asgi_server: LiveServer, django_user_model: Any, tmp_path
) -> None:
    user = django_user_model.objects.create_user("streamer")
    gate = tmp_path / "gate"
    all_waiting = threading.Barrier(STREAMS + 1, timeout=60)

    # Logged in here: the session rows are written by this thread's one connection.
    clients = [live_client(asgi_server, user) for _ in range(STREAMS)]

    def one_stream(client: Any) -> list[dict[str, Any]]:
        with (
            client,
            streamed(client, new_thread(f"gate {gate}")) as response,
        ):
            stream = sse_events(response)
            events = []
            for event in stream:
                events.append(event)
                if is_delta(event, "before-gate "):
                    break
            all_waiting.wait()  # every stream is open, its responder blocked on the gate
            events.extend(stream)
            return events

    with ThreadPoolExecutor(STREAMS) as pool:
        futures = [pool.submit(one_stream, client) for client in clients]
        all_waiting.wait()
        while_open = backends_on_this_database()
        print(
            f"\n{asgi_server.kind}: {while_open} database connections"
            f" while {STREAMS} streams are open"
        )
        gate.touch()
        results = [future.result(timeout=60) for future in futures]

    assert while_open < STREAMS // 2, f"{while_open} connections for {STREAMS} open streams"
    for events in results:
        assert any(is_delta(event, "after-gate") for event in events)
        assert events[-1]["type"] == "thread.item.done"
