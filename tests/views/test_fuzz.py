"""Hostile input, generated: the endpoint never answers 500 and never shows a traceback.

Hypothesis builds request bodies for every operation from valid requests that name
real threads, items and attachments of the logged-in user (so mutations reach the
store and the server, not only the parser), then breaks them: wrong types, missing
and extra fields, huge strings, NUL characters, lone surrogates in JSON escapes, deep
nesting, huge numbers, arrays where objects go. Raw bodies add invalid UTF-8,
truncated JSON and nesting far past any parser's limit. Every answer must be a JSON
error for a 4xx, a complete SSE stream for a 200, and never a 500.

The runs are derandomized (the same cases every run, in CI too). Through Django's test
client, and a smaller run through live servers on both paths (Django's handler, the
lean path).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from asgiref.sync import async_to_sync
from django.contrib.auth import get_user_model
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.support.live import LiveServer, live_client
from tests.support.protocol import parse_sse, post, user_input
from tests.support.world import World, build_world

pytestmark = pytest.mark.django_db(transaction=True)

FUZZ = settings(
    deadline=None,
    derandomize=True,
    database=None,
    print_blob=True,
    suppress_health_check=[
        HealthCheck.function_scoped_fixture,
        HealthCheck.too_slow,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
)


def valid_requests(w: World) -> list[dict[str, Any]]:
    """One valid request per operation (two for those with optional parts)."""

    def op(op_type: str, **params: Any) -> dict[str, Any]:
        return {"type": op_type, "params": params}

    act = {"type": "confirm", "payload": {"order": 7, "lines": [{"sku": "a", "n": 2}]}}
    return [
        op("threads.get_by_id", thread_id=w.thread),
        op("threads.list", limit=5, order="asc", after=w.tool_thread),
        op("threads.update", thread_id=w.thread, title="Renamed"),
        op("threads.delete", thread_id=w.spare_thread),
        op("items.list", thread_id=w.thread, limit=2, order="desc", after=w.widget),
        op("items.feedback", thread_id=w.thread, item_ids=[w.answer], kind="negative"),
        op("threads.create", input=user_input("echo hi", [w.loose])),
        op(
            "threads.add_user_message",
            thread_id=w.thread,
            input={**user_input("echo again", [w.image]), "quoted_text": "hello"},
        ),
        op(
            "threads.add_user_message",
            thread_id=w.thread,
            input={
                "content": [
                    {"type": "input_tag", "id": "t", "text": "Order", "data": {"id": 7}},
                    {"type": "input_text", "text": "about this"},
                ],
                "attachments": [],
                "inference_options": {"model": "gpt", "tool_choice": {"id": "search"}},
            },
        ),
        op("threads.add_client_tool_output", thread_id=w.tool_thread, result={"lat": 1.5}),
        op(
            "threads.add_structured_input",
            thread_id=w.form_thread,
            item_id=w.form,
            input={"status": "answered", "answers": {"q1": {"values": ["Home"]}}},
        ),
        op("threads.retry_after_item", thread_id=w.thread, item_id=w.user_message),
        op("threads.custom_action", thread_id=w.thread, item_id=w.widget, action=act),
        op("threads.sync_custom_action", thread_id=w.thread, item_id=w.widget, action=act),
        op("attachments.create", name="notes.txt", size=12, mime_type="text/plain"),
        op("attachments.delete", attachment_id=w.pending),
        op("input.transcribe", audio_base64="AAAA", mime_type="audio/webm"),
    ]


# hostile values ----------------------------------------------------------------------


def nested(depth: int, kind: str) -> Any:
    value: Any = "bottom"
    for _ in range(depth):
        value = [value] if kind == "list" else {"a": value}
    return value


huge_ints = st.sampled_from([2**63, -(2**63) - 1, 10**400, -(10**30), 2**31, -1, 0])
awkward_text = st.text(
    alphabet=st.characters(codec=None, exclude_categories=()), min_size=0, max_size=40
)
special_strings = st.sampled_from(
    [
        "",
        "\x00",
        "thr_\x00",
        "\ud800",  # a lone surrogate: json.dumps writes it as the escape \ud800
        "\udfff tail",
        "a" * 300,  # longer than any id column
        "' OR 1=1 --",
        "../../etc/passwd",
        "<script>alert(1)</script>",
        "\u202e\ufeff\u200b",
        "threads.list",
        "echo " + "x" * 200_000,
    ]
)
hostile_values = st.one_of(
    st.none(),
    st.booleans(),
    huge_ints,
    st.integers(),
    st.floats(allow_nan=False),
    special_strings,
    awkward_text,
    st.lists(st.one_of(st.none(), st.integers(), special_strings), max_size=4),
    st.dictionaries(awkward_text, st.one_of(st.none(), st.integers(), awkward_text), max_size=3),
    st.builds(nested, st.sampled_from([50, 300, 600]), st.sampled_from(["list", "dict"])),
    # Fresh copies: mutate() changes what it draws in place, and a constant changed by
    # one example would change what later examples draw (hypothesis: "inconsistent data
    # generation").
    st.sampled_from([[], {}, [{}], {"type": "threads.list"}]).map(copy.deepcopy),
)


def paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every place in a JSON tree (the root included), down to 20 levels."""
    found = [prefix]
    if len(prefix) >= 20:
        return found
    if isinstance(value, dict):
        for key, child in value.items():
            found += paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += paths(child, (*prefix, index))
    return found


