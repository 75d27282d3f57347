"""``DjangoStore``: the ChatKit ``Store`` on the Django ORM.

The SDK checks no ownership: every method here filters by ``context.user`` and
``context.scope``, so another user's id behaves exactly like a missing one
(:class:`chatkit.store.NotFoundError`, e.g. ``Thread thr_… not found``). Upserts are
keyed by owner, so they can never overwrite or take over another user's row. An id no
row can hold (with a NUL character, which PostgreSQL refuses) is also just not found.

Pages are keyset-paginated on ``(created_at, id)``: the auto-increment ``id`` breaks
ties between equal timestamps, so nothing is skipped or reordered at page boundaries.
Each method runs a small, constant number of queries in one worker-thread hop
(:func:`django_chatkit.db.run_db`); ``tests/test_store_queries.py`` holds the
budgets. Deleting a thread adds two statements per 100 items (Django's cascade). The
statements of the hot paths (a thread, a page, saving an item or a thread) are querysets
compiled once per database (:mod:`django_chatkit.store.statements`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from functools import partial
from time import monotonic
from typing import Any, TypeVar

from chatkit import types as ck
from chatkit.store import NotFoundError, Store, StoreItemType
from django.db import IntegrityError, connections, models, router, transaction
from django.db.models import Subquery
from django.utils import timezone
from pydantic import BaseModel

from django_chatkit import signals
from django_chatkit.attachments.files import refresh_items, usable_attachment
from django_chatkit.conf import conf
from django_chatkit.context import ChatKitContext
from django_chatkit.db import run_db
from django_chatkit.ids import findable, new_id, require_findable
from django_chatkit.models import (
    Attachment,
    Feedback,
    Thread,
    ThreadItem,
    decode_thread_item,
    item_columns,
    owner_filter,
    thread_columns,
    thread_metadata,
)
from django_chatkit.store.statements import (
    Param,
    Statement,
    insert_query,
    model_field,
    update_query,
)

logger = logging.getLogger("django_chatkit")

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


# Hot statements (see store.statements): compiled once per database and shape. -------

_thread_field = partial(model_field, Thread)
_item_field = partial(model_field, ThreadItem)


def _owned_threads() -> models.QuerySet[Thread]:
    return Thread.objects.filter(
        user_id=Param("user_id", _thread_field("user")),
        scope=Param("scope", _thread_field("scope")),
    )


def _owned_thread() -> models.QuerySet[Thread]:
    return _owned_threads().filter(chatkit_id=Param("thread", _thread_field("chatkit_id")))


def _owned_thread_pk() -> Subquery:
    """The owner's thread's primary key as a subquery (``NULL`` when it is not theirs):
    its items are read or written in the statement that finds it."""
    return Subquery(_owned_thread().values("pk")[:1])


def _thread_items() -> models.QuerySet[ThreadItem]:
    return ThreadItem.objects.filter(thread_id=_owned_thread_pk())


def _keyset_page(
    queryset: models.QuerySet[Any],
    descending: bool,
    limit: int,
    after_cursor: bool,
    fields: tuple[str, ...],
) -> models.sql.Query:
    """``limit`` rows of ``fields`` in ``(created_at, id)`` order, after the cursor
    ``(at, pk)`` if ``after_cursor``."""
    if after_cursor:
        # The plain range on created_at comes first so the index scan starts at the
        # cursor (with only the OR, SQLite scans from the start of the index: deep pages
        # got slower with the size of the list). The cursor's values were just read.
        at = Param("at", queryset.model._meta.get_field("created_at"), raw=True)
        pk = Param("pk", queryset.model._meta.pk, raw=True)
        if descending:
            queryset = queryset.filter(created_at__lte=at).filter(
                models.Q(created_at__lt=at) | models.Q(id__lt=pk)
            )
        else:
            queryset = queryset.filter(created_at__gte=at).filter(
                models.Q(created_at__gt=at) | models.Q(id__gt=pk)
            )
    sign = "-" if descending else ""
    return queryset.order_by(f"{sign}created_at", f"{sign}id").values_list(*fields)[:limit].query


THREAD = Statement(lambda: _owned_thread().values_list("payload", "handled_by_human")[:1].query)
THREAD_CURSOR = Statement(lambda: _owned_thread().values_list("created_at", "pk")[:1].query)
THREAD_PAGE = Statement(
    lambda descending, limit, after_cursor: _keyset_page(
        _owned_threads(),
        descending,
        limit,
        after_cursor,
        ("chatkit_id", "payload", "handled_by_human"),
    )
)
THREAD_VALUES = ("title", "status", "created_at", "payload", "updated_at")
THREAD_INSERT = Statement(
    lambda: insert_query(
        Thread,
        **{name: Param(name, _thread_field(name)) for name in ("user_id", "scope", *THREAD_VALUES)},
        chatkit_id=Param("thread", _thread_field("chatkit_id")),
        handled_by_human=False,
    )
)
THREAD_UPDATE = Statement(
    lambda: update_query(
        _owned_thread(), **{name: Param(name, _thread_field(name)) for name in THREAD_VALUES}
    )
)
THREAD_TOUCH = Statement(
    lambda: update_query(_owned_thread(), updated_at=Param("now", _thread_field("updated_at")))
)
ITEM_CURSOR = Statement(
    lambda: (
        _thread_items()
        .filter(chatkit_id=Param("item", _item_field("chatkit_id")))
        .values_list("created_at", "pk")[:1]
        .query
    )
)
ITEM_PAGE = Statement(
    lambda descending, limit, after_cursor: _keyset_page(
        _thread_items(),
        descending,
        limit,
        after_cursor,
        ("chatkit_id", "type", "payload", "widget_classes"),
    )
)
ITEM_VALUES = ("type", "created_at", "text", "payload", "widget_classes")
ITEM_INSERT = Statement(
    lambda: insert_query(
        ThreadItem,
        thread_id=_owned_thread_pk(),
        chatkit_id=Param("item", _item_field("chatkit_id")),
        **{name: Param(name, _item_field(name)) for name in ITEM_VALUES},
    )
)
ITEM_UPDATE = Statement(
    lambda: update_query(
        _thread_items().filter(chatkit_id=Param("item", _item_field("chatkit_id"))),
        **{name: Param(name, _item_field(name)) for name in ITEM_VALUES},
    )
)


def _page(
    using: str,
    page: Statement,
    limit: int,
    order: str,
    cursor: tuple[Any, int] | None,
    **params: Any,
) -> tuple[list[tuple[Any, ...]], bool, str | None]:
    """One page of rows (``chatkit_id`` first) in ``order``, after the row whose
    ``(created_at, pk)`` is ``cursor``."""
    at, pk = cursor or (None, None)
    rows = page.fetch(using, order == "desc", limit + 1, cursor is not None, **params, at=at, pk=pk)
    has_more = len(rows) > limit
    rows = rows[:limit]
    return rows, has_more, (rows[-1][0] if has_more else None)


def _thread_pk(owner: dict[str, Any], thread_id: str) -> int:
    pk = Thread.objects.filter(**owner, chatkit_id=thread_id).values_list("pk", flat=True).first()
    if pk is None:
        raise NotFoundError(f"Thread {thread_id} not found")
    return pk


def _insert(using: str, insert: Callable[[], object]) -> IntegrityError | None:
    """Run ``insert``; return the ``IntegrityError`` it raised (the row exists, or a
    constraint refused it), leaving a caller's transaction usable."""
    try:
        if connections[using].in_atomic_block:  # a failed INSERT would break it
            with transaction.atomic(using=using):
                insert()
        else:  # autocommit: one statement, nothing to roll back (no BEGIN/COMMIT)
            insert()
    except IntegrityError as exc:
        return exc
    return None


