"""``DjangoStore``: the ChatKit ``Store`` on the Django ORM.

The SDK checks no ownership: every method here filters by ``context.user`` and
``context.scope``, so another user's id behaves exactly like a missing one
(:class:`chatkit.store.NotFoundError`, e.g. ``Thread thr_… not found``). Upserts are
keyed by owner, so they can never overwrite or take over another user's row. An id no
row can hold (with a NUL character, which PostgreSQL refuses) is also just not found.

Each method runs a small, constant number of queries in one worker-thread hop
(:func:`django_chatkit.db.run_db`); ``tests/store/test_queries.py`` holds the budgets.
The rest of the package ``django_chatkit.store`` is what it is built from: who owns
what is the models' ``owned_by()`` (:mod:`django_chatkit.managers`); the statements of
the hot paths, compiled once per database, are in :mod:`~django_chatkit.store.queries`;
items are written by :mod:`~django_chatkit.store.items`, threads deleted by
:mod:`~django_chatkit.store.deletion` (the same paths the admin, the commands and the
live updates use); what a request already read is in :mod:`~django_chatkit.store.reads`.
"""

from __future__ import annotations

from functools import partial
from time import monotonic
from typing import Any

from chatkit import types as ck
from chatkit.store import NotFoundError, Store, StoreItemType
from django.db import router, transaction
from django.utils import timezone

from django_chatkit import signals
from django_chatkit.attachments.files import refresh_items, usable_attachment
from django_chatkit.conf import conf
from django_chatkit.context import ChatKitContext
from django_chatkit.db import run_db
from django_chatkit.ids import findable, new_id, require_findable
from django_chatkit.managers import Owner
from django_chatkit.models import (
    Attachment,
    Feedback,
    Thread,
    ThreadItem,
    decode_thread_item,
    thread_columns,
    thread_metadata,
)
from django_chatkit.store.deletion import delete_threads
from django_chatkit.store.items import announce_item, write_item
from django_chatkit.store.queries import (
    ITEM_CURSOR,
    ITEM_PAGE,
    THREAD,
    THREAD_CURSOR,
    THREAD_INSERT,
    THREAD_PAGE,
    THREAD_UPDATE,
    page,
    thread_pk,
    upsert,
    upsert_statements,
)
from django_chatkit.store.reads import (
    continues_read,
    forget_reads,
    item_written,
    loaded_items,
    remember_read,
    reread,
)

ID_PREFIXES: dict[str, str] = {
    "thread": "thr",
    "message": "msg",
    "tool_call": "tc",
    "workflow": "wf",
    "task": "tsk",
    "attachment": "atc",
    "sdk_hidden_context": "shcx",
}


def clamp_limit(limit: int | None) -> int:
    """A page size between 1 and ``CHATKIT_MAX_PAGE_SIZE`` (clients ask for anything)."""
    maximum = conf.CHATKIT_MAX_PAGE_SIZE
    if limit is None:
        return min(20, maximum)
    return max(1, min(int(limit), maximum))


def _remember(bounded: dict[Any, Any], key: Any, value: Any, maximum: int) -> None:
    """Set ``bounded[key]`` as its newest entry; past ``maximum`` entries, drop the oldest
    (dicts keep insertion order)."""
    bounded.pop(key, None)
    bounded[key] = value
    if len(bounded) > maximum:
        bounded.pop(next(iter(bounded)), None)


def _db_for_read() -> str:
    return router.db_for_read(Thread)


def _db_for_write() -> str:
    return router.db_for_write(Thread)