def mutate(body: Any, data: st.DataObject) -> Any:
    """``body`` with one place replaced, removed, wrapped or given an extra key."""
    path = data.draw(st.sampled_from(paths(body)), label="path")
    kind = data.draw(
        st.sampled_from(["replace", "replace", "delete", "wrap", "extra", "as_string"]),
        label="mutation",
    )
    if not path:
        return data.draw(hostile_values, label="root") if kind != "wrap" else [body]
    parent = body
    for key in path[:-1]:
        parent = parent[key]
    key = path[-1]
    if kind == "delete":
        del parent[key]
    elif kind == "wrap":
        parent[key] = [parent[key]] if data.draw(st.booleans()) else {"value": parent[key]}
    elif kind == "extra" and isinstance(parent[key], dict):
        parent[key][data.draw(awkward_text, label="extra key")] = data.draw(hostile_values)
    elif kind == "as_string":
        parent[key] = json.dumps(parent[key])
    else:
        parent[key] = data.draw(hostile_values, label="value")
    return body


# the checks ----------------------------------------------------------------------------


def check_answer(body: bytes, status: int, content_type: str, content: bytes) -> None:
    """Fail on a 500, a traceback, or an answer of the wrong shape."""
    if content_type == "text/event-stream":
        assert status == 200
        events = parse_sse(content)  # complete frames only
        assert events, content[:200]
    else:
        assert status != 500, (body[:300], content[:300])
        assert content_type == "application/json", content[:200]
        answer = json.loads(content)
        if status >= 400:
            assert set(answer) == {"error", "message"}, answer
            assert isinstance(answer["message"], str) and answer["message"]
    assert b"Traceback" not in content


async def check(world: World, body: bytes) -> int:
    """Send ``body`` through Django's test client and check the answer."""
    response = await post(world.client, body)
    if response.streaming:
        content = b"".join([chunk async for chunk in response.streaming_content])
    else:
        content = response.content
    check_answer(body, response.status_code, response["Content-Type"], content)
    return response.status_code


@pytest.fixture
async def world(settings: Any) -> World:
    settings.CHATKIT_SERVER = "tests.support.servers.FuzzServer"
    user = await get_user_model().objects.acreate_user("mallory", password="pw")
    return await build_world(user)


def encode(body: Any) -> bytes:
    return json.dumps(body).encode()  # ensure_ascii: surrogates become \ud800 escapes


@settings(FUZZ, max_examples=1200)
@given(data=st.data())
async def test_mutated_requests_never_fail_the_server(world: World, data: st.DataObject) -> None:
    templates = valid_requests(world)
    body = json.loads(json.dumps(data.draw(st.sampled_from(templates), label="operation")))
    for _ in range(data.draw(st.integers(1, 3), label="mutations")):
        body = mutate(body, data)
    await check(world, encode(body))


@settings(FUZZ, max_examples=500)
@given(data=st.data())
async def test_type_confused_requests(world: World, data: st.DataObject) -> None:
    """Any operation's ``type`` with any other operation's ``params`` (and junk)."""
    templates = valid_requests(world)
    kind = data.draw(st.sampled_from(templates), label="type")["type"]
    params = data.draw(st.sampled_from(templates), label="params")["params"]
    body: dict[str, Any] = {"type": kind, "params": params}
    if data.draw(st.booleans(), label="metadata"):
        body["metadata"] = data.draw(hostile_values, label="metadata value")
    await check(world, encode(body))


raw_bodies = st.one_of(
    st.binary(max_size=200),
    st.sampled_from(
        [
            b"",
            b"null",
            b"1",
            b'"threads.list"',
            b"[]",
            b"[" * 100_000,
            b'{"type": "threads.list", "params": ' + b"[" * 5_000 + b"]" * 5_000 + b"}",
            b'{"type": "threads.list", "params": {"limit": 1e999}}',
            b'{"type": "threads.list", "params": {"limit": NaN}}',
            b'{"type": "threads.list", "params": {"limit": 99999999999999999999999999}}',
            b'{"type": "threads.list", "params": {}, "type": "items.list"}',
            b'{"type": "threads.get_by_id", "params": {"thread_id": "\\ud800"}}',
            b'{"type": "threads.get_by_id", "params": {"thread_id": "\\udc00\\ud800"}}',
            b'{"type": "threads.get_by_id", "params": {"thread_id": "\\u0000"}}',
            b'{"type": "threads.get_by_id", "params": {"thread_id": "\xff\xfe"}}',
            b'\xef\xbb\xbf{"type": "threads.list", "params": {}}',
            b'{"type": "threads.list", "params": {}}' + b" " * 10 + b"{}",
            b'{"type": "threads.list", "params": {}',
        ]
    ),
)


