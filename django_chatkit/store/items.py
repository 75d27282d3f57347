"""Writing thread items: one path, for the store's requests and for everything else.

:class:`~django_chatkit.store.DjangoStore` writes the items of a request with
:func:`write_item`, and so do the helpers that add items outside a request
(:mod:`django_chatkit.live`: jobs, commands, staff replies). :func:`announce_item` then
sends ``signals.item_saved`` once the write is done, or logs that an add kept the item
it found. An add inserts only: an item whose id the thread already has is kept as
stored (servers re-yield items, e.g. the pending ``StructuredInputItem`` that
``threads.add_structured_input`` just answered, and replacing it would lose the answer).
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from chatkit import types as ck
from chatkit.store import NotFoundError
from django.db import IntegrityError, router
from django.utils import timezone

from django_chatkit import signals
from django_chatkit.managers import Owner
from django_chatkit.models import Thread, item_columns
from django_chatkit.store.queries import (
    ITEM_CURSOR,
    ITEM_INSERT,
    ITEM_UPDATE,
    THREAD_TOUCH,
    insert,
    thread_pk,
    upsert_statements,
)

logger = logging.getLogger("django_chatkit")


def write_item(
    owner: Owner,
    thread_id: str,
    item: ck.ThreadItem,
    *,
    add: bool,
    touch: bool = True,
    continues: bool = False,
) -> bool | None:
    """Write ``item`` into the owner's thread ``thread_id``: insert it (``add``), or
    update it, inserting it if the thread does not have it yet.

    ``touch`` writes the thread's last activity too. ``continues`` lets an add update
    an item the request loaded and has not written since (it continues what was read).
    Returns ``True`` if inserted, ``False`` if updated, ``None`` if an add found the
    item and kept it. A missing or foreign thread is never written to: the touch finds
    no row, and the item statements select the thread by its owner (``NotFoundError``).
    """
    using = router.db_for_write(Thread)
    columns = item_columns(item)
    if touch and not THREAD_TOUCH.run(
        using, **owner.columns(), thread=thread_id, now=timezone.now()
    ):
        raise NotFoundError(f"Thread {thread_id} not found")
    values = {**owner.columns(), **columns, "thread": thread_id, "item": columns["chatkit_id"]}
    try:
        if not add:
            return upsert_statements(using, ITEM_INSERT, ITEM_UPDATE, values, insert_first=False)
        error = insert(using, partial(ITEM_INSERT.run, using, **values))
        if error is None:
            return True
        if continues and ITEM_UPDATE.run(using, **values):
            return False  # what this request read, continued
        if ITEM_CURSOR.fetch(using, **values):
            return None  # the thread has it: keep the stored item
        raise error
    except IntegrityError:
        thread_pk(owner, thread_id)  # deleted meanwhile: NotFoundError
        raise


async def announce_item(
    sender: type,
    thread_id: str,
    item: ck.ThreadItem,
    created: bool | None,
    context: Any,
) -> None:
    """Send ``signals.item_saved`` for what :func:`write_item` returned (``created``);
    for an add that kept the stored item, log a warning instead."""
    if created is None:
        logger.warning(
            "Thread %s already has item %s: the stored item is kept (add_thread_item "
            "never replaces an item; save_item updates one).",
            thread_id,
            item.id,
        )
        return
    await signals.item_saved.asend(
        sender=sender, thread_id=thread_id, item=item, created=created, context=context
    )
