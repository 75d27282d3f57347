"""A durable request from start to end: the view's side of :mod:`django_chatkit.durable`."""

from __future__ import annotations

import json
from collections.abc import AsyncIterable, AsyncIterator
from typing import Any

from chatkit import types as ck

from django_chatkit.conf import conf
from django_chatkit.context import ChatKitContext
from django_chatkit.db import run_db
from django_chatkit.durable import running
from django_chatkit.durable.checkpoints import thread_of
from django_chatkit.durable.worker import Run, worker
from django_chatkit.exceptions import ShuttingDown, TooManyResponses
from django_chatkit.live.updates import anotify_thread
from django_chatkit.managers import Owner

#: The SDK's first frame of a ``threads.create`` stream.
THREAD_CREATED = b'data: {"type":"thread.created"'


def is_durable(server: Any) -> bool:
    """Whether ``server``'s answers outlive their clients: its ``durable_responses``
    attribute, or ``CHATKIT_DURABLE_RESPONSES`` when it has none (or ``None``)."""
    value = getattr(server, "durable_responses", None)
    return conf.CHATKIT_DURABLE_RESPONSES if value is None else bool(value)


async def start_run(request: ck.ChatKitReq, context: ChatKitContext) -> Run:
    """Admit a durable answer, before its response starts, and claim its thread.

    Refuses with :class:`~django_chatkit.exceptions.ShuttingDown` (503) while the worker
    stops, :class:`~django_chatkit.exceptions.TooManyResponses` (429) over the per-worker
    or per-user limit, :class:`~django_chatkit.exceptions.ResponseRunning` (409) when
    the thread's previous answer still runs.
    """
    here = worker()
    await here.start()
    if here.shutting_down:
        raise ShuttingDown()
    limit = conf.CHATKIT_MAX_RUNNING_PER_WORKER
    if here.count() >= limit:
        raise TooManyResponses(f"This server runs {limit} answers already; try again shortly.")
    owner = Owner.of(context)
    await run_db(running.check_user_limit, owner.user_id)
    thread_id = getattr(request.params, "thread_id", None)
    run = Run(
        user_id=owner.user_id,
        thread_id=thread_id or "",
        new_thread=thread_id is None,
        checkpoint_interval=conf.CHATKIT_CHECKPOINT_INTERVAL,
    )
    if thread_id is not None:  # 0 for a missing or foreign thread: the SDK answers 404
        run.thread_pk = await run_db(running.claim, owner, thread_id, here.id)
    here.add(run)
    context.running = run
    return run


async def end_run(run: Run, context: ChatKitContext) -> None:
    """The answer ended (done, failed or cancelled, everything saved): release the
    thread and tell the owner's open chats to fetch the final state."""
    here = worker()
    here.remove(run)
    if run.thread_pk:
        await run_db(running.release, run.thread_pk, here.id)
        await anotify_thread(thread_of(Owner.of(context), run.thread_id, run.thread_pk))


async def run_to_end(
    source: AsyncIterable[bytes], run: Run, context: ChatKitContext
) -> AsyncIterator[bytes]:
    """``source``'s frames; once it ended (however), :func:`end_run`.

    A ``threads.create`` answer claims its thread when the SDK announces it, before the
    client hears of it: a cancel for the thread finds the answer.
    """
    try:
        async for chunk in source:
            if run.new_thread and not run.thread_pk and chunk.startswith(THREAD_CREATED):
                thread_id = json.loads(chunk[len(b"data: ") :])["thread"]["id"]
                here = worker()
                owner = Owner.of(context)
                pk = await run_db(running.claim_new_thread, owner, thread_id, here.id)
                here.claimed(run, pk, thread_id)
            yield chunk
    finally:
        await end_run(run, context)
