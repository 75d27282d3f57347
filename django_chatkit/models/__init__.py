"""Threads, thread items and attachment metadata, each owned by a user.

ChatKit ids (``chatkit_id``) are unique per owner and scope, not globally: a client that
names somebody else's id creates or finds nothing of theirs, exactly as if the id were
missing; that rule is written once, as ``owned_by()`` on each model's manager
(:mod:`django_chatkit.managers`). Each row keeps the SDK's full pydantic payload as
JSON text (``payload``), which round-trips exactly (naive timestamps stay naive; NUL
characters survive PostgreSQL), plus the columns that queries, ordering and the admin
need.

The models of durable answers (``running``) and of usage (``usage``) are modules of this
package.
"""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any

from chatkit import types as ck
from django.conf import settings
from django.core.files.storage import storages
from django.db import models, transaction
from django.db.models.signals import post_delete
from django.dispatch import receiver
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from pydantic import TypeAdapter

from django_chatkit.managers import (
    OwnedQuerySet,
    Owner,
    ThreadContentQuerySet,
    ThreadQuerySet,
)
from django_chatkit.models.running import RunningResponse
from django_chatkit.models.usage import DailyUsage, Usage, UsageFields
from django_chatkit.widget_classes import rebuild_widget, record_classes

__all__ = [
    "Attachment",
    "DailyUsage",
    "Feedback",
    "FeedbackKind",
    "RunningResponse",
    "Thread",
    "ThreadItem",
    "ThreadStatus",
    "UploadState",
    "Usage",
    "UsageFields",
]

logger = logging.getLogger("django_chatkit")

THREAD_ITEM_ADAPTER: TypeAdapter[ck.ThreadItem] = TypeAdapter(ck.ThreadItem)
ATTACHMENT_ADAPTER: TypeAdapter[ck.Attachment] = TypeAdapter(ck.Attachment)


def decode_thread_item(item_type: str, payload: str, widget_classes: str = "") -> ck.ThreadItem:
    """Rebuild a stored item equal to the saved one, of the same classes.

    ``item_type`` and ``widget_classes`` are its columns. A widget is rebuilt with the
    classes recorded when it was saved (:mod:`django_chatkit.widget_classes`): a
    ``Card`` comes back a ``Card``, what ``WidgetTemplate.build()`` made a
    ``DynamicWidgetRoot``, every prop kept. A widget saved before classes were recorded
    loads as a ``DynamicWidgetRoot``, as it always did.
    """
    if item_type != "widget":
        return THREAD_ITEM_ADAPTER.validate_json(payload)
    data = json.loads(payload)
    data["widget"] = rebuild_widget(data["widget"], widget_classes)
    return ck.WidgetItem.model_validate(data)


def db_datetime(value: datetime) -> datetime:
    """Return ``value`` as the database column wants it.

    The SDK stamps naive ``datetime.now()`` (the process' local time). The payload keeps
    that exact value; the indexed column gets the same instant, made aware when
    ``USE_TZ`` is on.
    """
    if settings.USE_TZ:
        return value if timezone.is_aware(value) else value.astimezone(UTC)
    return timezone.make_naive(value) if timezone.is_aware(value) else value


def item_text(item: ck.ThreadItem) -> str:
    """Plain text of an item, for search and listings (never used to rebuild the item)."""
    if isinstance(item, ck.UserMessageItem):
        parts = [c.text for c in item.content]
        if item.quoted_text:
            parts.append(item.quoted_text)
    elif isinstance(item, ck.AssistantMessageItem):
        parts = [c.text for c in item.content]
    elif isinstance(item, ck.WidgetItem):
        parts = [item.copy_text or ""]
    elif isinstance(item, ck.ClientToolCallItem):
        parts = [item.name]
    elif isinstance(item, (ck.HiddenContextItem, ck.SDKHiddenContextItem)):
        parts = [item.content if isinstance(item.content, str) else ""]
    else:
        parts = []
    return "\n".join(p for p in parts if p).replace("\x00", "")


#: Key of ``ThreadMetadata.metadata`` that is ``True`` while a human handles the thread
#: (see :mod:`django_chatkit.handoff`). The ``Thread.handled_by_human`` column is the
#: source of truth: the key is added when a thread is loaded, never stored in the payload.
HANDLED_BY_HUMAN = "handled_by_human"


def thread_metadata(payload: str, handled_by_human: bool = False) -> ck.ThreadMetadata:
    """The ``ThreadMetadata`` of a stored payload, with the human hand-off flag set."""
    metadata = ck.ThreadMetadata.model_validate_json(payload)
    if handled_by_human:
        metadata.metadata[HANDLED_BY_HUMAN] = True
    return metadata


