"""``items.feedback``: ``DjangoChatKitServer.add_feedback`` persists it, owner-checked."""

from __future__ import annotations

import pytest
from asgiref.sync import sync_to_async
from chatkit.store import NotFoundError

from django_chatkit.context import ChatKitContext
from django_chatkit.models import Feedback
from django_chatkit.server import get_server
from tests.support.factories import (
    add_items,
    feedback_request,
    feedback_setup,
    make_thread,
    make_user,
    mixed_items,
)

pytestmark = pytest.mark.django_db(transaction=True)


@sync_to_async
def stored() -> dict[str, tuple[int, str]]:
    return {
        chatkit_id: (user_id, kind)
        for chatkit_id, user_id, kind in Feedback.objects.values_list(
            "item_chatkit_id", "user_id", "kind"
        )
    }


async def test_feedback_is_saved_per_user_and_item_and_can_change():
    alice, _bob, thread, rows, *_ = await feedback_setup()
    server, context = get_server(), ChatKitContext(user=alice)
    answer, widget = rows[6].chatkit_id, rows[7].chatkit_id
    result = await server.process(
        feedback_request(thread.chatkit_id, [answer, widget], "positive"), context
    )
    assert result.json == b"{}"
    assert await stored() == {answer: (alice.pk, "positive"), widget: (alice.pk, "positive")}
    first = await Feedback.objects.aget(item_chatkit_id=widget)

    await server.process(feedback_request(thread.chatkit_id, [widget, widget], "negative"), context)
    assert await stored() == {answer: (alice.pk, "positive"), widget: (alice.pk, "negative")}
    changed = await Feedback.objects.aget(item_chatkit_id=widget)
    assert changed.pk == first.pk and changed.created_at == first.created_at
    assert changed.updated_at > first.updated_at


async def test_foreign_or_unknown_ids_are_not_found_and_save_nothing():
    alice, bob, thread, rows, other_rows, bobs, bob_rows = await feedback_setup()
    server = get_server()
    as_alice, as_bob = ChatKitContext(user=alice), ChatKitContext(user=bob)
    mine = rows[0].chatkit_id
    cases = [
        (as_bob, thread.chatkit_id, [mine]),  # somebody else's thread
        (as_alice, bobs.chatkit_id, [bob_rows[0].chatkit_id]),
        (as_alice, "thr_missing", [mine]),
        (as_alice, thread.chatkit_id, [mine, other_rows[0].chatkit_id]),  # another thread's item
        (as_alice, thread.chatkit_id, [mine, bob_rows[0].chatkit_id]),  # somebody else's item
        (as_alice, thread.chatkit_id, [mine, "msg_missing"]),
    ]
    for context, thread_id, item_ids in cases:
        with pytest.raises(NotFoundError):
            await server.process(feedback_request(thread_id, item_ids, "negative"), context)
    assert await stored() == {}


def test_through_the_endpoint(client):
    alice, bob = make_user("alice"), make_user("bob")
    thread = make_thread(alice, "mine")
    rows = add_items(thread, mixed_items(thread)[:7])
    body = feedback_request(thread.chatkit_id, [rows[6].chatkit_id], "negative")

    client.force_login(bob)
    response = client.post("/chatkit/", body, content_type="application/json")
    assert response.status_code == 404
    assert not Feedback.objects.exists()

    client.force_login(alice)
    response = client.post("/chatkit/", body, content_type="application/json")
    assert response.status_code == 200
    assert list(Feedback.objects.values_list("user_id", "kind")) == [(alice.pk, "negative")]


async def test_deleting_an_item_deletes_its_feedback_only():
    alice, _bob, thread, rows, *_ = await feedback_setup()
    server, context = get_server(), ChatKitContext(user=alice)
    answer, widget = rows[6].chatkit_id, rows[7].chatkit_id
    await server.process(feedback_request(thread.chatkit_id, [answer, widget], "positive"), context)

    await server.store.delete_thread_item(thread.chatkit_id, answer, context)

    assert await stored() == {widget: (alice.pk, "positive")}
