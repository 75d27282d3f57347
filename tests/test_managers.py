"""Ownership on the managers (``django_chatkit.managers``): ``owned_by()`` of each model
selects what a context owns (its user *and* scope), nothing of anybody else's, and
refuses a context without an authenticated user."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from django.contrib.auth.models import AnonymousUser, User
from django.core.exceptions import PermissionDenied

from django_chatkit.context import ChatKitContext
from django_chatkit.managers import Owner
from django_chatkit.models import Attachment, Feedback, Thread, ThreadItem

pytestmark = pytest.mark.django_db

AT = datetime(2026, 1, 1, tzinfo=UTC)


def thread(user: User, chatkit_id: str, scope: str = "") -> Thread:
    return Thread.objects.create(
        user=user, scope=scope, chatkit_id=chatkit_id, created_at=AT, payload="{}"
    )


def item(row: Thread, chatkit_id: str) -> ThreadItem:
    return ThreadItem.objects.create(
        thread=row, chatkit_id=chatkit_id, type="assistant_message", created_at=AT, payload="{}"
    )


def attachment(user: User, chatkit_id: str, scope: str = "") -> Attachment:
    return Attachment.objects.create(
        user=user, scope=scope, chatkit_id=chatkit_id, type="file", name="a.txt", payload="{}"
    )


def feedback(user: User, row: Thread, item_id: str) -> Feedback:
    return Feedback.objects.create(user=user, thread=row, item_chatkit_id=item_id, kind="positive")


def chatkit_ids(queryset: Any) -> list[str]:
    field = "item_chatkit_id" if queryset.model is Feedback else "chatkit_id"
    return sorted(queryset.values_list(field, flat=True))


@pytest.fixture
def world() -> dict[str, Any]:
    """Alice and Bob each have a thread ``thr_same`` (same id) in the default scope;
    Alice has one more there and one in the scope ``support``."""
    alice, bob = User.objects.create_user("alice"), User.objects.create_user("bob")
    threads = {
        "alice": thread(alice, "thr_same"),
        "alice_other": thread(alice, "thr_other"),
        "alice_support": thread(alice, "thr_same", scope="support"),
        "bob": thread(bob, "thr_same"),
    }
    for name, row in threads.items():
        item(row, f"msg_{name}")
        feedback(row.user, row, f"msg_{name}")
    attachment(alice, "atc_alice")
    attachment(alice, "atc_alice_support", scope="support")
    attachment(bob, "atc_bob")
    return {
        "alice": ChatKitContext(user=alice),
        "alice_support": ChatKitContext(user=alice, scope="support"),
        "bob": ChatKitContext(user=bob),
        "threads": threads,
    }


def test_threads_owned_by_each_user_and_scope(world):
    assert chatkit_ids(Thread.objects.owned_by(world["alice"])) == ["thr_other", "thr_same"]
    assert chatkit_ids(Thread.objects.owned_by(world["alice_support"])) == ["thr_same"]
    assert chatkit_ids(Thread.objects.owned_by(world["bob"])) == ["thr_same"]
    mine = Thread.objects.owned_by(world["alice"]).get(chatkit_id="thr_same")
    theirs = Thread.objects.owned_by(world["bob"]).get(chatkit_id="thr_same")
    support = Thread.objects.owned_by(world["alice_support"]).get(chatkit_id="thr_same")
    assert (mine, theirs, support) == (
        world["threads"]["alice"],
        world["threads"]["bob"],
        world["threads"]["alice_support"],
    )


def test_items_owned_by_each_user_in_all_or_one_thread(world):
    alice, bob = world["alice"], world["bob"]
    assert chatkit_ids(ThreadItem.objects.owned_by(alice)) == ["msg_alice", "msg_alice_other"]
    assert chatkit_ids(ThreadItem.objects.owned_by(alice, "thr_same")) == ["msg_alice"]
    assert chatkit_ids(ThreadItem.objects.owned_by(bob, "thr_same")) == ["msg_bob"]
    assert chatkit_ids(ThreadItem.objects.owned_by(world["alice_support"], "thr_same")) == [
        "msg_alice_support"
    ]
    # Somebody else's thread, or a missing one, has no items for them.
    assert not ThreadItem.objects.owned_by(bob, "thr_other").exists()
    assert not ThreadItem.objects.owned_by(alice, "thr_missing").exists()


def test_attachments_owned_by_each_user_and_scope(world):
    assert chatkit_ids(Attachment.objects.owned_by(world["alice"])) == ["atc_alice"]
    assert chatkit_ids(Attachment.objects.owned_by(world["alice_support"])) == ["atc_alice_support"]
    assert chatkit_ids(Attachment.objects.owned_by(world["bob"])) == ["atc_bob"]
    assert not Attachment.objects.owned_by(world["bob"]).filter(chatkit_id="atc_alice").exists()


def test_feedback_owned_by_each_user_in_all_or_one_thread(world):
    alice, bob = world["alice"], world["bob"]
    assert chatkit_ids(Feedback.objects.owned_by(alice)) == ["msg_alice", "msg_alice_other"]
    assert chatkit_ids(Feedback.objects.owned_by(alice, "thr_other")) == ["msg_alice_other"]
    assert chatkit_ids(Feedback.objects.owned_by(bob)) == ["msg_bob"]
    assert chatkit_ids(Feedback.objects.owned_by(bob, "thr_same")) == ["msg_bob"]
    assert not Feedback.objects.owned_by(bob, "thr_other").exists()
    assert chatkit_ids(Feedback.objects.owned_by(world["alice_support"])) == ["msg_alice_support"]


@pytest.mark.parametrize("user", [AnonymousUser(), None], ids=["anonymous", "none"])
@pytest.mark.parametrize(
    "owned_by",
    [
        Thread.objects.owned_by,
        ThreadItem.objects.owned_by,
        Attachment.objects.owned_by,
        Feedback.objects.owned_by,
    ],
    ids=["thread", "item", "attachment", "feedback"],
)
def test_without_an_authenticated_user_owned_by_refuses_at_once(owned_by, user):
    with pytest.raises(PermissionDenied):
        owned_by(ChatKitContext(user=user))  # before any query is built or run
    with pytest.raises(PermissionDenied):
        Owner.of(ChatKitContext(user=user))


def test_an_owner_is_the_context_user_and_scope_or_a_thread_owner(world):
    alice = world["alice_support"].user
    assert Owner.of(world["alice_support"]) == Owner(alice.pk, "support")
    assert Owner.of(Owner(alice.pk, "support")) == Owner(alice.pk, "support")
    assert world["threads"]["alice_support"].owner == Owner(alice.pk, "support")
    assert Owner(alice.pk, "support").columns() == {"user_id": alice.pk, "scope": "support"}
    # An Owner works wherever a context does.
    assert chatkit_ids(Attachment.objects.owned_by(world["threads"]["bob"].owner)) == ["atc_bob"]


def test_pk_of_finds_the_owners_thread_in_the_same_statement(world, django_assert_num_queries):
    threads = world["threads"]
    with django_assert_num_queries(1):
        rows = list(
            ThreadItem.objects.filter(
                thread_id=Thread.objects.owned_by(world["bob"]).pk_of("thr_same")
            ).values_list("chatkit_id", flat=True)
        )
    assert rows == ["msg_bob"]
    # Somebody else's or a missing thread: NULL, which matches no row.
    assert not ThreadItem.objects.filter(
        thread_id=Thread.objects.owned_by(world["bob"]).pk_of("thr_other")
    ).exists()
    assert threads["alice_other"].chatkit_id == "thr_other"
