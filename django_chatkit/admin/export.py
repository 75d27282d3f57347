"""Exporting threads as JSON: metadata, every item, attachments and feedback.

Stored payloads are the SDK's own JSON, so they are embedded as they are (no
validation round trip): an export holds exactly what the store holds, and
``ThreadMetadata`` / ``ThreadItem`` / ``Attachment`` of the SDK load each part again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from django.db import models
from django.utils import timezone

from django_chatkit.models import Attachment, Feedback, Thread, ThreadItem

EXPORT_FORMAT = "django_chatkit.threads"
EXPORT_VERSION = 1


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)


def _user(user: Any) -> dict[str, Any]:
    return {
        "id": user.pk,
        "username": user.get_username(),
        "email": getattr(user, user.get_email_field_name(), None) or None,
    }


def iter_export(threads: models.QuerySet[Thread], chunk_size: int = 2000) -> Iterator[str]:
    """The export document of ``threads`` as JSON text pieces (4 queries per thread)."""
    yield (
        "{"
        f'"format": {_dumps(EXPORT_FORMAT)}, "version": {EXPORT_VERSION}, '
        f'"exported_at": {_dumps(timezone.now().isoformat())}, "threads": ['
    )
    queryset = threads.select_related("user").order_by("created_at", "pk")
    for index, thread in enumerate(queryset.iterator(chunk_size=100)):
        if index:
            yield ", "
        header = {
            "id": thread.chatkit_id,
            "owner": _user(thread.user),
            "scope": thread.scope,
            "status": thread.status,
            "created_at": thread.created_at.isoformat(),
            "last_activity": thread.updated_at.isoformat(),
        }
        yield _dumps(header)[:-1] + f', "thread": {thread.payload}, "items": ['
        items = (
            ThreadItem.objects.filter(thread_id=thread.pk)
            .order_by("created_at", "pk")
            .values_list("payload", flat=True)
        )
        for position, payload in enumerate(items.iterator(chunk_size=chunk_size)):
            yield (", " if position else "") + payload
        yield '], "attachments": ['
        attachments = Attachment.objects.filter(thread_id=thread.pk).order_by("created_at", "pk")
        yield ", ".join(
            _dumps(
                {
                    "id": a.chatkit_id,
                    "name": a.name,
                    "mime_type": a.mime_type,
                    "size": a.size,
                    "storage": a.storage,
                    "file_name": a.file_name,
                    "created_at": a.created_at.isoformat(),
                }
            )[:-1]
            + f', "attachment": {a.payload}}}'
            for a in attachments
        )
        yield '], "feedback": '
        feedback = (
            Feedback.objects.filter(thread_id=thread.pk)
            .order_by("created_at", "pk")
            .values_list("item_chatkit_id", "user_id", "kind", "updated_at")
        )
        yield _dumps(
            [
                {"item_id": item_id, "user_id": user_id, "kind": kind, "at": at.isoformat()}
                for item_id, user_id, kind, at in feedback
            ]
        )
        yield "}"
    yield "]}"


def export_threads(threads: models.QuerySet[Thread]) -> bytes:
    """The whole export document as UTF-8 bytes."""
    return "".join(iter_export(threads)).encode()
