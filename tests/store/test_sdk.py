"""``DjangoStore`` driven by the SDK itself: ``ChatKitServer.process()`` requests whose
correctness depends on the store's ordering, paging and ownership (facts 6, 10-12).

All items of a thread share one timestamp here, the worst case for ordering.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from chatkit import types as ck
from chatkit.server import NonStreamingResult, StreamingResult
from chatkit.store import NotFoundError

from django_chatkit.context import ChatKitContext
from tests.support.items import T0, message, thread_meta
from tests.support.protocol import result_events
from tests.support.servers import ScriptedServer

pytestmark = pytest.mark.django_db(transaction=True)


def user_message(item_id: str, text: str, thread_id: str = "thr_1") -> ck.UserMessageItem:
    return ck.UserMessageItem(
        id=item_id,
        thread_id=thread_id,
        created_at=T0,
        content=[ck.UserMessageTextContent(text=text)],
        inference_options=ck.InferenceOptions(),
    )


async def call(server: ScriptedServer, context: ChatKitContext, op: str, **params: Any) -> Any:
    """Send one request; the JSON answer, or the list of streamed events."""
    result = await server.process(json.dumps({"type": op, "params": params}), context)
    if isinstance(result, NonStreamingResult):
        return json.loads(result.json)
    assert isinstance(result, StreamingResult)
    return await result_events(result)


async def stored_ids(server: ScriptedServer, context: ChatKitContext) -> list[str]:
    page = await server.store.load_thread_items("thr_1", None, 100, "asc", context)
    return [item.id for item in page.data]


async def test_retry_deletes_exactly_the_items_after_the_message(server, as_alice):
    """The SDK walks items newest first, 20 a page, and deletes all it meets before the
    message (fact 11): a wrong order or a skipped tie would delete the wrong items."""
    store = server.store
    await store.save_thread(thread_meta("thr_1"), as_alice)
    before = [user_message("u1", "echo one"), message("a1"), user_message("u2", "echo two")]
    after = [message(f"a2_{n:02}") for n in range(25)]  # the target lands on page 2
    for item in before + after:
        await store.add_thread_item("thr_1", item, as_alice)

    events = await call(
        server, as_alice, "threads.retry_after_item", thread_id="thr_1", item_id="u2"
    )

    ids = await stored_ids(server, as_alice)
    assert ids[:3] == ["u1", "a1", "u2"] and len(ids) == 4
    answer = await store.load_item("thr_1", ids[3], as_alice)
    assert isinstance(answer, ck.AssistantMessageItem)
    assert answer.content[0].text.strip() == "two"
    assert [e["type"] for e in events if e["type"] == "error"] == []


async def test_client_tool_output_finds_the_newest_item_among_equal_timestamps(server, as_alice):
    store = server.store
    await store.save_thread(thread_meta("thr_1"), as_alice)
    await store.add_thread_item("thr_1", user_message("u1", "where am I"), as_alice)
    pending = ck.ClientToolCallItem(
        id="tc_1", thread_id="thr_1", created_at=T0, call_id="c1", name="locate", arguments={}
    )
    await store.add_thread_item("thr_1", pending, as_alice)

    await call(
        server, as_alice, "threads.add_client_tool_output", thread_id="thr_1", result={"x": 1}
    )

    done = await store.load_item("thr_1", "tc_1", as_alice)
    assert isinstance(done, ck.ClientToolCallItem)
    assert (done.status, done.output) == ("completed", {"x": 1})
    assert (await stored_ids(server, as_alice))[:2] == ["u1", "tc_1"]


async def test_threads_list_pages_through_the_protocol(server, as_alice, as_bob):
    for n in range(5):
        await server.store.save_thread(thread_meta(f"thr_{n}"), as_alice)
        await server.store.save_thread(thread_meta(f"thr_{n}"), as_bob)

    seen, after = [], None
    for _ in range(5):
        page = await call(server, as_alice, "threads.list", limit=2, order="desc", after=after)
        seen += [t["id"] for t in page["data"]]
        if not page["has_more"]:
            assert page.get("after") is None
            break
        after = page["after"]
    assert seen == [f"thr_{n}" for n in reversed(range(5))]


async def test_items_list_hides_hidden_items_the_store_keeps(server, as_alice):
    store = server.store
    await store.save_thread(thread_meta("thr_1"), as_alice)
    hidden = ck.SDKHiddenContextItem(id="h1", thread_id="thr_1", created_at=T0, content="x")
    for item in (user_message("u1", "hi"), hidden, message("a1")):
        await store.add_thread_item("thr_1", item, as_alice)

    page = await call(server, as_alice, "items.list", thread_id="thr_1", order="asc")
    thread = await call(server, as_alice, "threads.get_by_id", thread_id="thr_1")

    assert [i["id"] for i in page["data"]] == ["u1", "a1"]
    assert [i["id"] for i in thread["items"]["data"]] == ["u1", "a1"]
    assert await stored_ids(server, as_alice) == ["u1", "h1", "a1"]


async def test_a_new_thread_round_trips_through_the_protocol(server, as_alice):
    events = await call(
        server,
        as_alice,
        "threads.create",
        input={
            "content": [{"type": "input_text", "text": "echo hi there"}],
            "attachments": [],
            "inference_options": {},
        },
    )
    thread_id = events[0]["thread"]["id"]

    thread = await call(server, as_alice, "threads.get_by_id", thread_id=thread_id)
    streamed = [e["item"] for e in events if e["type"] == "thread.item.done"]
    assert thread["items"]["data"] == streamed  # what was streamed is what is reloaded
    assert [i["type"] for i in streamed] == ["user_message", "assistant_message"]


@pytest.mark.parametrize(
    ("op", "params"),
    [
        ("threads.get_by_id", {"thread_id": "thr_1"}),
        ("items.list", {"thread_id": "thr_1"}),
        ("threads.update", {"thread_id": "thr_1", "title": "mine now"}),
        ("threads.delete", {"thread_id": "thr_1"}),
        ("threads.add_user_message", {"thread_id": "thr_1", "input": None}),
    ],
)
async def test_another_users_thread_is_not_found_through_the_protocol(
    server, as_alice, as_bob, op, params
):
    await server.store.save_thread(thread_meta("thr_1", title="Alice's"), as_alice)
    await server.store.add_thread_item("thr_1", message("a1"), as_alice)
    if params.get("input", 0) is None:
        params["input"] = {"content": [], "attachments": [], "inference_options": {}}

    with pytest.raises(NotFoundError):
        await call(server, as_bob, op, **params)

    assert (await server.store.load_thread("thr_1", as_alice)).title == "Alice's"
    assert await stored_ids(server, as_alice) == ["a1"]
