"""Checks that what the database holds is whole, for the fault, concurrency and stop tests.

"Consistent" means: every stored thread and item payload validates as the SDK's type
and agrees with its row (id, type, thread); no item, attachment or feedback row points at
a missing thread; SQLite's own integrity and foreign-key checks pass.
"""

from __future__ import annotations

import json
from typing import Any

from chatkit import types as ck
from django.db import connection

from django_chatkit.models import Thread, ThreadItem, decode_thread_item, thread_metadata

CANCEL_MARKER = "The user cancelled the stream. Stop responding to the prior request."


def stored_items(user: Any, thread_id: str) -> list[ck.ThreadItem]:
    """The items of ``user``'s thread, decoded, in the store's order."""
    rows = ThreadItem.objects.filter(thread__user=user, thread__chatkit_id=thread_id)
    return [
        decode_thread_item(item_type, payload)
        for item_type, payload in rows.order_by("created_at", "id").values_list("type", "payload")
    ]


def is_cancel_marker(item: ck.ThreadItem) -> bool:
    return isinstance(item, ck.SDKHiddenContextItem) and item.content == CANCEL_MARKER


def answer_text(item: ck.ThreadItem) -> str:
    assert isinstance(item, ck.AssistantMessageItem), item
    return "".join(content.text for content in item.content)


def orphans() -> dict[str, int]:
    """Rows whose thread does not exist (the database's foreign keys should forbid any)."""
    counts = {}
    for table, column in (
        ("django_chatkit_threaditem", "thread_id"),
        ("django_chatkit_attachment", "thread_id"),
        ("django_chatkit_feedback", "thread_id"),
    ):
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT COUNT(*) FROM {table} t LEFT JOIN django_chatkit_thread h "
                f"ON t.{column} = h.id WHERE t.{column} IS NOT NULL AND h.id IS NULL"
            )
            counts[table] = cursor.fetchone()[0]
    return counts


def assert_database_consistent() -> int:
    """Fail unless every row validates and points at a thread; return the item count."""
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA integrity_check")
            assert cursor.fetchall() == [("ok",)]
            cursor.execute("PRAGMA foreign_key_check")
            assert cursor.fetchall() == []
    assert orphans() == {
        "django_chatkit_threaditem": 0,
        "django_chatkit_attachment": 0,
        "django_chatkit_feedback": 0,
    }
    threads = {}
    for pk, chatkit_id, payload, human in Thread.objects.values_list(
        "pk", "chatkit_id", "payload", "handled_by_human"
    ):
        assert thread_metadata(payload, human).id == chatkit_id
        threads[pk] = chatkit_id
    count = 0
    for thread_pk, chatkit_id, item_type, payload in ThreadItem.objects.values_list(
        "thread_id", "chatkit_id", "type", "payload"
    ):
        item = decode_thread_item(item_type, payload)  # raises on a broken payload
        assert (item.id, item.type, item.thread_id) == (chatkit_id, item_type, threads[thread_pk])
        assert json.loads(payload)["id"] == chatkit_id
        count += 1
    return count
