"""Keep-alive comments while the responder is silent, through live daphne and uvicorn on
both paths (Django's handler and the lean path): a long tool call must not let a proxy
close the stream."""

from __future__ import annotations

from typing import Any

import pytest

from django_chatkit.client.transports import SSEParser
from tests.support.live import LiveServer, live_client, streamed
from tests.support.protocol import is_delta, new_thread

pytestmark = pytest.mark.django_db(transaction=True)

KEEPALIVE = b": keep-alive"


@pytest.fixture(scope="module")
def live_settings() -> str:
    return "tests.settings.keepalive"  # CHATKIT_SSE_KEEPALIVE = 0.2


def test_keepalive_comments_while_the_responder_is_silent(
    endpoint_server: LiveServer, django_user_model: Any, tmp_path: Any
) -> None:
    user = django_user_model.objects.create_user("alice", password="pw")
    gate = tmp_path / "gate"
    with (
        live_client(endpoint_server, user) as client,
        streamed(client, new_thread(f"gate {gate}")) as response,
    ):
        assert response.status_code == 200
        parser = SSEParser()  # the terminal client's: comments are no events
        chunks = response.iter_raw()
        # Up to the delta before the responder blocks on the gate.
        while not any(is_delta(event, "before-gate ") for event in parser.feed(next(chunks))):
            pass
        # Nothing but keep-alive comments can come until the gate opens (the read
        # timeout of the client bounds the wait).
        waiting = len(parser.comments)
        while len(parser.comments) < waiting + 2:
            assert parser.feed(next(chunks)) == []
        gate.touch()
        events = [event for chunk in chunks for event in parser.feed(chunk)]
    assert not parser.buffer and not parser.data  # nothing cut off
    assert set(parser.comments) == {KEEPALIVE}
    assert any(is_delta(event, "after-gate") for event in events)
    assert events[-1]["type"] == "thread.item.done"