class DjangoStore(Store[ChatKitContext]):
    """ChatKit ``Store`` backed by the models of ``django_chatkit``."""

    # Ids handed out by generate_thread_id() and not saved yet: their first save_thread()
    # inserts without trying an update first. Bounded: the SDK may never save one.
    # (Subclasses that define __init__ call super().__init__().)
    _unsaved_thread_ids_max = 1024

    #: Seconds within which a thread's last activity (``Thread.updated_at``) is not
    #: written again by this process: the saves of one turn (the thread, the user's
    #: message, the answer) write it once, not three times. ``0``: on every item save.
    activity_resolution = 1.0
    _active_threads_max = 4096

    def __init__(self) -> None:
        self._unsaved_thread_ids: dict[str, None] = {}  # insertion-ordered: oldest first
        # (user id, scope, thread id) -> time.monotonic() when this process last wrote
        # the thread's updated_at; insertion-ordered, oldest first.
        self._active_threads: dict[tuple[Any, str, str], float] = {}

    def _recently_active(self, owner: Owner, thread_id: str) -> bool:
        written = self._active_threads.get((*owner, thread_id))
        return written is not None and monotonic() - written < self.activity_resolution

    def _mark_active(self, owner: Owner, thread_id: str, written: float) -> None:
        _remember(self._active_threads, (*owner, thread_id), written, self._active_threads_max)

    # ids -----------------------------------------------------------------

    def generate_thread_id(self, context: ChatKitContext) -> str:
        thread_id = new_id(ID_PREFIXES["thread"])
        _remember(self._unsaved_thread_ids, thread_id, None, self._unsaved_thread_ids_max)
        return thread_id

    def generate_item_id(
        self, item_type: StoreItemType, thread: ck.ThreadMetadata, context: ChatKitContext
    ) -> str:
        return new_id(ID_PREFIXES.get(item_type, "itm"))

    # threads -------------------------------------------------------------

    async def load_thread(self, thread_id: str, context: ChatKitContext) -> ck.ThreadMetadata:
        owner = Owner.of(context)
        require_findable(thread=thread_id)
        key = ("thread", thread_id)
        if (read := reread(context, key)) is not None:
            return read

        rows = await run_db(THREAD.fetch, _db_for_read(), **owner.columns(), thread=thread_id)
        if not rows:
            raise NotFoundError(f"Thread {thread_id} not found")
        ((payload, human),) = rows
        return remember_read(context, key, thread_metadata(payload, bool(human)))

    async def save_thread(self, thread: ck.ThreadMetadata, context: ChatKitContext) -> None:
        owner = Owner.of(context)
        columns = thread_columns(thread)
        new = thread.id in self._unsaved_thread_ids
        self._unsaved_thread_ids.pop(thread.id, None)
        forget_reads(context, "thread", thread.id)
        values = {**owner.columns(), **columns, "thread": columns["chatkit_id"]}

        def save() -> bool:
            return upsert_statements(
                _db_for_write(),
                THREAD_INSERT,
                THREAD_UPDATE,
                {**values, "updated_at": timezone.now()},
                insert_first=new,
            )

        started = monotonic()
        created = await run_db(save)
        self._mark_active(owner, thread.id, started)
        if created and signals.thread_created.has_listeners(type(self)):
            await signals.thread_created.asend(
                sender=type(self), thread=thread_metadata(columns["payload"]), context=context
            )

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: ChatKitContext
    ) -> ck.Page[ck.ThreadMetadata]:
        owner = Owner.of(context)
        limit = clamp_limit(limit)
        require_findable(thread=after)

        def load() -> tuple[list[tuple[Any, ...]], bool, str | None]:
            using = _db_for_read()
            cursor = None
            if after:
                found = THREAD_CURSOR.fetch(using, **owner.columns(), thread=after)
                if not found:
                    raise NotFoundError(f"Thread {after} not found")
                (cursor,) = found
            return page(using, THREAD_PAGE, limit, order, cursor, **owner.columns())

        rows, has_more, next_after = await run_db(load)
        return ck.Page(
            data=[thread_metadata(payload, bool(human)) for _, payload, human in rows],
            has_more=has_more,
            after=next_after,
        )

    async def delete_thread(self, thread_id: str, context: ChatKitContext) -> None:
        """Delete the thread with its items, feedback, attachments and their files
        (:func:`~django_chatkit.store.deletion.delete_threads`)."""
        owner = Owner.of(context)
        require_findable(thread=thread_id)

        def delete() -> None:
            thread = Thread.objects.owned_by(owner).filter(chatkit_id=thread_id)
            if not delete_threads(thread).threads:
                raise NotFoundError(f"Thread {thread_id} not found")

        forget_reads(context, "thread", thread_id)
        forget_reads(context, "items", thread_id)
        await run_db(delete)
        self._active_threads.pop((*owner, thread_id), None)
        await signals.thread_deleted.asend(sender=type(self), thread_id=thread_id, context=context)

    # items ---------------------------------------------------------------

    async def load_thread_items(
        self,
        thread_id: str,
        after: str | None,
        limit: int,
        order: str,
        context: ChatKitContext,
    ) -> ck.Page[ck.ThreadItem]:
        owner = Owner.of(context)
        limit = clamp_limit(limit)
        require_findable(thread=thread_id, item=after)
        key = ("items", thread_id, "page", after, limit, order)
        if (read := reread(context, key)) is not None:
            return read
        values = {**owner.columns(), "thread": thread_id}

        def load() -> tuple[list[tuple[Any, ...]], bool, str | None]:
            using = _db_for_read()
            cursor = None
            if after:
                found = ITEM_CURSOR.fetch(using, **values, item=after)
                if not found:
                    thread_pk(owner, thread_id)  # a missing thread is reported first
                    raise NotFoundError(f"Item {after} not found")
                (cursor,) = found
            rows = page(using, ITEM_PAGE, limit, order, cursor, **values)
            if not rows[0] and cursor is None:
                thread_pk(owner, thread_id)  # no items, or no such thread?
            return rows

        rows, has_more, next_after = await run_db(load)
        data = [decode_thread_item(*columns) for _, *columns in rows]
        loaded_items(context, thread_id, (item.id for item in data))
        refresh_items(data, context.request)  # fresh signed preview URLs of our files
        return remember_read(context, key, ck.Page(data=data, has_more=has_more, after=next_after))

    async def add_thread_item(
        self, thread_id: str, item: ck.ThreadItem, context: ChatKitContext
    ) -> None:
        """Insert a new item; ``save_item`` updates one.

        An item whose id the thread already has is kept as stored (a warning is logged):
        servers re-yield items, e.g. the pending ``StructuredInputItem`` that
        ``threads.add_structured_input`` just answered, and replacing it would lose the
        answer. One exception: an item this request loaded and has not written since is
        updated, because re-adding it continues what was read (openai-agents'
        ``stream_agent_response`` re-adds the workflow it continues, with its new tasks).
        That needs ``context.reads``, which the endpoint sets for each request.
        """
        await self._save_item(thread_id, item, context, add=True)

    async def save_item(self, thread_id: str, item: ck.ThreadItem, context: ChatKitContext) -> None:
        """Update an item, or insert it if the thread does not have it yet."""
        await self._save_item(thread_id, item, context, add=False)

    async def _save_item(
        self, thread_id: str, item: ck.ThreadItem, context: ChatKitContext, add: bool
    ) -> None:
        """Write through :func:`~django_chatkit.store.items.write_item`, then send
        ``item_saved`` (:func:`~django_chatkit.store.items.announce_item`)."""
        owner = Owner.of(context)
        require_findable(thread=thread_id)
        touch = not self._recently_active(owner, thread_id)
        continues = add and continues_read(context, thread_id, item.id)
        item_written(context, thread_id, item.id)
        write = partial(write_item, add=add, touch=touch, continues=continues)

        started = monotonic()
        created = await run_db(write, owner, thread_id, item)
        if touch:
            self._mark_active(owner, thread_id, started)
        await announce_item(type(self), thread_id, item, created, context)

    async def load_item(
        self, thread_id: str, item_id: str, context: ChatKitContext
    ) -> ck.ThreadItem:
        owner = Owner.of(context)
        require_findable(thread=thread_id, item=item_id)
        key = ("items", thread_id, "item", item_id)
        if (read := reread(context, key)) is not None:
            return read

        def load() -> tuple[str, str, str] | None:
            return (
                ThreadItem.objects.owned_by(owner, thread_id)
                .filter(chatkit_id=item_id)
                .values_list("type", "payload", "widget_classes")
                .first()
            )

        row = await run_db(load)
        if row is None:
            raise NotFoundError(f"Item {item_id} not found")
        loaded_items(context, thread_id, [item_id])
        return remember_read(context, key, decode_thread_item(*row))

    async def delete_thread_item(
        self, thread_id: str, item_id: str, context: ChatKitContext
    ) -> None:
        """Delete an item. A missing item is no error (streams remove unsaved items);
        a missing or foreign thread is."""
        owner = Owner.of(context)
        require_findable(thread=thread_id)
        item_written(context, thread_id, item_id)

        def delete() -> None:
            pk = thread_pk(owner, thread_id)
            if not findable(item_id):
                return
            with transaction.atomic():
                ThreadItem.objects.filter(thread_id=pk, chatkit_id=item_id).delete()
                Feedback.objects.filter(thread_id=pk, item_chatkit_id=item_id).delete()

        await run_db(delete)

    # attachments -----------------------------------------------------------

    async def save_attachment(self, attachment: ck.Attachment, context: ChatKitContext) -> None:
        owner = Owner.of(context)
        forget_reads(context, "attachment", attachment.id)
        row = Attachment()
        row.set_attachment(attachment)

        def save() -> None:
            values: dict[str, Any] = {
                "type": row.type,
                "name": row.name,
                "mime_type": row.mime_type,
                "payload": row.payload,
            }
            if attachment.thread_id:
                values["thread_id"] = (
                    Thread.objects.owned_by(owner)
                    .filter(chatkit_id=attachment.thread_id)
                    .values_list("pk", flat=True)
                    .first()
                )
            upsert(
                router.db_for_write(Attachment),
                partial(
                    Attachment.objects.create,
                    **owner.columns(),
                    chatkit_id=row.chatkit_id,
                    **values,
                ),
                partial(
                    Attachment.objects.owned_by(owner).filter(chatkit_id=row.chatkit_id).update,
                    **values,
                ),
                insert_first=False,
            )

        await run_db(save)

    async def load_attachment(self, attachment_id: str, context: ChatKitContext) -> ck.Attachment:
        owner = Owner.of(context)
        require_findable(attachment=attachment_id)
        key = ("attachment", attachment_id)
        if (read := reread(context, key)) is not None:
            return read

        def load() -> Attachment | None:
            return Attachment.objects.owned_by(owner).filter(chatkit_id=attachment_id).first()

        row = await run_db(load)
        if row is None:
            raise NotFoundError(f"Attachment {attachment_id} not found")
        # Refuses uploads still outstanding; re-signs our preview URL.
        return remember_read(context, key, await usable_attachment(row, context.request))

    async def delete_attachment(self, attachment_id: str, context: ChatKitContext) -> None:
        owner = Owner.of(context)
        require_findable(attachment=attachment_id)
        forget_reads(context, "attachment", attachment_id)

        def delete() -> None:
            with transaction.atomic():
                attachment = (
                    Attachment.objects.owned_by(owner)
                    .filter(chatkit_id=attachment_id)
                    .only("pk", "storage", "file_name")
                    .first()
                )
                if attachment is None:
                    raise NotFoundError(f"Attachment {attachment_id} not found")
                attachment.delete()  # the bytes go on commit (post_delete receiver)

        await run_db(delete)