def _upsert(
    using: str, insert: Callable[[], object], update: Callable[[], int], insert_first: bool
) -> bool:
    """Insert or update a row; return ``True`` if it was inserted.

    ``update`` selects the row by its owner too, so a row of somebody else is never
    touched; it returns the number of rows updated. ``insert_first`` picks the cheaper
    order for rows that are usually new.
    """
    if insert_first and _insert(using, insert) is None:
        return True
    if update():
        return False
    error = _insert(using, insert)
    if error is None:
        return True
    # Lost a race against a concurrent insert of the same key: update that row. If there
    # is none, the insert broke another constraint (a parent row deleted meanwhile, a
    # check): that error is real, not "the row exists".
    if update():
        return False
    raise error


def _upsert_statements(
    using: str, insert: Statement, update: Statement, values: dict[str, Any], insert_first: bool
) -> bool:
    """:func:`_upsert` with compiled statements, both bound to ``values``."""
    return _upsert(
        using,
        partial(insert.run, using, **values),
        partial(update.run, using, **values),
        insert_first,
    )


def _remember(bounded: dict[Any, Any], key: Any, value: Any, maximum: int) -> None:
    """Set ``bounded[key]`` as its newest entry; past ``maximum`` entries, drop the oldest
    (dicts keep insertion order)."""
    bounded.pop(key, None)
    bounded[key] = value
    if len(bounded) > maximum:
        bounded.pop(next(iter(bounded)), None)


