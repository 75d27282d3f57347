"""Persisting ``items.feedback``: one row per user and item, the latest kind wins, then
``signals.feedback_saved``."""

from __future__ import annotations

from typing import Any

from chatkit.store import NotFoundError
from django.db import transaction
from django.utils import timezone

from django_chatkit import signals
from django_chatkit.db import run_db
from django_chatkit.managers import Owner
from django_chatkit.models import Feedback, FeedbackKind, ThreadItem
from django_chatkit.store.queries import thread_pk


async def record_feedback(
    sender: type,
    owner: Owner,
    thread_id: str,
    item_ids: list[str],
    kind: str,
    context: Any,
) -> None:
    """Save the feedback (:func:`save_feedback`), then send ``feedback_saved`` with the
    items it is on (each once, in the order given)."""
    saved = await run_db(save_feedback, owner, thread_id, item_ids, kind)
    await signals.feedback_saved.asend(
        sender=sender, thread_id=thread_id, item_ids=saved, kind=kind, context=context
    )


def save_feedback(owner: Owner, thread_id: str, item_ids: list[str], kind: str) -> list[str]:
    """Record ``kind`` (positive/negative) by the owner on items of the owner's thread.

    ``owner`` is ``Owner.of(context)``. A thread or an item that is missing or somebody
    else's raises ``NotFoundError``, and then nothing is saved. Returns the ids of the
    items the feedback is on, each once. The only path that writes feedback rows.
    """
    if kind not in FeedbackKind.values:
        raise ValueError(f"Unknown feedback kind {kind!r}")
    wanted = list(dict.fromkeys(item_ids))
    with transaction.atomic():
        pk = thread_pk(owner, thread_id)
        found = set(
            ThreadItem.objects.filter(thread_id=pk, chatkit_id__in=wanted).values_list(
                "chatkit_id", flat=True
            )
        )
        for item_id in wanted:
            if item_id not in found:
                raise NotFoundError(f"Item {item_id} not found")
        now = timezone.now()
        Feedback.objects.bulk_create(
            [
                Feedback(
                    user_id=owner.user_id,
                    thread_id=pk,
                    item_chatkit_id=item_id,
                    kind=kind,
                    created_at=now,
                    updated_at=now,
                )
                for item_id in wanted
            ],
            update_conflicts=True,
            unique_fields=["user", "thread", "item_chatkit_id"],
            update_fields=["kind", "updated_at"],
        )
    return wanted
