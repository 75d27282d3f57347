"""The push API (``django_chatkit.live``): items added outside a request reach open
chats, after commit only, and across worker processes through Redis."""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from channels.layers import get_channel_layer
from chatkit import types as ck
from django.core.checks import run_checks
from django.db import transaction
from django.template import Context, Template

from django_chatkit import signals
from django_chatkit.context import ChatKitContext
from django_chatkit.live import (
    aadd_assistant_message,
    add_assistant_message,
    add_item,
    user_group,
)
from django_chatkit.models import Thread, ThreadItem
from django_chatkit.store import DjangoStore
from tests.support.factories import make_user
from tests.support.live import live_client
from tests.support.sockets import (
    delete_redis_keys,
    open_socket,
    receive,
    redis_channel_layers,
    redis_layer_env,
    servers,
)

pytestmark = pytest.mark.django_db(transaction=True)


def make_thread(user: Any, chatkit_id: str = "thr_live") -> Thread:
    metadata = ck.ThreadMetadata(id=chatkit_id, created_at="2025-01-01T00:00:00")
    thread = Thread(user=user)
    thread.set_metadata(metadata)
    thread.save()
    return thread


async def test_a_job_pushes_an_assistant_message_to_the_owners_group() -> None:
    user = await sync_to_async(make_user)("alice")
    thread = await sync_to_async(make_thread)(user)
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(user_group(user.pk), channel)
    saved: list[dict[str, Any]] = []

    def on_item_saved(sender: Any, **kwargs: Any) -> None:
        saved.append(kwargs)

    signals.item_saved.connect(on_item_saved)
    try:
        item = await aadd_assistant_message(thread, "Your report is ready.")
    finally:
        signals.item_saved.disconnect(on_item_saved)

    message = await asyncio.wait_for(layer.receive(channel), 5)
    assert message == {
        "type": "chatkit.thread_updated",
        "thread_id": "thr_live",
        "scope": "",
    }
    # The item is what ChatKit's items.list returns for the owner.
    page = await DjangoStore().load_thread_items(
        "thr_live", None, 10, "asc", ChatKitContext(user=user)
    )
    assert page.data == [item]
    assert item.id.startswith("msg_") and item.content[0].text == "Your report is ready."
    assert [(s["thread_id"], s["item"], s["created"]) for s in saved] == [("thr_live", item, True)]
    assert saved[0]["context"].user.pk == user.pk


async def test_a_rolled_back_job_saves_and_notifies_nothing() -> None:
    user = await sync_to_async(make_user)("bob")
    thread = await sync_to_async(make_thread)(user)
    layer = get_channel_layer()
    channel = await layer.new_channel()
    await layer.group_add(user_group(user.pk), channel)

    def job(fail: bool) -> None:
        with transaction.atomic():
            add_assistant_message(thread, "done")
            if fail:
                raise RuntimeError("job failed")

    with pytest.raises(RuntimeError):
        await sync_to_async(job)(True)
    with pytest.raises(TimeoutError):
        await asyncio.wait_for(layer.receive(channel), 0.5)
    assert not await ThreadItem.objects.filter(thread=thread).aexists()

    await sync_to_async(job)(False)  # committed: notified
    assert (await asyncio.wait_for(layer.receive(channel), 5))["thread_id"] == "thr_live"
    assert await ThreadItem.objects.filter(thread=thread).acount() == 1


