"""``DjangoChatKitServer.process()`` parses once and then runs the SDK's own request flows.

The SDK's ``ChatKitServer.process()`` builds a pydantic ``TypeAdapter`` for every request
(milliseconds of CPU); ours parses with one adapter and calls the SDK's
``_process_streaming`` / ``_process_non_streaming``. These tests pin that private seam:
an SDK release that renames or reshapes it fails here, not in production.
"""

from __future__ import annotations

import inspect
import json
from typing import Any

import pytest
from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult

from django_chatkit.server import parse_request
from tests.support.protocol import result_events

pytestmark = pytest.mark.django_db(transaction=True)


async def answer(result: StreamingResult | NonStreamingResult) -> Any:
    if isinstance(result, NonStreamingResult):
        return json.loads(result.json)
    return await result_events(result)


def body(op: str, **params: Any) -> bytes:
    return json.dumps({"type": op, "params": params}).encode()


def test_the_sdk_flows_we_call_keep_their_signatures():
    for name in ("_process_streaming", "_process_non_streaming"):
        parameters = list(inspect.signature(getattr(ChatKitServer, name)).parameters)
        assert parameters == ["self", "request", "context"], name
    assert inspect.isasyncgenfunction(ChatKitServer._process_streaming)
    assert inspect.iscoroutinefunction(ChatKitServer._process_non_streaming)
    # Durable answers' checkpoints (django_chatkit.durable.checkpoints) follow a streamed
    # assistant message with the SDK's own bookkeeping.
    parameters = list(inspect.signature(ChatKitServer._apply_assistant_message_update).parameters)
    assert parameters == ["self", "item", "update"]


async def test_answers_match_the_sdks_own_process(server, as_alice):
    created = await answer(
        await server.process(
            body(
                "threads.create",
                input={
                    "content": [{"type": "input_text", "text": "echo hi"}],
                    "attachments": [],
                    "inference_options": {},
                },
            ),
            as_alice,
        )
    )
    thread_id = created[0]["thread"]["id"]
    assert created[-1]["type"] == "thread.item.done"

    requests = [
        body("threads.list", limit=5),
        body("threads.get_by_id", thread_id=thread_id),
        body("items.list", thread_id=thread_id, limit=10, order="asc"),
        body("threads.update", thread_id=thread_id, title="Renamed"),
    ]
    for raw in requests:
        sdk = await answer(await ChatKitServer.process(server, raw, as_alice))
        ours_from_body = await answer(await server.process(raw, as_alice))
        ours_parsed = await answer(await server.process(parse_request(raw), as_alice))
        assert sdk == ours_from_body == ours_parsed, raw


async def test_streams_match_the_sdks_own_process(server, as_alice):
    def message(text: str) -> dict[str, Any]:
        return {
            "content": [{"type": "input_text", "text": text}],
            "attachments": [],
            "inference_options": {},
        }

    created = await answer(
        await server.process(body("threads.create", input=message("echo a")), as_alice)
    )
    thread_id = created[0]["thread"]["id"]
    raw = body("threads.add_user_message", thread_id=thread_id, input=message("echo b c"))
    sdk = await answer(await ChatKitServer.process(server, raw, as_alice))
    ours = await answer(await server.process(parse_request(raw), as_alice))
    assert [event["type"] for event in ours] == [event["type"] for event in sdk]
    assert len(ours) > 3


async def test_a_parsed_request_is_not_parsed_again(server, as_alice, monkeypatch):
    """The per-request ``TypeAdapter`` of the SDK's ``process()`` is never built."""

    class NoAdapter:
        def __class_getitem__(cls, item: Any) -> type[NoAdapter]:
            return cls

        def __init__(self, *args: Any) -> None:
            raise AssertionError("the SDK's per-request TypeAdapter was built")

    monkeypatch.setattr("chatkit.server.TypeAdapter", NoAdapter)
    raw = body("threads.list", limit=5)
    for request in (raw, parse_request(raw)):
        page = await answer(await server.process(request, as_alice))
        assert page["data"] == [] and page["has_more"] is False
    with pytest.raises(AssertionError, match="per-request TypeAdapter"):
        await ChatKitServer.process(server, raw, as_alice)
