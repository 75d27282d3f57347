"""The store's statements: the hot ones compiled once per database, and the upserts.

Each statement of a hot path (a thread, a page, saving an item or a thread) is an
ordinary queryset compiled once per database and shape
(:mod:`django_chatkit.store.statements`). They are built from the models' ``owned_by()``
querysets (:mod:`django_chatkit.managers`) with placeholders for the owner's values, so
they select exactly what those select: bind the owner with ``**owner.columns()``.

Pages are keyset-paginated on ``(created_at, id)``: the auto-increment ``id`` breaks
ties between equal timestamps, so nothing is skipped or reordered at page boundaries.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from chatkit.store import NotFoundError
from django.db import IntegrityError, connections, models, transaction

from django_chatkit.managers import Owner
from django_chatkit.models import Thread, ThreadItem
from django_chatkit.store.statements import (
    Param,
    Statement,
    insert_query,
    model_field,
    update_query,
)

_thread_field = partial(model_field, Thread)
_item_field = partial(model_field, ThreadItem)


def _owner() -> Owner:
    """The owner as placeholders, named as :meth:`Owner.columns` names the values."""
    return Owner(Param("user_id", _thread_field("user")), Param("scope", _thread_field("scope")))


def _thread_id() -> Param:
    return Param("thread", _thread_field("chatkit_id"))


def _item_id() -> Param:
    return Param("item", _item_field("chatkit_id"))


def _owned_thread() -> models.QuerySet[Thread]:
    return Thread.objects.owned_by(_owner()).filter(chatkit_id=_thread_id())


def _thread_items() -> models.QuerySet[ThreadItem]:
    return ThreadItem.objects.owned_by(_owner(), _thread_id())


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
        Thread.objects.owned_by(_owner()),
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
        **_owner().columns(),
        **{name: Param(name, _thread_field(name)) for name in THREAD_VALUES},
        chatkit_id=_thread_id(),
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
    lambda: _thread_items().filter(chatkit_id=_item_id()).values_list("created_at", "pk")[:1].query
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
        thread_id=Thread.objects.owned_by(_owner()).pk_of(_thread_id()),
        chatkit_id=_item_id(),
        **{name: Param(name, _item_field(name)) for name in ITEM_VALUES},
    )
)
ITEM_UPDATE = Statement(
    lambda: update_query(
        _thread_items().filter(chatkit_id=_item_id()),
        **{name: Param(name, _item_field(name)) for name in ITEM_VALUES},
    )
)


def page(
    using: str,
    statement: Statement,
    limit: int,
    order: str,
    cursor: tuple[Any, int] | None,
    **params: Any,
) -> tuple[list[tuple[Any, ...]], bool, str | None]:
    """One page of rows (``chatkit_id`` first) in ``order``, after the row whose
    ``(created_at, pk)`` is ``cursor``."""
    at, pk = cursor or (None, None)
    rows = statement.fetch(
        using, order == "desc", limit + 1, cursor is not None, **params, at=at, pk=pk
    )
    has_more = len(rows) > limit
    rows = rows[:limit]
    return rows, has_more, (rows[-1][0] if has_more else None)


def thread_pk(owner: Owner, thread_id: str) -> int:
    """The primary key of the owner's thread ``thread_id`` (``NotFoundError`` if none)."""
    pk = (
        Thread.objects.owned_by(owner)
        .filter(chatkit_id=thread_id)
        .values_list("pk", flat=True)
        .first()
    )
    if pk is None:
        raise NotFoundError(f"Thread {thread_id} not found")
    return pk


def insert(using: str, run: Callable[[], object]) -> IntegrityError | None:
    """Run the INSERT ``run``; return the ``IntegrityError`` it raised (the row exists,
    or a constraint refused it), leaving a caller's transaction usable."""
    try:
        if connections[using].in_atomic_block:  # a failed INSERT would break it
            with transaction.atomic(using=using):
                run()
        else:  # autocommit: one statement, nothing to roll back (no BEGIN/COMMIT)
            run()
    except IntegrityError as exc:
        return exc
    return None


def upsert(
    using: str, run_insert: Callable[[], object], update: Callable[[], int], insert_first: bool
) -> bool:
    """Insert or update a row; return ``True`` if it was inserted.

    ``update`` selects the row by its owner too, so a row of somebody else is never
    touched; it returns the number of rows updated. ``insert_first`` picks the cheaper
    order for rows that are usually new.
    """
    if insert_first and insert(using, run_insert) is None:
        return True
    if update():
        return False
    error = insert(using, run_insert)
    if error is None:
        return True
    # Lost a race against a concurrent insert of the same key: update that row. If there
    # is none, the insert broke another constraint (a parent row deleted meanwhile, a
    # check): that error is real, not "the row exists".
    if update():
        return False
    raise error


def upsert_statements(
    using: str, run_insert: Statement, update: Statement, values: dict[str, Any], insert_first: bool
) -> bool:
    """:func:`upsert` with compiled statements, both bound to ``values``."""
    return upsert(
        using,
        partial(run_insert.run, using, **values),
        partial(update.run, using, **values),
        insert_first,
    )