@settings(FUZZ, max_examples=500)
@given(body=raw_bodies, template=st.integers(0, 16), cut=st.integers(0, 400))
async def test_raw_bodies(world: World, body: bytes, template: int, cut: int) -> None:
    await check(world, body)
    # A valid request cut anywhere: truncated JSON.
    valid = encode(valid_requests(world)[template])
    await check(world, valid[: cut % max(1, len(valid))])


def hostile_leaves(value: Any, data: st.DataObject, key: Any = None) -> Any:
    """``value`` with some strings and numbers swapped for hostile ones of the same
    type (the operation's ``type`` and the enum fields kept): it still validates, so it
    goes all the way through the store and the server."""
    if isinstance(value, dict):
        return {k: hostile_leaves(v, data, k) for k, v in value.items()}
    if isinstance(value, list):
        return [hostile_leaves(v, data, key) for v in value]
    if key in ("type", "kind", "order", "status", "mime_type") or isinstance(value, bool):
        return value
    if not data.draw(st.booleans(), label=f"swap {key}"):
        return value
    if isinstance(value, str):
        return data.draw(st.one_of(special_strings, awkward_text), label=str(key))
    if isinstance(value, (int, float)):
        return data.draw(st.one_of(huge_ints, st.floats(allow_nan=False)), label=str(key))
    return value


@settings(FUZZ, max_examples=600)
@given(data=st.data())
async def test_hostile_values_of_the_right_type(world: World, data: st.DataObject) -> None:
    """Ids (thread, item, attachment, cursor), texts, titles, names and numbers swapped
    for hostile values of the right type: only 200, 400, 404, 413 or 501."""
    templates = valid_requests(world)
    body = data.draw(st.sampled_from(templates), label="operation")
    status = await check(world, encode(hostile_leaves(body, data)))
    assert status in (200, 400, 404, 413, 415, 501)


# through live servers, on both paths ------------------------------------------------------

LIVE_EXAMPLES = 300  # per server and path


@pytest.fixture(scope="module")
def live_settings() -> str:
    return "tests.settings.fuzz"


@pytest.fixture
def live_world(endpoint_server: LiveServer, settings: Any) -> World:
    """Mallory's world, its files where the live server keeps its own."""
    settings.CHATKIT_SERVER = "tests.support.servers.FuzzServer"
    settings.MEDIA_ROOT = str(endpoint_server.media_root)
    user = get_user_model().objects.create_user("mallory", password="pw")
    return async_to_sync(build_world)(user)


def hostile_body(world: World, data: st.DataObject) -> bytes:
    """A body of one of the kinds above: mutated, type-confused, of hostile values, raw."""
    templates = valid_requests(world)
    kind = data.draw(st.sampled_from(["mutated", "confused", "hostile", "raw"]), label="kind")
    body = json.loads(json.dumps(data.draw(st.sampled_from(templates), label="operation")))
    if kind == "mutated":
        return encode(mutate(body, data))
    if kind == "confused":
        params = data.draw(st.sampled_from(templates), label="params")["params"]
        return encode({"type": body["type"], "params": params})
    if kind == "hostile":
        return encode(hostile_leaves(body, data))
    return data.draw(raw_bodies, label="raw")


@pytest.fixture
def mallory_browser(endpoint_server: LiveServer, live_world: World) -> Iterator[httpx.Client]:
    with live_client(endpoint_server, live_world.user) as client:
        yield client


@settings(FUZZ, max_examples=LIVE_EXAMPLES)
@given(data=st.data())
def test_hostile_requests_through_a_live_server(
    endpoint_server: LiveServer,
    live_world: World,
    mallory_browser: httpx.Client,
    data: st.DataObject,
) -> None:
    """The same kinds of hostile bodies through real daphne and uvicorn, on Django's
    handler and on the lean path: the same checks, and no traceback in the server's log."""
    body = hostile_body(live_world, data)
    response = mallory_browser.post(
        "/chatkit/", content=body, headers={"content-type": "application/json"}
    )
    check_answer(body, response.status_code, response.headers["content-type"], response.content)
    log = endpoint_server.log()
    assert "Traceback" not in log, log[-3000:]  # no 500: the view logs one with its traceback
