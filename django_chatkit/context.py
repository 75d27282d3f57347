"""The per-request context handed to the store, the attachment store and ``respond()``."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import translation
from pydantic import BaseModel

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpRequest


def _current_language() -> str:
    return translation.get_language() or settings.LANGUAGE_CODE


class RequestReads:
    """What the store read during one request, reused within that request.

    A request reads its thread several times (the endpoint's checks, the hand-off check,
    the SDK): :class:`~django_chatkit.store.DjangoStore` answers the repeated reads from
    here. Each hit is a deep copy (callers mutate what they load); any write to a row
    forgets what was read of it. The endpoint gives each streaming request's context a
    new one; never share one between requests or users.
    """

    def __init__(self) -> None:
        self._rows: dict[tuple[Any, ...], BaseModel] = {}
        # (thread id, item id) of the items this request loaded and has not written since.
        self._loaded_items: set[tuple[str, str]] = set()

    def get(self, key: tuple[Any, ...]) -> Any:
        """A copy of what was read under ``key``, or ``None``."""
        value = self._rows.get(key)
        return None if value is None else value.model_copy(deep=True)

    def put(self, key: tuple[Any, ...], value: BaseModel) -> None:
        self._rows[key] = value.model_copy(deep=True)

    def loaded(self, thread_id: str, item_ids: Iterable[str]) -> None:
        """Note that this request loaded these items of ``thread_id``."""
        self._loaded_items.update((thread_id, item_id) for item_id in item_ids)

    def written(self, thread_id: str, item_id: str) -> None:
        """Note that this request wrote (or deleted) the item."""
        self._loaded_items.discard((thread_id, item_id))

    def continues(self, thread_id: str, item_id: str) -> bool:
        """Whether this request loaded the item and has not written it since."""
        return (thread_id, item_id) in self._loaded_items

    def forget(self, kind: str, *ids: Any) -> None:
        """Forget every read of ``kind`` whose key starts with ``ids``."""
        prefix = (kind, *ids)
        for key in [k for k in self._rows if k[: len(prefix)] == prefix]:
            del self._rows[key]


@dataclass
class ChatKitContext:
    """Who is asking, and for which conversation space.

    ``user`` owns every thread, item and attachment the store reads or writes.
    ``scope`` separates histories of the same user, e.g. one per assistant on a site
    (the store isolates by user *and* scope). ``language`` is the request's active
    language (Django i18n), for localized prompts and tool output. ``request`` is the
    Django request, or ``None`` outside a request (jobs, commands, tests). ``reads``
    lets the store read each row once per request (:class:`RequestReads`).
    """

    user: AbstractBaseUser | AnonymousUser
    request: HttpRequest | None = None
    scope: str = ""
    language: str = field(default_factory=_current_language)
    extra: dict[str, Any] = field(default_factory=dict)
    #: Reads the store reuses within this request (set by the endpoint for each
    #: streaming request); ``None``: every load reads the database.
    reads: RequestReads | None = field(default=None, repr=False, compare=False)
    #: The durable answer this request runs (:mod:`django_chatkit.durable`), or ``None``.
    running: Any = field(default=None, repr=False, compare=False)
