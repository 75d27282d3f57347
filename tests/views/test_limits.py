"""Limits at the endpoint: page size, attachments per message, message size, and the
per-user rate limit (``CHATKIT_RATE_LIMIT``), each with a clear 4xx. Through Django's
test client, and (all four in one test) through live servers on both paths."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.contrib.auth import get_user_model
from django.test import AsyncClient

from django_chatkit.exceptions import RateLimited
from django_chatkit.models import Thread
from django_chatkit.ratelimit import check_rate_limit
from tests.support.live import LiveServer, live_client
from tests.support.protocol import add_message, new_thread, parse_sse, post

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("fresh_cache")]

URL = "/chatkit/"


async def send(client: AsyncClient, body: Any) -> Any:
    """Post; for a stream, read it to the end (the response is then complete)."""
    response = await post(client, body)
    if response.streaming:
        parse_sse(b"".join([chunk async for chunk in response.streaming_content]))
    return response


def error(response: Any) -> tuple[int, dict[str, Any]]:
    assert response["Content-Type"] == "application/json"
    return response.status_code, json.loads(response.content)


async def new_chat(client: AsyncClient, text: str = "echo hi") -> str:
    response = await send(client, new_thread(text))
    assert response.status_code == 200
    return (await Thread.objects.order_by("-pk").afirst()).chatkit_id


# page size ----------------------------------------------------------------------------


async def test_page_size_is_clamped_at_the_endpoint(chat: AsyncClient, settings: Any) -> None:
    settings.CHATKIT_MAX_PAGE_SIZE = 2
    for _ in range(3):
        thread_id = await new_chat(chat)
    for limit in (10**6, 2**63, 10**40):
        page = json.loads(
            (await post(chat, {"type": "threads.list", "params": {"limit": limit}})).content
        )
        assert len(page["data"]) == 2 and page["has_more"] is True and page["after"]
    page = json.loads((await post(chat, {"type": "threads.list", "params": {"limit": -5}})).content)
    assert len(page["data"]) == 1

    body = {"type": "items.list", "params": {"thread_id": thread_id, "limit": 10**9}}
    items = json.loads((await post(chat, body)).content)
    assert [i["type"] for i in items["data"]] == ["assistant_message", "user_message"]
    assert items["has_more"] is False


# attachments per message and message size ------------------------------------------------


async def test_too_many_attachments_is_400_before_anything_is_loaded(
    chat: AsyncClient, settings: Any
) -> None:
    settings.CHATKIT_MAX_ATTACHMENTS_PER_MESSAGE = 2
    refused = (
        400,
        {"error": "too_many_attachments", "message": "A message may have at most 2 attachments."},
    )
    three = ["atc_1", "atc_2", "atc_3"]
    assert error(await post(chat, new_thread("echo hi", three))) == refused
    thread_id = await new_chat(chat)
    body = add_message(thread_id, "echo hi")
    body["params"]["input"]["attachments"] = three
    assert error(await post(chat, body)) == refused
    # At the limit the ids are looked up (and these do not exist).
    response = await post(chat, new_thread("echo hi", three[:2]))
    assert error(response) == (404, {"error": "not_found", "message": "Attachment atc_1 not found"})
    assert await Thread.objects.acount() == 1


async def test_message_over_the_size_limit_is_413(chat: AsyncClient, settings: Any) -> None:
    settings.CHATKIT_MAX_MESSAGE_CHARS = 12
    too_large = (
        413,
        {"error": "message_too_large", "message": "A message may be at most 12 characters long."},
    )
    assert error(await post(chat, new_thread("echo 12345678"))) == too_large  # 13
    thread_id = await new_chat(chat, "echo 1234567")  # 12: accepted

    quoted = add_message(thread_id, "echo 12")  # 7 + 6 quoted
    quoted["params"]["input"]["quoted_text"] = "quoted"
    assert error(await post(chat, quoted)) == too_large
    tagged = add_message(thread_id, "echo")  # 4 + 9 in a tag
    tagged["params"]["input"]["content"].append(
        {"type": "input_tag", "id": "t1", "text": "123456789", "data": {}}
    )
    assert error(await post(chat, tagged)) == too_large
    assert await Thread.objects.acount() == 1


# rate limit -------------------------------------------------------------------------------


async def test_messages_over_the_rate_limit_are_429_with_retry_after(
    chat: AsyncClient, settings: Any
) -> None:
    settings.CHATKIT_RATE_LIMIT = "3/m"
    thread_id = await new_chat(chat)
    await send(chat, add_message(thread_id, "echo two"))
    # Refused for another reason first: not counted.
    assert (await post(chat, add_message("thr_missing", "echo no"))).status_code == 404
    assert (await send(chat, add_message(thread_id, "echo three"))).status_code == 200

    response = await post(chat, add_message(thread_id, "echo four"))
    status, body = error(response)
    assert status == 429
    assert body["error"] == "rate_limited"
    assert body["message"].startswith("Too many messages: at most 3 per minute. Try again in ")
    assert 1 <= int(response["Retry-After"]) <= 60
    assert body["message"].endswith(f" {response['Retry-After']} seconds.")
    for message in (new_thread("echo new"), {"type": "threads.retry_after_item", "params": {}}):
        if message["type"] == "threads.retry_after_item":
            items = json.loads(
                (
                    await post(chat, {"type": "items.list", "params": {"thread_id": thread_id}})
                ).content
            )
            user_item = next(i for i in items["data"] if i["type"] == "user_message")
            message["params"] = {"thread_id": thread_id, "item_id": user_item["id"]}
        assert (await post(chat, message)).status_code == 429
    assert await Thread.objects.acount() == 1

    # Operations that start no response are not limited.
    for body in (
        {"type": "threads.list", "params": {}},
        {"type": "items.list", "params": {"thread_id": thread_id}},
        {"type": "threads.update", "params": {"thread_id": thread_id, "title": "Renamed"}},
        {"type": "threads.get_by_id", "params": {"thread_id": thread_id}},
    ):
        assert (await post(chat, body)).status_code == 200, body["type"]


async def test_the_rate_limit_is_per_user(chat: AsyncClient, settings: Any) -> None:
    settings.CHATKIT_RATE_LIMIT = (1, 3600)
    await new_chat(chat)
    assert (await post(chat, new_thread("echo again"))).status_code == 429
    bob = AsyncClient()
    await bob.aforce_login(await get_user_model().objects.acreate_user("bob", password="pw"))
    assert (await send(bob, new_thread("echo bob's first"))).status_code == 200
    assert (await post(bob, new_thread("echo bob's second"))).status_code == 429


@pytest.fixture(scope="module")
def live_settings() -> str:
    return "tests.settings.limits"


def test_limits_through_a_live_server(endpoint_server: LiveServer, django_user_model: Any) -> None:
    """tests.settings.limits: pages of 2, 2 attachments, 12 characters, 3 messages."""
    alice = django_user_model.objects.create_user("alice", password="pw")
    with live_client(endpoint_server, alice) as client:
        # Refused before anything is saved or counted.
        response = client.post(URL, json=new_thread("echo hi", ["atc_1", "atc_2", "atc_3"]))
        assert (response.status_code, response.json()) == (
            400,
            {
                "error": "too_many_attachments",
                "message": "A message may have at most 2 attachments.",
            },
        )
        response = client.post(URL, json=new_thread("echo 12345678"))  # 13 characters
        assert (response.status_code, response.json()) == (
            413,
            {
                "error": "message_too_large",
                "message": "A message may be at most 12 characters long.",
            },
        )
        for _ in range(3):
            response = client.post(URL, json=new_thread("echo 1234567"))  # 12: accepted
            assert response.status_code == 200
            assert parse_sse(response.content)[-1]["type"] == "thread.item.done"
        page = client.post(URL, json={"type": "threads.list", "params": {"limit": 10**6}})
        assert [len(page.json()["data"]), page.json()["has_more"]] == [2, True]

        response = client.post(URL, json=new_thread("echo four"))
        assert response.status_code == 429
        assert response.json()["error"] == "rate_limited"
        retry_after = int(response.headers["Retry-After"])
        assert response.json()["message"] == (
            f"Too many messages: at most 3 per 1000000000 seconds. "
            f"Try again in {retry_after} seconds."
        )
    assert Thread.objects.count() == 3


async def test_fixed_windows_and_retry_after(alice: Any, settings: Any) -> None:
    settings.CHATKIT_RATE_LIMIT = "2/m"
    for _ in range(2):
        await check_rate_limit(alice, now=120.0)
    with pytest.raises(RateLimited) as refused:
        await check_rate_limit(alice, now=120.0)
    assert refused.value.retry_after == 60
    with pytest.raises(RateLimited) as refused:
        await check_rate_limit(alice, now=179.5)
    assert refused.value.retry_after == 1
    assert refused.value.headers == {"Retry-After": "1"}
    await check_rate_limit(alice, now=180.0)  # a new window


async def test_no_limit_by_default_and_a_dummy_cache_never_fails(alice: Any, settings: Any) -> None:
    for _ in range(50):
        await check_rate_limit(alice, now=1.0)
    settings.CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        "none": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"},
    }
    settings.CHATKIT_RATE_LIMIT = "1/h"
    settings.CHATKIT_RATE_LIMIT_CACHE = "none"
    for _ in range(3):  # counts nothing (check W006 says so), and fails nothing
        await check_rate_limit(alice, now=1.0)
    settings.CHATKIT_RATE_LIMIT_CACHE = "default"
    await check_rate_limit(alice, now=1.0)
    with pytest.raises(RateLimited):
        await check_rate_limit(alice, now=1.0)
