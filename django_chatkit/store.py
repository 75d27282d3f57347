"""``DjangoStore``: the ChatKit ``Store`` on the Django ORM.

The SDK checks no ownership: every method here filters by ``context.user`` and
``context.scope``, so another user's id behaves exactly like a missing one
(:class:`chatkit.store.NotFoundError`, e.g. ``Thread thr_… not found``). Upserts are
keyed by owner, so they can never overwrite or take over another user's row. An id no
row can hold (with a NUL character, which PostgreSQL refuses) is also just not found.

Pages are keyset-paginated on ``(created_at, id)``: the auto-increment ``id`` breaks
ties between equal timestamps, so nothing is skipped or reordered at page boundaries.
Each method runs a small, constant number of queries in one worker-thread hop
(:func:`django_chatkit.internal.db.run_db`); ``tests/test_store_queries.py`` holds the
budgets. Deleting a thread adds two statements per 100 items (Django's cascade).
"""

from __future__ import annotations

from typing import Any

from chatkit import types as ck
from chatkit.store import NotFoundError, Store, StoreItemType
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, connections, models, router, transaction
from django.db.models import Subquery
from django.utils import timezone

from . import signals
from .conf import conf
from .context import ChatKitContext
from .internal.db import run_db
from .internal.files import refresh_items, usable_attachment
from .internal.ids import new_id
from .models import (
    Attachment,
    Feedback,
    Thread,
    ThreadItem,
    decode_thread_item,
    thread_metadata,
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


def owner_filter(context: ChatKitContext) -> dict[str, Any]:
    """The ``filter()`` keywords selecting what ``context`` owns."""
    user = context.user
    if user is None or not user.is_authenticated:
        raise PermissionDenied("ChatKitContext.user must be an authenticated user.")
    return {"user_id": user.pk, "scope": context.scope}


def _findable(value: str) -> bool:
    try:
        value.encode()
    except UnicodeEncodeError:  # lone surrogates: no database driver sends them
        return False
    return "\x00" not in value  # PostgreSQL text cannot hold NUL


def _require_findable(**ids: str | None) -> None:
    """Raise ``NotFoundError`` for a client-chosen id that no row can have.

    Such ids (NUL characters pass the SDK's JSON parsing) would otherwise reach the
    database and fail there as a server error instead of a plain "not found".
    """
    for kind, value in ids.items():
        if value and not _findable(value):
            raise NotFoundError(f"{kind.capitalize()} {value!r} not found")


def clamp_limit(limit: int | None) -> int:
    """A page size between 1 and ``CHATKIT_MAX_PAGE_SIZE`` (clients ask for anything)."""
    maximum = conf.CHATKIT_MAX_PAGE_SIZE
    if limit is None:
        return min(20, maximum)
    return max(1, min(int(limit), maximum))


def _keyset_page(
    queryset: models.QuerySet[Any],
    cursor: tuple[Any, int] | None,
    limit: int,
    order: str,
    fields: tuple[str, ...] = ("chatkit_id", "payload"),
) -> tuple[list[tuple[Any, ...]], bool, str | None]:
    """One page of ``fields`` rows (``chatkit_id`` first) after ``cursor``, in ``order``."""
    descending = order == "desc"
    if cursor is not None:
        # (created_at, id) after the cursor's. The plain range on created_at comes first so
        # the index scan starts at the cursor (with only the OR, SQLite scans from the
        # start of the index: deep pages got slower with the size of the list).
        created_at, pk = cursor
        if descending:
            queryset = queryset.filter(created_at__lte=created_at).filter(
                models.Q(created_at__lt=created_at) | models.Q(id__lt=pk)
            )
        else:
            queryset = queryset.filter(created_at__gte=created_at).filter(
                models.Q(created_at__gt=created_at) | models.Q(id__gt=pk)
            )
    sign = "-" if descending else ""
    rows = list(
        queryset.order_by(f"{sign}created_at", f"{sign}id").values_list(*fields)[: limit + 1]
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    return rows, has_more, (rows[-1][0] if has_more else None)


def _thread_pk(owner: dict[str, Any], thread_id: str) -> int:
    pk = Thread.objects.filter(**owner, chatkit_id=thread_id).values_list("pk", flat=True).first()
    if pk is None:
        raise NotFoundError(f"Thread {thread_id} not found")
    return pk


def _thread_pk_subquery(owner: dict[str, Any], thread_id: str) -> Subquery:
    """The thread's primary key as a subquery: its rows are read or written in the same
    statement that finds the thread (``NULL``, so nothing, when it is not the owner's)."""
    return Subquery(Thread.objects.filter(**owner, chatkit_id=thread_id).values("pk")[:1])


def _upsert(
    manager: models.Manager[Any],
    key: dict[str, Any],
    values: dict[str, Any],
    insert_first: bool,
) -> bool:
    """Insert or update the row selected by ``key``; return ``True`` if it was inserted.

    ``key`` always includes the owner, so a row of somebody else is never touched.
    ``insert_first`` picks the cheaper order for rows that are usually new.
    """

    in_transaction = connections[router.db_for_write(manager.model)].in_atomic_block

    def insert() -> IntegrityError | None:
        try:
            if in_transaction:  # a failed INSERT would break the caller's transaction
                with transaction.atomic():
                    manager.create(**key, **values)
            else:  # autocommit: one statement, nothing to roll back (no BEGIN/COMMIT)
                manager.create(**key, **values)
        except IntegrityError as exc:
            return exc
        return None

    if insert_first and insert() is None:
        return True
    if manager.filter(**key).update(**values):
        return False
    error = insert()
    if error is None:
        return True
    # Lost a race against a concurrent insert of the same key: update that row. If there
    # is none, the insert broke another constraint (a parent row deleted meanwhile, a
    # check): that error is real, not "the row exists".
    if manager.filter(**key).update(**values):
        return False
    raise error


class DjangoStore(Store[ChatKitContext]):
    """ChatKit ``Store`` backed by the models of ``django_chatkit``."""

    # Ids handed out by generate_thread_id() and not saved yet: their first save_thread()
    # inserts without trying an update first. Bounded: the SDK may never save one.
    # (Subclasses that define __init__ call super().__init__().)
    _unsaved_thread_ids_max = 1024

    def __init__(self) -> None:
        self._unsaved_thread_ids: dict[str, None] = {}  # insertion-ordered: oldest first

    # ids -----------------------------------------------------------------

    def generate_thread_id(self, context: ChatKitContext) -> str:
        thread_id = new_id(ID_PREFIXES["thread"])
        unsaved = self._unsaved_thread_ids
        unsaved[thread_id] = None
        if len(unsaved) > self._unsaved_thread_ids_max:
            unsaved.pop(next(iter(unsaved)), None)
        return thread_id

    def generate_item_id(
        self, item_type: StoreItemType, thread: ck.ThreadMetadata, context: ChatKitContext
    ) -> str:
        return new_id(ID_PREFIXES.get(item_type, "itm"))

    # threads -------------------------------------------------------------

    async def load_thread(self, thread_id: str, context: ChatKitContext) -> ck.ThreadMetadata:
        owner = owner_filter(context)
        _require_findable(thread=thread_id)

        def load() -> tuple[str, bool] | None:
            return (
                Thread.objects.filter(**owner, chatkit_id=thread_id)
                .values_list("payload", "handled_by_human")
                .first()
            )

        row = await run_db(load)
        if row is None:
            raise NotFoundError(f"Thread {thread_id} not found")
        return thread_metadata(*row)

    async def save_thread(self, thread: ck.ThreadMetadata, context: ChatKitContext) -> None:
        owner = owner_filter(context)
        row = Thread()
        row.set_metadata(thread)
        new = thread.id in self._unsaved_thread_ids
        self._unsaved_thread_ids.pop(thread.id, None)

        def save() -> bool:
            return _upsert(
                Thread.objects,
                {**owner, "chatkit_id": row.chatkit_id},
                {
                    "title": row.title,
                    "status": row.status,
                    "created_at": row.created_at,
                    "payload": row.payload,
                    "updated_at": timezone.now(),
                },
                insert_first=new,
            )

        if await run_db(save):
            await signals.thread_created.asend(
                sender=type(self), thread=row.to_chatkit(), context=context
            )

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: ChatKitContext
    ) -> ck.Page[ck.ThreadMetadata]:
        owner = owner_filter(context)
        limit = clamp_limit(limit)
        _require_findable(thread=after)

        def load() -> tuple[list[tuple[Any, ...]], bool, str | None]:
            queryset = Thread.objects.filter(**owner)
            cursor = None
            if after:
                cursor = queryset.filter(chatkit_id=after).values_list("created_at", "pk").first()
                if cursor is None:
                    raise NotFoundError(f"Thread {after} not found")
            return _keyset_page(
                queryset, cursor, limit, order, ("chatkit_id", "payload", "handled_by_human")
            )

        rows, has_more, next_after = await run_db(load)
        return ck.Page(
            data=[thread_metadata(payload, human) for _, payload, human in rows],
            has_more=has_more,
            after=next_after,
        )

    async def delete_thread(self, thread_id: str, context: ChatKitContext) -> None:
        owner = owner_filter(context)
        _require_findable(thread=thread_id)

        def delete() -> None:
            with transaction.atomic():
                pk = _thread_pk(owner, thread_id)
                # Their bytes are deleted on commit by the post_delete receiver in models.
                Attachment.objects.filter(thread_id=pk).delete()
                Thread.objects.filter(pk=pk).delete()

        await run_db(delete)
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
        _require_findable(thread=thread_id, item=after)

        def load() -> tuple[list[tuple[Any, ...]], bool, str | None]:
            queryset = ThreadItem.objects.filter(thread_id=_thread_pk_subquery(owner, thread_id))
            cursor = None
            if after:
                cursor = queryset.filter(chatkit_id=after).values_list("created_at", "pk").first()
                if cursor is None:
                    _thread_pk(owner, thread_id)  # a missing thread is reported first
                    raise NotFoundError(f"Item {after} not found")
            page = _keyset_page(queryset, cursor, limit, order, ("chatkit_id", "type", "payload"))
            if not page[0] and cursor is None:
                _thread_pk(owner, thread_id)  # no items, or no such thread?
            return page

        rows, has_more, next_after = await run_db(load)
        data = [decode_thread_item(item_type, payload) for _, item_type, payload in rows]
        refresh_items(data, context.request)  # fresh signed preview URLs of our files
        return ck.Page(data=data, has_more=has_more, after=next_after)

    async def add_thread_item(
        self, thread_id: str, item: ck.ThreadItem, context: ChatKitContext
    ) -> None:
        await self._save_item(thread_id, item, context, insert_first=True)

    async def save_item(self, thread_id: str, item: ck.ThreadItem, context: ChatKitContext) -> None:
        await self._save_item(thread_id, item, context, insert_first=False)

    async def _save_item(
        self,
        thread_id: str,
        item: ck.ThreadItem,
        context: ChatKitContext,
        insert_first: bool,
    ) -> None:
        owner = owner_filter(context)
        _require_findable(thread=thread_id)
        row = ThreadItem()
        row.set_item(item)

        def save() -> bool:
            # Touch the thread first: a missing or foreign one is never written to.
            touched = Thread.objects.filter(**owner, chatkit_id=thread_id).update(
                updated_at=timezone.now()
            )
            if not touched:
                raise NotFoundError(f"Thread {thread_id} not found")
            try:
                return _upsert(
                    ThreadItem.objects,
                    {
                        "thread_id": _thread_pk_subquery(owner, thread_id),
                        "chatkit_id": row.chatkit_id,
                    },
                    {
                        "type": row.type,
                        "created_at": row.created_at,
                        "text": row.text,
                        "payload": row.payload,
                    },
                    insert_first=insert_first,
                )
            except IntegrityError:
                _thread_pk(owner, thread_id)  # deleted meanwhile: NotFoundError
                raise

        created = await run_db(save)
        await signals.item_saved.asend(
            sender=type(self), thread_id=thread_id, item=item, created=created, context=context
        )

    async def load_item(
        self, thread_id: str, item_id: str, context: ChatKitContext
    ) -> ck.ThreadItem:
        owner = owner_filter(context)
        _require_findable(thread=thread_id, item=item_id)

        def load() -> tuple[str, str] | None:
            return (
                ThreadItem.objects.filter(
                    thread__user_id=owner["user_id"],
                    thread__scope=owner["scope"],
                    thread__chatkit_id=thread_id,
                    chatkit_id=item_id,
                )
                .values_list("type", "payload")
                .first()
            )

        row = await run_db(load)
        if row is None:
            raise NotFoundError(f"Item {item_id} not found")
        return decode_thread_item(*row)

    async def delete_thread_item(
        self, thread_id: str, item_id: str, context: ChatKitContext
    ) -> None:
        """Delete an item. A missing item is no error (streams remove unsaved items);
        a missing or foreign thread is."""
        owner = owner_filter(context)
        _require_findable(thread=thread_id)

        def delete() -> None:
            if not _findable(item_id):
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
            _upsert(
                Attachment.objects,
                {**owner, "chatkit_id": row.chatkit_id},
                values,
                insert_first=False,
            )

        await run_db(save)

    async def load_attachment(self, attachment_id: str, context: ChatKitContext) -> ck.Attachment:
        owner = owner_filter(context)
        _require_findable(attachment=attachment_id)

        def load() -> Attachment | None:
            return Attachment.objects.filter(**owner, chatkit_id=attachment_id).first()

        row = await run_db(load)
        if row is None:
            raise NotFoundError(f"Attachment {attachment_id} not found")
        # Refuses uploads still outstanding; re-signs our preview URL.
        return await usable_attachment(row, context.request)

    async def delete_attachment(self, attachment_id: str, context: ChatKitContext) -> None:
        owner = owner_filter(context)
        _require_findable(attachment=attachment_id)

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
