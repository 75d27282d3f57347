"""Stopping a durable answer from anywhere: the cancel endpoint, the admin, your code."""

from __future__ import annotations

import logging

from channels.layers import get_channel_layer

from django_chatkit.durable.worker import CANCEL_MESSAGE, worker
from django_chatkit.models import RunningResponse, Thread

logger = logging.getLogger("django_chatkit")


async def request_cancel(thread: Thread) -> bool:
    """Tell the worker running ``thread``'s answer to cancel it; ``False`` if none runs.

    The worker may be this process or another one (through the channel layer, to the
    channel named in the answer's ``RunningResponse.worker``). It cancels the answer
    through the SDK's cancellation path: the partial answer and the SDK's hidden
    "cancelled" note are saved, as when a client presses Stop without durable answers.
    """
    row = await RunningResponse.objects.filter(thread_id=thread.pk).afirst()
    if row is None:
        return False
    here = worker()
    if row.worker == here.id:
        return here.cancel_local(thread.pk)
    layer = get_channel_layer()
    if layer is None:
        logger.warning(
            "Cannot cancel the answer in thread %s: it runs on worker %s and no channel "
            "layer is configured (CHANNEL_LAYERS) to reach it.",
            thread.chatkit_id,
            row.worker,
        )
        return False
    await layer.send(row.worker, {"type": CANCEL_MESSAGE, "thread": thread.pk})
    return True