def _activity_key(owner: dict[str, Any], thread_id: str) -> tuple[Any, str, str]:
    return (owner["user_id"], owner["scope"], thread_id)


_Read = TypeVar("_Read", bound=BaseModel)


def _reread(context: ChatKitContext, key: tuple[Any, ...]) -> Any:
    """A copy of what this request already read under ``key`` (``None``: read it)."""
    return None if context.reads is None else context.reads.get(key)


def _remember_read(context: ChatKitContext, key: tuple[Any, ...], value: _Read) -> _Read:
    if context.reads is not None:
        context.reads.put(key, value)
    return value


def _forget_reads(context: ChatKitContext, kind: str, *ids: str) -> None:
    if context.reads is not None:
        context.reads.forget(kind, *ids)


def _loaded_items(context: ChatKitContext, thread_id: str, item_ids: Iterable[str]) -> None:
    if context.reads is not None:
        context.reads.loaded(thread_id, item_ids)


def _item_written(context: ChatKitContext, thread_id: str, item_id: str) -> None:
    """Forget what this request read of the thread's items; ``item_id`` is written."""
    if context.reads is not None:
        context.reads.forget("items", thread_id)
        context.reads.written(thread_id, item_id)


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

    def _recently_active(self, owner: dict[str, Any], thread_id: str) -> bool:
        written = self._active_threads.get(_activity_key(owner, thread_id))
        return written is not None and monotonic() - written < self.activity_resolution

    def _mark_active(self, owner: dict[str, Any], thread_id: str, written: float) -> None:
        key = _activity_key(owner, thread_id)
        _remember(self._active_threads, key, written, self._active_threads_max)

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
        owner = owner_filter(context)
        require_findable(thread=thread_id)
        key = ("thread", thread_id)
        if (read := _reread(context, key)) is not None:
            return read

        rows = await run_db(THREAD.fetch, _db_for_read(), **owner, thread=thread_id)
        if not rows:
            raise NotFoundError(f"Thread {thread_id} not found")
        ((payload, human),) = rows
        return _remember_read(context, key, thread_metadata(payload, bool(human)))

    async def save_thread(self, thread: ck.ThreadMetadata, context: ChatKitContext) -> None:
        owner = owner_filter(context)
        columns = thread_columns(thread)
        new = thread.id in self._unsaved_thread_ids
        self._unsaved_thread_ids.pop(thread.id, None)
        _forget_reads(context, "thread", thread.id)

        def save() -> bool:
            return _upsert_statements(
                _db_for_write(),
                THREAD_INSERT,
                THREAD_UPDATE,
                {**owner, **columns, "thread": columns["chatkit_id"], "updated_at": timezone.now()},
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
        owner = owner_filter(context)
        limit = clamp_limit(limit)
        require_findable(thread=after)

        def load() -> tuple[list[tuple[Any, ...]], bool, str | None]:
            using = _db_for_read()
            cursor = None
            if after:
                found = THREAD_CURSOR.fetch(using, **owner, thread=after)
                if not found:
                    raise NotFoundError(f"Thread {after} not found")
                (cursor,) = found
            return _page(using, THREAD_PAGE, limit, order, cursor, **owner)

        rows, has_more, next_after = await run_db(load)
        return ck.Page(
            data=[thread_metadata(payload, bool(human)) for _, payload, human in rows],
            has_more=has_more,
            after=next_after,
        )

    async def delete_thread(self, thread_id: str, context: ChatKitContext) -> None:
        owner = owner_filter(context)
        require_findable(thread=thread_id)

        def delete() -> None:
            with transaction.atomic():
                pk = _thread_pk(owner, thread_id)
                # Their bytes are deleted on commit by the post_delete receiver in models.
                Attachment.objects.filter(thread_id=pk).delete()
                Thread.objects.filter(pk=pk).delete()

        _forget_reads(context, "thread", thread_id)
        _forget_reads(context, "items", thread_id)
        await run_db(delete)
        self._active_threads.pop(_activity_key(owner, thread_id), None)
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
        owner = owner_filter(context)
        limit = clamp_limit(limit)
        require_findable(thread=thread_id, item=after)
        key = ("items", thread_id, "page", after, limit, order)
        if (read := _reread(context, key)) is not None:
            return read

        def load() -> tuple[list[tuple[Any, ...]], bool, str | None]:
            using = _db_for_read()
            cursor = None
            if after:
                found = ITEM_CURSOR.fetch(using, **owner, thread=thread_id, item=after)
                if not found:
                    _thread_pk(owner, thread_id)  # a missing thread is reported first
                    raise NotFoundError(f"Item {after} not found")
                (cursor,) = found
            page = _page(using, ITEM_PAGE, limit, order, cursor, **owner, thread=thread_id)
            if not page[0] and cursor is None:
                _thread_pk(owner, thread_id)  # no items, or no such thread?
            return page

        rows, has_more, next_after = await run_db(load)
        data = [decode_thread_item(*columns) for _, *columns in rows]
        _loaded_items(context, thread_id, (item.id for item in data))
        refresh_items(data, context.request)  # fresh signed preview URLs of our files
        return _remember_read(context, key, ck.Page(data=data, has_more=has_more, after=next_after))

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
        owner = owner_filter(context)
        require_findable(thread=thread_id)
        columns = item_columns(item)
        touch = not self._recently_active(owner, thread_id)
        continues = (
            add and context.reads is not None and context.reads.continues(thread_id, item.id)
        )
        _item_written(context, thread_id, item.id)

        def save() -> bool | None:
            """``True``: inserted, ``False``: updated, ``None``: an add found the item."""
            using = _db_for_write()
            # A missing or foreign thread is never written to: the touch finds no row, and
            # the item statements select the thread by its owner (no row: NotFoundError).
            if touch and not THREAD_TOUCH.run(using, **owner, thread=thread_id, now=timezone.now()):
                raise NotFoundError(f"Thread {thread_id} not found")
            values = {**owner, **columns, "thread": thread_id, "item": columns["chatkit_id"]}
            try:
                if add:
                    error = _insert(using, partial(ITEM_INSERT.run, using, **values))
                    if error is None:
                        return True
                    if continues and ITEM_UPDATE.run(using, **values):
                        return False  # what this request read, continued
                    if ITEM_CURSOR.fetch(using, **values):
                        return None  # the thread has it: keep the stored item
                    raise error
                return _upsert_statements(
                    using, ITEM_INSERT, ITEM_UPDATE, values, insert_first=False
                )
            except IntegrityError:
                _thread_pk(owner, thread_id)  # deleted meanwhile: NotFoundError
                raise

        started = monotonic()
        created = await run_db(save)
        if touch:
            self._mark_active(owner, thread_id, started)
        if created is None:
            logger.warning(
                "Thread %s already has item %s: the stored item is kept (add_thread_item "
                "never replaces an item; save_item updates one).",
                thread_id,
                item.id,
            )
            return
        await signals.item_saved.asend(
            sender=type(self), thread_id=thread_id, item=item, created=created, context=context
        )

    async def load_item(
        self, thread_id: str, item_id: str, context: ChatKitContext
    ) -> ck.ThreadItem:
        owner = owner_filter(context)
        require_findable(thread=thread_id, item=item_id)
        key = ("items", thread_id, "item", item_id)
        if (read := _reread(context, key)) is not None:
            return read

        def load() -> tuple[str, str, str] | None:
            return (
                ThreadItem.objects.filter(
                    thread__user_id=owner["user_id"],
                    thread__scope=owner["scope"],
                    thread__chatkit_id=thread_id,
                    chatkit_id=item_id,
                )
                .values_list("type", "payload", "widget_classes")
                .first()
            )

        row = await run_db(load)
        if row is None:
            raise NotFoundError(f"Item {item_id} not found")
        _loaded_items(context, thread_id, [item_id])
        return _remember_read(context, key, decode_thread_item(*row))

    async def delete_thread_item(
        self, thread_id: str, item_id: str, context: ChatKitContext
    ) -> None:
        """Delete an item. A missing item is no error (streams remove unsaved items);
        a missing or foreign thread is."""
        owner = owner_filter(context)
        require_findable(thread=thread_id)
        _item_written(context, thread_id, item_id)

        def delete() -> None:
            if not findable(item_id):
                _thread_pk(owner, thread_id)
                return
            pk = _thread_pk(owner, thread_id)
            with transaction.atomic():
                ThreadItem.objects.filter(thread_id=pk, chatkit_id=item_id).delete()
                Feedback.objects.filter(thread_id=pk, item_chatkit_id=item_id).delete()

        await run_db(delete)

    # attachments -----------------------------------------------------------

    async def save_attachment(self, attachment: ck.Attachment, context: ChatKitContext) -> None:
        owner = owner_filter(context)
        _forget_reads(context, "attachment", attachment.id)
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
                    Thread.objects.filter(**owner, chatkit_id=attachment.thread_id)
                    .values_list("pk", flat=True)
                    .first()
                )
            key = {**owner, "chatkit_id": row.chatkit_id}
            _upsert(
                router.db_for_write(Attachment),
                partial(Attachment.objects.create, **key, **values),
                partial(Attachment.objects.filter(**key).update, **values),
                insert_first=False,
            )

        await run_db(save)

    async def load_attachment(self, attachment_id: str, context: ChatKitContext) -> ck.Attachment:
        owner = owner_filter(context)
        require_findable(attachment=attachment_id)
        key = ("attachment", attachment_id)
        if (read := _reread(context, key)) is not None:
            return read

        def load() -> Attachment | None:
            return Attachment.objects.filter(**owner, chatkit_id=attachment_id).first()

        row = await run_db(load)
        if row is None:
            raise NotFoundError(f"Attachment {attachment_id} not found")
        # Refuses uploads still outstanding; re-signs our preview URL.
        return _remember_read(context, key, await usable_attachment(row, context.request))

    async def delete_attachment(self, attachment_id: str, context: ChatKitContext) -> None:
        owner = owner_filter(context)
        require_findable(attachment=attachment_id)
        _forget_reads(context, "attachment", attachment_id)

        def delete() -> None:
            with transaction.atomic():
                attachment = (
                    Attachment.objects.filter(**owner, chatkit_id=attachment_id)
                    .only("pk", "storage", "file_name")
                    .first()
                )
                if attachment is None:
                    raise NotFoundError(f"Attachment {attachment_id} not found")
                attachment.delete()  # the bytes go on commit (post_delete receiver)

        await run_db(delete)
