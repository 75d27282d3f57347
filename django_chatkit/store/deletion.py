"""Deleting threads together with their items, feedback, attachments and files.

A thread's attachments only point at it (``SET_NULL``), so deleting a thread row alone
would leave their metadata and bytes behind. Every thread is deleted by
:func:`delete_threads`: ``DjangoStore.delete_thread`` (the owner's thread), the admin
and ``chatkit_purge``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import models, transaction

from django_chatkit.models import Attachment, Thread, ThreadItem


@dataclass(frozen=True)
class DeletionSummary:
    threads: int = 0
    items: int = 0
    attachments: int = 0

    def __add__(self, other: DeletionSummary) -> DeletionSummary:
        return DeletionSummary(
            self.threads + other.threads,
            self.items + other.items,
            self.attachments + other.attachments,
        )


def count_thread_contents(threads: models.QuerySet[Thread]) -> DeletionSummary:
    """What :func:`delete_threads` would delete, counted in three queries."""
    pks = threads.values("pk")
    return DeletionSummary(
        threads=threads.count(),
        items=ThreadItem.objects.filter(thread_id__in=pks).count(),
        attachments=Attachment.objects.filter(thread_id__in=pks).count(),
    )


def delete_threads(
    threads: models.QuerySet[Thread] | list[Any], batch_size: int = 500
) -> DeletionSummary:
    """Delete ``threads`` (a queryset, or a list of threads or primary keys) with their
    items, feedback and attachments, in one transaction; the attachments' files are
    deleted once it commits. Rows go ``batch_size`` threads at a time (bounded queries).
    A queryset is read inside the transaction; what it no longer finds is not counted."""
    summary = DeletionSummary()
    with transaction.atomic():
        if isinstance(threads, models.QuerySet):
            pks = list(threads.order_by().values_list("pk", flat=True))
        else:
            pks = [getattr(thread, "pk", thread) for thread in threads]
        for start in range(0, len(pks), batch_size):
            summary += _delete_batch(pks[start : start + batch_size])
    return summary


def _delete_batch(pks: list[Any]) -> DeletionSummary:
    # Attachment rows delete their bytes once the transaction commits (post_delete).
    _, attachments = Attachment.objects.filter(thread_id__in=pks).delete()
    # Items and feedback go with their thread (CASCADE), counted by the delete.
    _, deleted = Thread.objects.filter(pk__in=pks).delete()
    return DeletionSummary(
        threads=deleted.get(Thread._meta.label, 0),
        items=deleted.get(ThreadItem._meta.label, 0),
        attachments=attachments.get(Attachment._meta.label, 0),
    )
