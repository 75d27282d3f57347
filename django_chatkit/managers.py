"""Who owns what: the ownership rule of every model, written once.

Threads and attachments belong to a user in a scope (an :class:`Owner`); a thread's
items and feedback belong to whoever owns the thread. Every query that selects what a
:class:`~django_chatkit.context.ChatKitContext` may see starts from these querysets:
``Thread.objects.owned_by(context)``, ``ThreadItem.objects.owned_by(context, thread_id)``,
``Attachment.objects.owned_by(context)``, ``Feedback.objects.owned_by(context)``. The
store's compiled statements (:mod:`django_chatkit.store.queries`) are built from them
too, with placeholders for the owner's values, so the rule has no second copy.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, NamedTuple, Self, TypeVar, cast

from django.core.exceptions import PermissionDenied
from django.db import models

if TYPE_CHECKING:
    from django_chatkit.context import ChatKitContext

_M = TypeVar("_M", bound=models.Model)


class Owner(NamedTuple):
    """The owner of threads and attachments: a user's primary key and a scope.

    Built from a context by :meth:`of`, from a thread by ``Thread.owner``. The values
    may be statement placeholders (:class:`django_chatkit.store.statements.Param`),
    bound to :meth:`columns` at each execution.
    """

    user_id: Any
    scope: Any = ""

    @classmethod
    def of(cls, owner: ChatKitContext | Owner) -> Owner:
        """Who ``owner`` (a context) acts for; ``PermissionDenied`` unless its user is
        authenticated. An ``Owner`` is returned as is."""
        if isinstance(owner, Owner):
            return owner
        user = owner.user
        if user is None or not user.is_authenticated:
            raise PermissionDenied("ChatKitContext.user must be an authenticated user.")
        return cls(user.pk, owner.scope)

    def columns(self) -> dict[str, Any]:
        """The ``user_id`` and ``scope`` column values of a row this owner owns."""
        return {"user_id": self.user_id, "scope": self.scope}


class OwnedQuerySet(models.QuerySet[_M]):
    """Rows with an owner of their own (``user`` and ``scope`` columns)."""

    def owned_by(self, owner: ChatKitContext | Owner) -> Self:
        """The rows ``owner`` owns: somebody else's are exactly like missing ones."""
        return self.filter(**Owner.of(owner).columns())


class ThreadQuerySet(OwnedQuerySet[_M]):
    def pk_of(self, chatkit_id: Any) -> models.Subquery:
        """The primary key of the thread ``chatkit_id`` among these, as a subquery
        (``NULL`` when there is none): its items are read or written in the statement
        that finds it."""
        return models.Subquery(self.filter(chatkit_id=chatkit_id).values("pk")[:1])


class ThreadContentQuerySet(models.QuerySet[_M]):
    """Rows of a thread (items, feedback): they belong to the thread's owner."""

    def owned_by(self, owner: ChatKitContext | Owner, thread_id: Any = None) -> Self:
        """The rows of ``owner``'s threads, or of their thread ``thread_id`` (none when
        it is somebody else's or missing)."""
        thread_model = self.model._meta.get_field("thread").related_model
        assert isinstance(thread_model, type)  # a concrete foreign key to Thread
        threads = cast("ThreadQuerySet[Any]", thread_model._default_manager.all())
        owned = threads.owned_by(owner)
        if thread_id is None:
            return self.filter(thread__in=owned.values("pk"))
        return self.filter(thread_id=owned.pk_of(thread_id))
