"""What one request already read: the store's bookkeeping around ``context.reads``.

The endpoint gives each streaming request's context a
:class:`~django_chatkit.context.RequestReads`; the store answers a repeated load from it
(as a copy) and forgets what a write changes. Without it (``context.reads`` is
``None``: jobs, tests, another server) every function here does nothing and every load
reads the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any, TypeVar

from pydantic import BaseModel

from django_chatkit.context import ChatKitContext

_Read = TypeVar("_Read", bound=BaseModel)


def reread(context: ChatKitContext, key: tuple[Any, ...]) -> Any:
    """A copy of what this request already read under ``key`` (``None``: read it)."""
    return None if context.reads is None else context.reads.get(key)


def remember_read(context: ChatKitContext, key: tuple[Any, ...], value: _Read) -> _Read:
    """Keep ``value`` (a copy) as what this request read under ``key``; return it."""
    if context.reads is not None:
        context.reads.put(key, value)
    return value


def forget_reads(context: ChatKitContext, kind: str, *ids: str) -> None:
    """Forget what this request read of ``kind`` (``"thread"``, ``"items"``...) under
    keys starting with ``ids``."""
    if context.reads is not None:
        context.reads.forget(kind, *ids)


def loaded_items(context: ChatKitContext, thread_id: str, item_ids: Iterable[str]) -> None:
    """Note that this request loaded these items of the thread."""
    if context.reads is not None:
        context.reads.loaded(thread_id, item_ids)


def continues_read(context: ChatKitContext, thread_id: str, item_id: str) -> bool:
    """Whether this request loaded the item and has not written it since."""
    return context.reads is not None and context.reads.continues(thread_id, item_id)


def item_written(context: ChatKitContext, thread_id: str, item_id: str) -> None:
    """Forget what this request read of the thread's items; ``item_id`` is written."""
    if context.reads is not None:
        context.reads.forget("items", thread_id)
        context.reads.written(thread_id, item_id)