async def test_without_a_channel_layer_the_item_is_saved_and_a_warning_logged(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    settings.CHANNEL_LAYERS = {}
    user = await sync_to_async(make_user)("carol")
    thread = await sync_to_async(make_thread)(user)
    with caplog.at_level(logging.WARNING, logger="django_chatkit"):
        await aadd_assistant_message(thread, "hello")
    assert "CHANNEL_LAYERS is not configured" in caplog.text
    assert await ThreadItem.objects.filter(thread=thread).aexists()


def test_an_item_added_twice_keeps_the_stored_one_as_the_store_does(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """``add_item`` writes through the store's path (``store.items.write_item``): an id
    the thread already has keeps the stored item, logs a warning and sends no signal."""
    user = make_user("dave")
    thread = make_thread(user)
    first = add_assistant_message(thread, "first", notify=False)
    saved: list[dict[str, Any]] = []

    def on_item_saved(sender: Any, **kwargs: Any) -> None:
        saved.append({"sender": sender, **kwargs})

    signals.item_saved.connect(on_item_saved)
    try:
        again = first.model_copy(update={"content": [ck.AssistantMessageContent(text="again")]})
        with caplog.at_level(logging.WARNING, logger="django_chatkit"):
            add_item(thread, again, notify=False)
        later = add_assistant_message(thread, "later", notify=False)
    finally:
        signals.item_saved.disconnect(on_item_saved)

    assert f"Thread thr_live already has item {first.id}" in caplog.text
    stored = [row.to_chatkit() for row in ThreadItem.objects.filter(thread=thread).order_by("pk")]
    assert stored == [first, later]
    assert [(s["sender"], s["item"], s["created"]) for s in saved] == [(DjangoStore, later, True)]
    assert saved[0]["context"].user == user and saved[0]["context"].request is None


def test_user_groups_are_valid_channel_layer_group_names() -> None:
    assert user_group(42) == "django_chatkit.user.42"
    odd = user_group("ü@example.com/" + "x" * 100)
    assert odd.startswith("django_chatkit.user.") and odd.isascii() and len(odd) < 100
    assert odd != user_group("u@example.com/" + "x" * 100)


def test_two_daphne_processes_on_redis(settings: Any, tmp_path: Any) -> None:
    """A push made through process 1 (a staff reply) or by another process (a job)
    reaches a socket held by process 2, through Redis."""
    env = redis_layer_env()
    settings.CHANNEL_LAYERS = redis_channel_layers(env)  # this process: the "job"
    alice, bob = make_user("alice"), make_user("bob")
    agent = make_user("agent", staff=True, perms=("view_thread", "reply_as_assistant"))
    alice_thread, bob_thread = make_thread(alice, "thr_alice"), make_thread(bob, "thr_bob")
    layer = f"{env['CHATKIT_TEST_REDIS_URL']} prefix {env['CHATKIT_TEST_REDIS_PREFIX']}"
    started = time.monotonic()
    out: list[str] = []

    def log(line: str) -> None:
        out.append(f"[{time.monotonic() - started:6.2f}s] {line}")

    log(f"Redis channel layer {layer}")
    try:
        with servers(tmp_path, 2, **env) as (first, second):
            log(f"process 1: daphne pid {first.process.pid} on port {first.port}")
            log(f"process 2: daphne pid {second.process.pid} on port {second.port}")
            with open_socket(second, alice) as alice_socket, open_socket(second, bob) as bob_socket:
                log("alice and bob: sockets open on process 2")
                with live_client(first, agent) as staff:
                    url = f"/admin/django_chatkit/thread/{alice_thread.pk}/reply/"
                    response = staff.post(
                        url, data={"message": "Sam here.", "handled_by_human": "on"}
                    )
                    assert response.status_code == 302
                log("staff: replied to alice's thread through process 1 (admin)")
                message = receive(alice_socket)
                assert message["thread_id"] == "thr_alice"
                log(f"alice's socket on process 2 received: {message}")

                add_assistant_message(alice_thread, "Your export is ready.")
                log("job (the test process): add_assistant_message(alice's thread)")
                message = receive(alice_socket)
                assert message["thread_id"] == "thr_alice"
                log(f"alice's socket on process 2 received: {message}")

                add_assistant_message(bob_thread, "Bob's turn.")
                message = receive(bob_socket)
                assert message["thread_id"] == "thr_bob"  # bob's first: never alice's
                log(f"bob's socket on process 2 received (his first): {message}")

            with live_client(first, alice) as alice_http:
                items = alice_http.post(
                    "/chatkit/",
                    json={
                        "type": "items.list",
                        "params": {"thread_id": "thr_alice", "order": "asc"},
                    },
                ).json()["data"]
            texts = [i["content"][0]["text"] for i in items]
            assert texts == ["Sam here.", "Your export is ready."]
            log(f"alice's items.list through process 1: {texts}")
    finally:
        delete_redis_keys(env["CHATKIT_TEST_REDIS_PREFIX"])
    print("\nTwo daphne processes on Redis:\n  " + "\n  ".join(out))


def test_the_tag_adds_the_live_script_when_live_updates_are_on(settings: Any, rf: Any) -> None:
    def render(**context: Any) -> str:
        template = Template("{% load django_chatkit %}{% chatkit %}")
        return template.render(Context({"request": rf.get("/"), **context}))

    assert "live.js" not in render()  # off by default
    settings.CHATKIT_LIVE_URL = "/chatkit/live/"
    assert render(csp_nonce="n1").endswith(
        '<script src="/static/django_chatkit/chatkit.js" defer data-django-chatkit-glue '
        'nonce="n1"></script>\n'
        '<script src="/static/django_chatkit/live.js" defer '
        'data-django-chatkit-live="/chatkit/live/" nonce="n1"></script>'
    )


def test_check_w020_live_url_without_a_channel_layer(settings: Any) -> None:
    settings.CHATKIT_LIVE_URL = "/chatkit/live/"
    assert "django_chatkit.W020" not in [m.id for m in run_checks()]
    del settings.CHANNEL_LAYERS
    warnings = [m for m in run_checks() if m.id == "django_chatkit.W020"]
    assert len(warnings) == 1 and "CHANNEL_LAYERS" in warnings[0].hint
