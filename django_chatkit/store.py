"""``DjangoStore``: the ChatKit ``Store`` on the Django ORM.

The SDK checks no ownership: every method here filters by ``context.user`` and
``context.scope``, so another user's id behaves exactly like a missing one
(:class:`chatkit.store.NotFoundError`, e.g. ``Thread thr_… not found``). Upserts are
keyed by owner, so they can never overwrite or take over another user's row.

Pages are keyset-paginated on ``(created_at, id)``: the auto-increment ``id`` breaks
ties between equal timestamps, so nothing is skipped or reordered at page boundaries.
Each method runs a small, constant number of queries in one worker-thread hop
(:func:`django_chatkit.internal.db.run_db`).
"""

from __future__ import annotations

from typing import Any

from chatkit import types as ck
from chatkit.store import NotFoundError, Store, StoreItemType
from django.core.exceptions import PermissionDenied
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from . import signals
from .conf import conf
from .context import ChatKitContext
from .internal.db import run_db
from .internal.ids import new_id
from .models import ATTACHMENT_ADAPTER, THREAD_ITEM_ADAPTER, Attachment, Thread, ThreadItem

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
) -> tuple[list[tuple[str, str]], bool, str | None]:
    """One page of ``(chatkit_id, payload)`` rows after ``cursor``, in ``order``."""
    descending = order == "desc"
    if cursor is not None:
        created_at, pk = cursor
        if descending:
            queryset = queryset.filter(
                models.Q(created_at__lt=created_at) | models.Q(created_at=created_at, id__lt=pk)
            )
        else:
            queryset = queryset.filter(
                models.Q(created_at__gt=created_at) | models.Q(created_at=created_at, id__gt=pk)
            )
    sign = "-" if descending else ""
    rows = list(
        queryset.order_by(f"{sign}created_at", f"{sign}id").values_list("chatkit_id", "payload")[
            : limit + 1
        ]
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    return rows, has_more, (rows[-1][0] if has_more else None)


def _thread_pk(owner: dict[str, Any], thread_id: str) -> int:
    pk = Thread.objects.filter(**owner, chatkit_id=thread_id).values_list("pk", flat=True).first()
    if pk is None:
        raise NotFoundError(f"Thread {thread_id} not found")
    return pk


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

    def insert() -> bool:
        try:
            with transaction.atomic():
                manager.create(**key, **values)
        except IntegrityError:
            return False
        return True

    if insert_first and insert():
        return True
    if manager.filter(**key).update(**values):
        return False
    if insert():
        return True
    # Lost a race against a concurrent insert of the same key: update that row.
    manager.filter(**key).update(**values)
    return False


class DjangoStore(Store[ChatKitContext]):
    """ChatKit ``Store`` backed by the models of ``django_chatkit``."""

    # ids -----------------------------------------------------------------

    def generate_thread_id(self, context: ChatKitContext) -> str:
        return new_id(ID_PREFIXES["thread"])

    def generate_item_id(
        self, item_type: StoreItemType, thread: ck.ThreadMetadata, context: ChatKitContext
    ) -> str:
        return new_id(ID_PREFIXES.get(item_type, "itm"))

    # threads -------------------------------------------------------------

    async def load_thread(self, thread_id: str, context: ChatKitContext) -> ck.ThreadMetadata:
        owner = owner_filter(context)

        def load() -> str | None:
            return (
                Thread.objects.filter(**owner, chatkit_id=thread_id)
                .values_list("payload", flat=True)
                .first()
            )

        payload = await run_db(load)
        if payload is None:
            raise NotFoundError(f"Thread {thread_id} not found")
        return ck.ThreadMetadata.model_validate_json(payload)

    async def save_thread(self, thread: ck.ThreadMetadata, context: ChatKitContext) -> None:
        owner = owner_filter(context)
        row = Thread()
        row.set_metadata(thread)

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
                insert_first=False,
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

        def load() -> tuple[list[tuple[str, str]], bool, str | None]:
            queryset = Thread.objects.filter(**owner)
            cursor = None
            if after:
                cursor = queryset.filter(chatkit_id=after).values_list("created_at", "pk").first()
                if cursor is None:
                    raise NotFoundError(f"Thread {after} not found")
            return _keyset_page(queryset, cursor, limit, order)

        rows, has_more, next_after = await run_db(load)
        return ck.Page(
            data=[ck.ThreadMetadata.model_validate_json(payload) for _, payload in rows],
            has_more=has_more,
            after=next_after,
        )

    async def delete_thread(self, thread_id: str, context: ChatKitContext) -> None:
        owner = owner_filter(context)

        def delete() -> None:
            with transaction.atomic():
                pk = _thread_pk(owner, thread_id)
                attachments = list(
                    Attachment.objects.filter(thread_id=pk).only("pk", "storage", "file_name")
                )
                Attachment.objects.filter(pk__in=[a.pk for a in attachments]).delete()
                Thread.objects.filter(pk=pk).delete()
                for attachment in attachments:
                    transaction.on_commit(attachment.delete_file)

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

        def load() -> tuple[list[tuple[str, str]], bool, str | None]:
            queryset = ThreadItem.objects.filter(thread_id=_thread_pk(owner, thread_id))
            cursor = None
            if after:
                cursor = queryset.filter(chatkit_id=after).values_list("created_at", "pk").first()
                if cursor is None:
                    raise NotFoundError(f"Item {after} not found")
            return _keyset_page(queryset, cursor, limit, order)

        rows, has_more, next_after = await run_db(load)
        validate = THREAD_ITEM_ADAPTER.validate_json
        return ck.Page(
            data=[validate(payload) for _, payload in rows], has_more=has_more, after=next_after
        )

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
        row = ThreadItem()
        row.set_item(item)

        def save() -> bool:
            pk = _thread_pk(owner, thread_id)
            created = _upsert(
                ThreadItem.objects,
                {"thread_id": pk, "chatkit_id": row.chatkit_id},
                {
                    "type": row.type,
                    "created_at": row.created_at,
                    "text": row.text,
                    "payload": row.payload,
                },
                insert_first=insert_first,
            )
            Thread.objects.filter(pk=pk).update(updated_at=timezone.now())
            return created

        created = await run_db(save)
        await signals.item_saved.asend(
            sender=type(self), thread_id=thread_id, item=item, created=created, context=context
        )

    async def load_item(
        self, thread_id: str, item_id: str, context: ChatKitContext
    ) -> ck.ThreadItem:
        owner = owner_filter(context)

        def load() -> str | None:
            return (
                ThreadItem.objects.filter(
                    thread__user_id=owner["user_id"],
                    thread__scope=owner["scope"],
                    thread__chatkit_id=thread_id,
                    chatkit_id=item_id,
                )
                .values_list("payload", flat=True)
                .first()
            )

        payload = await run_db(load)
        if payload is None:
            raise NotFoundError(f"Item {item_id} not found")
        return THREAD_ITEM_ADAPTER.validate_json(payload)

    async def delete_thread_item(
        self, thread_id: str, item_id: str, context: ChatKitContext
    ) -> None:
        """Delete an item. A missing item is no error (streams remove unsaved items);
        a missing or foreign thread is."""
        owner = owner_filter(context)

        def delete() -> None:
            deleted, _ = ThreadItem.objects.filter(
                thread__user_id=owner["user_id"],
                thread__scope=owner["scope"],
                thread__chatkit_id=thread_id,
                chatkit_id=item_id,
            ).delete()
            if not deleted:
                _thread_pk(owner, thread_id)

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

        def load() -> str | None:
            return (
                Attachment.objects.filter(**owner, chatkit_id=attachment_id)
                .values_list("payload", flat=True)
                .first()
            )

        payload = await run_db(load)
        if payload is None:
            raise NotFoundError(f"Attachment {attachment_id} not found")
        return ATTACHMENT_ADAPTER.validate_json(payload)

    async def delete_attachment(self, attachment_id: str, context: ChatKitContext) -> None:
        owner = owner_filter(context)

        def delete() -> None:
            with transaction.atomic():
                attachment = (
                    Attachment.objects.filter(**owner, chatkit_id=attachment_id)
                    .only("pk", "storage", "file_name")
                    .first()
                )
                if attachment is None:
                    raise NotFoundError(f"Attachment {attachment_id} not found")
                attachment.delete()
                transaction.on_commit(attachment.delete_file)

        await run_db(delete)