def thread_columns(metadata: ck.ThreadMetadata) -> dict[str, Any]:
    """The ``Thread`` column values of ``metadata``: its payload and the queryable columns."""
    if isinstance(metadata, ck.Thread):  # the SDK sometimes passes a full Thread
        metadata = ck.ThreadMetadata.model_validate(metadata.model_dump(exclude={"items"}))
    columns = {
        "chatkit_id": metadata.id,
        "title": (metadata.title or "").replace("\x00", ""),
        "status": metadata.status.type,
        "created_at": db_datetime(metadata.created_at),
    }
    if HANDLED_BY_HUMAN in metadata.metadata:  # a column, not payload (see the key)
        extra = {k: v for k, v in metadata.metadata.items() if k != HANDLED_BY_HUMAN}
        metadata = metadata.model_copy(update={"metadata": extra})
    columns["payload"] = metadata.model_dump_json()
    return columns


def item_columns(item: ck.ThreadItem) -> dict[str, Any]:
    """The ``ThreadItem`` column values of ``item`` (but its thread)."""
    return {
        "chatkit_id": item.id,
        "type": item.type,
        "created_at": db_datetime(item.created_at),
        "text": item_text(item),
        "payload": item.model_dump_json(),
        "widget_classes": (record_classes(item.widget) if isinstance(item, ck.WidgetItem) else ""),
    }


class ThreadStatus(models.TextChoices):
    ACTIVE = "active", _("Active")
    LOCKED = "locked", _("Locked")
    CLOSED = "closed", _("Closed")


class Thread(models.Model):
    """A conversation: the SDK's ``ThreadMetadata`` owned by one user in one scope."""

    chatkit_id = models.CharField(_("ChatKit id"), max_length=255)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="chatkit_threads",
        verbose_name=_("user"),
    )
    scope = models.CharField(_("scope"), max_length=100, blank=True, default="")
    title = models.TextField(_("title"), blank=True, default="")
    status = models.CharField(
        _("status"), max_length=16, choices=ThreadStatus.choices, default=ThreadStatus.ACTIVE
    )
    created_at = models.DateTimeField(_("created"))
    updated_at = models.DateTimeField(_("last activity"), default=timezone.now)
    payload = models.TextField(_("payload"), help_text=_("The SDK's ThreadMetadata as JSON."))
    handled_by_human = models.BooleanField(
        _("handled by a human"),
        default=False,
        help_text=_("While set, staff answer this thread and the assistant does not run."),
    )

    objects = ThreadQuerySet.as_manager()

    class Meta:
        verbose_name = _("thread")
        verbose_name_plural = _("threads")
        permissions = [
            ("reply_as_assistant", _("Can reply as the assistant and take threads over")),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["user", "scope", "chatkit_id"], name="django_chatkit_thread_owner_id"
            ),
        ]
        indexes = [
            models.Index(
                fields=["user", "scope", "created_at", "id"], name="django_chatkit_thread_page"
            ),
            models.Index(fields=["updated_at"], name="django_chatkit_thread_activity"),
        ]

    def __str__(self) -> str:
        return self.title or self.chatkit_id

    @property
    def owner(self) -> Owner:
        """Who owns the thread (and its items, feedback and attachments)."""
        return Owner(self.user_id, self.scope)

    def to_chatkit(self) -> ck.ThreadMetadata:
        return thread_metadata(self.payload, self.handled_by_human)

    def set_metadata(self, metadata: ck.ThreadMetadata) -> None:
        """Copy ``metadata`` into the payload and the queryable columns."""
        for name, value in thread_columns(metadata).items():
            setattr(self, name, value)

    def set_status(self, status: str, reason: str | None = None) -> None:
        """Change the thread's status (active, locked, closed), payload included."""
        new_status: ck.ThreadStatus
        if status == ThreadStatus.ACTIVE:
            new_status = ck.ActiveStatus()
        elif status == ThreadStatus.LOCKED:
            new_status = ck.LockedStatus(reason=reason)
        elif status == ThreadStatus.CLOSED:
            new_status = ck.ClosedStatus(reason=reason)
        else:
            raise ValueError(f"Unknown thread status {status!r}")
        metadata = self.to_chatkit()
        self.set_metadata(metadata.model_copy(update={"status": new_status}))


class ThreadItem(models.Model):
    """One item of a thread (message, widget, tool call, ...). ``id`` breaks ties in order."""

    thread = models.ForeignKey(
        Thread, on_delete=models.CASCADE, related_name="items", verbose_name=_("thread")
    )
    chatkit_id = models.CharField(_("ChatKit id"), max_length=255)
    type = models.CharField(_("type"), max_length=64)
    created_at = models.DateTimeField(_("created"))
    text = models.TextField(_("text"), blank=True, default="")
    payload = models.TextField(_("payload"), help_text=_("The SDK's ThreadItem as JSON."))
    widget_classes = models.TextField(
        _("widget classes"),
        blank=True,
        default="",
        help_text=_("Widget items: the class of each part of the widget, to rebuild it exactly."),
    )

    objects = ThreadContentQuerySet.as_manager()

    class Meta:
        verbose_name = _("thread item")
        verbose_name_plural = _("thread items")
        constraints = [
            models.UniqueConstraint(
                fields=["thread", "chatkit_id"], name="django_chatkit_item_thread_id"
            ),
        ]
        indexes = [
            models.Index(fields=["thread", "created_at", "id"], name="django_chatkit_item_page"),
        ]

    def __str__(self) -> str:
        return self.chatkit_id

    def to_chatkit(self) -> ck.ThreadItem:
        return decode_thread_item(self.type, self.payload, self.widget_classes)

    def set_item(self, item: ck.ThreadItem) -> None:
        for name, value in item_columns(item).items():
            setattr(self, name, value)


