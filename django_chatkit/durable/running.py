"""The ``RunningResponse`` rows: which answers run now, where, and since when.

Synchronous functions, run from async code with :func:`django_chatkit.db.run_db`. The row
is the thread's lock (its primary key is the thread): claiming a thread whose answer runs
fails, unless that answer's worker stopped beating, in which case it is marked
interrupted first.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from chatkit import types as ck
from django.db import IntegrityError, router, transaction
from django.utils import timezone

from django_chatkit.conf import conf
from django_chatkit.exceptions import ResponseRunning, TooManyResponses
from django_chatkit.ids import new_id
from django_chatkit.managers import Owner
from django_chatkit.models import RunningResponse, Thread
from django_chatkit.store.backend import ID_PREFIXES
from django_chatkit.store.items import write_item

logger = logging.getLogger("django_chatkit")

#: A worker that missed this many heartbeats is taken for dead.
MISSED_BEATS = 3

INTERRUPTED_NOTE = (
    "The answer to the prior request was interrupted (the server stopped before it was "
    "finished). Do not continue it unless the user asks."
)


def stale_before() -> datetime:
    """Rows whose last heartbeat is older than this belong to a dead worker."""
    return timezone.now() - timedelta(seconds=MISSED_BEATS * conf.CHATKIT_RESPONSE_HEARTBEAT)


def thread_pk_of(owner: Owner, thread_id: str) -> int | None:
    """The primary key of the owner's thread ``thread_id`` (``None``: missing or foreign)."""
    pks = Thread.objects.owned_by(owner).filter(chatkit_id=thread_id).values_list("pk", flat=True)
    return pks.first()


def check_user_limit(user_id: Any) -> None:
    """:class:`TooManyResponses` if the user has ``CHATKIT_MAX_RUNNING_PER_USER``
    answers running (live ones: a dead worker's rows do not count)."""
    limit = conf.CHATKIT_MAX_RUNNING_PER_USER
    running = RunningResponse.objects.filter(user_id=user_id, heartbeat_at__gte=stale_before())
    if running.count() >= limit:
        raise TooManyResponses(
            f"You have {limit} answers running already; wait for one to finish or stop one."
        )


def claim(owner: Owner, thread_id: str, worker: str) -> int:
    """Mark the owner's thread ``thread_id`` as answering on ``worker``; its primary key.

    :class:`ResponseRunning` if an answer runs there already (a dead worker's answer is
    marked interrupted and the claim retried). A missing or foreign thread is not
    claimed: ``0`` (the SDK then answers it as not found).
    """
    thread_pk = thread_pk_of(owner, thread_id)
    if thread_pk is None:
        return 0
    for _attempt in range(2):
        try:
            with transaction.atomic(using=router.db_for_write(RunningResponse)):
                RunningResponse.objects.create(
                    thread_id=thread_pk, user_id=owner.user_id, worker=worker
                )
            return thread_pk
        except IntegrityError:
            if not interrupt_stale(RunningResponse.objects.filter(thread_id=thread_pk)):
                raise ResponseRunning() from None
    raise ResponseRunning()


def claim_new_thread(owner: Owner, thread_id: str, worker: str) -> int:
    """Mark the thread ``threads.create`` just saved (nobody else can have claimed it)
    as answering on ``worker``; its primary key."""
    thread_pk = thread_pk_of(owner, thread_id)
    assert thread_pk is not None  # the SDK saved it in this request
    RunningResponse.objects.create(thread_id=thread_pk, user_id=owner.user_id, worker=worker)
    return thread_pk


def release(thread_pk: int, worker: str) -> None:
    """The answer ended: forget its row (if still this worker's)."""
    RunningResponse.objects.filter(thread_id=thread_pk, worker=worker).delete()


def beat(worker: str) -> int:
    """The worker's heartbeat: every row it runs is alive now. How many it runs."""
    return RunningResponse.objects.filter(worker=worker).update(heartbeat_at=timezone.now())


def interrupt_stale(rows: object = None) -> int:
    """Mark the answers of dead workers (among ``rows``, default all) as interrupted:
    each such row is deleted, and its thread gets a hidden note that the answer was
    interrupted (the partial answer checkpointed so far stays). How many were marked.

    Workers race to mark the same row: only the one whose delete removed it writes the
    note.
    """
    queryset = RunningResponse.objects.all() if rows is None else rows
    marked = 0
    for row in queryset.filter(heartbeat_at__lt=stale_before()).select_related("thread"):  # type: ignore[attr-defined]
        deleted, _ = RunningResponse.objects.filter(
            thread_id=row.thread_id, worker=row.worker, started_at=row.started_at
        ).delete()
        if not deleted:
            continue  # another worker marked it
        thread = row.thread
        note = ck.SDKHiddenContextItem(
            id=new_id(ID_PREFIXES["sdk_hidden_context"]),
            thread_id=thread.chatkit_id,
            created_at=datetime.now(),
            content=INTERRUPTED_NOTE,
        )
        write_item(thread.owner, thread.chatkit_id, note, add=True)
        logger.warning(
            "Answer in thread %s was interrupted: worker %s stopped beating at %s",
            thread.chatkit_id,
            row.worker,
            row.heartbeat_at.isoformat(),
        )
        marked += 1
    return marked