class UploadState(models.TextChoices):
    """Where an attachment's bytes are (blank: saved by the store, not by our uploads)."""

    NONE = "", _("Not tracked")
    PENDING = "pending", _("Awaiting upload")
    PRESIGNED = "presigned", _("Awaiting upload to the bucket")
    COMPLETE = "complete", _("Uploaded")


class Attachment(models.Model):
    """Metadata of an uploaded file; the bytes live in a Django storage."""

    chatkit_id = models.CharField(_("ChatKit id"), max_length=255)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="chatkit_attachments",
        verbose_name=_("user"),
    )
    scope = models.CharField(_("scope"), max_length=100, blank=True, default="")
    thread = models.ForeignKey(
        Thread,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="attachments",
        verbose_name=_("thread"),
    )
    type = models.CharField(_("type"), max_length=16)
    name = models.CharField(_("name"), max_length=255)
    mime_type = models.CharField(_("MIME type"), max_length=255)
    size = models.BigIntegerField(_("size"), null=True, blank=True)
    storage = models.CharField(_("storage alias"), max_length=100, default="default")
    file_name = models.CharField(_("file name in storage"), max_length=1024, blank=True, default="")
    uploaded_at = models.DateTimeField(_("uploaded"), null=True, blank=True)
    upload_state = models.CharField(
        _("upload state"), max_length=16, choices=UploadState.choices, blank=True, default=""
    )
    upload_nonce = models.CharField(
        _("upload nonce"),
        max_length=64,
        blank=True,
        default="",
        help_text=_("Secret of the outstanding two-phase upload URL; cleared once used."),
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    payload = models.TextField(_("payload"), help_text=_("The SDK's Attachment as JSON."))

    objects = OwnedQuerySet.as_manager()

    class Meta:
        verbose_name = _("attachment")
        verbose_name_plural = _("attachments")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "scope", "chatkit_id"], name="django_chatkit_attachment_owner_id"
            ),
        ]
        indexes = [
            models.Index(fields=["created_at"], name="django_chatkit_attachment_age"),
        ]

    def __str__(self) -> str:
        return self.name

    def to_chatkit(self) -> ck.Attachment:
        return ATTACHMENT_ADAPTER.validate_json(self.payload)

    def set_attachment(self, attachment: ck.Attachment) -> None:
        self.chatkit_id = attachment.id
        self.type = attachment.type
        self.name = attachment.name.replace("\x00", "")[:255]
        self.mime_type = attachment.mime_type.replace("\x00", "")[:255]
        self.payload = attachment.model_dump_json()

    def delete_file(self) -> None:
        """Delete the stored bytes, if any (a failure is logged, never raised)."""
        if not self.file_name:
            return
        try:
            storages[self.storage].delete(self.file_name)
        except Exception:
            logger.exception("Could not delete attachment file %s", self.file_name)


@receiver(post_delete, sender=Attachment, dispatch_uid="django_chatkit.attachment_bytes")
def _delete_attachment_bytes(sender: type[Attachment], instance: Attachment, **kwargs: Any) -> None:
    """However a row goes (store, admin, a user's cascade, cleanup), its bytes go after
    the transaction commits; a rolled-back delete keeps them."""
    if instance.file_name:
        transaction.on_commit(instance.delete_file, robust=True)


class FeedbackKind(models.TextChoices):
    POSITIVE = "positive", _("Positive")
    NEGATIVE = "negative", _("Negative")


class Feedback(models.Model):
    """A user's thumbs up or down on a thread item (``items.feedback``), one per user and item.

    It points at the thread and names the item by its ChatKit id (no foreign key to the
    item): thread items then have no dependent rows, so deleting a thread deletes its
    items in one statement however long the thread is.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="chatkit_feedback",
        verbose_name=_("user"),
    )
    thread = models.ForeignKey(
        Thread, on_delete=models.CASCADE, related_name="feedback", verbose_name=_("thread")
    )
    item_chatkit_id = models.CharField(_("item ChatKit id"), max_length=255)
    kind = models.CharField(_("kind"), max_length=16, choices=FeedbackKind.choices)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    objects = ThreadContentQuerySet.as_manager()

    class Meta:
        verbose_name = _("feedback")
        verbose_name_plural = _("feedback")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "thread", "item_chatkit_id"], name="django_chatkit_feedback_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind} on {self.item_chatkit_id}"
