"""Admin pages to browse, search and moderate ChatKit conversations.

``ThreadAdmin`` lists threads (owner, status, item count, feedback, activity) and shows
each one as a readable, paginated transcript; ``AttachmentAdmin`` lists uploaded files.
Both are registered on the default admin site. To customize, subclass and re-register::

    from django.contrib import admin
    from django_chatkit.admin import ThreadAdmin
    from django_chatkit.models import Thread

    admin.site.unregister(Thread)

    @admin.register(Thread)
    class MyThreadAdmin(ThreadAdmin):
        transcript_page_size = 100
        search_message_text = False

Every extra view checks its permission explicitly: reading (transcript, export, raw
JSON, files) needs the model's *view* permission, lock/close/reopen and stopping a
running answer (:mod:`django_chatkit.admin.running`) the *change* permission, deleting
the *delete* permission, replying as the assistant (``reply/``,
:mod:`django_chatkit.handoff`) *view* plus ``django_chatkit.reply_as_assistant``.
Non-staff users never reach them.
"""

from __future__ import annotations

import contextlib
import json
from typing import Any

from django.contrib import admin
from django.contrib.admin.utils import quote, unquote
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db import models
from django.db.models.functions import Coalesce
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
)
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString
from django.utils.text import Truncator
from django.utils.translation import gettext_lazy as _

from django_chatkit.admin.handoff import HandoffAdminMixin
from django_chatkit.admin.markdown import render_markdown
from django_chatkit.admin.mixins import AttachmentLinksMixin, user_search_fields
from django_chatkit.admin.moderation import ThreadActionForm, ThreadModerationMixin
from django_chatkit.admin.running import AnsweringNowFilter, RunningAnswerAdminMixin
from django_chatkit.admin.transcript import AttachmentView, FeedbackView, TranscriptBuilder
from django_chatkit.admin.usage import ThreadUsageMixin
from django_chatkit.models import (
    Attachment,
    Feedback,
    FeedbackKind,
    Thread,
    ThreadItem,
    ThreadStatus,
)


def _count_subquery(queryset: models.QuerySet[Any], group_by: str) -> Coalesce:
    """``COUNT(*)`` of ``queryset`` per outer row, as a correlated subquery (no JOIN, so
    searches and filters on related rows never multiply it)."""
    counted = queryset.order_by().values(group_by).annotate(n=models.Count("pk")).values("n")[:1]
    return Coalesce(models.Subquery(counted, output_field=models.IntegerField()), 0)


class HasFeedbackFilter(admin.SimpleListFilter):
    title = _("feedback")
    parameter_name = "feedback"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [
            ("any", _("Any feedback")),
            (FeedbackKind.POSITIVE, _("Positive feedback")),
            (FeedbackKind.NEGATIVE, _("Negative feedback")),
            ("none", _("No feedback")),
        ]

    def queryset(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> Any:
        value = self.value()
        if value is None:
            return queryset
        feedback = Feedback.objects.filter(thread_id=models.OuterRef("pk"))
        if value in FeedbackKind.values:
            return queryset.filter(models.Exists(feedback.filter(kind=value)))
        if value == "any":
            return queryset.filter(models.Exists(feedback))
        if value == "none":
            return queryset.filter(~models.Exists(feedback))
        return queryset


# ModelAdmin[Thread] only for the type checker: ModelAdmin takes no subscript at runtime.
@admin.register(Thread)
class ThreadAdmin(
    RunningAnswerAdminMixin,
    ThreadUsageMixin,
    ThreadModerationMixin,
    HandoffAdminMixin,
    AttachmentLinksMixin,
    admin.ModelAdmin,  # type: ignore[type-arg]
):
    """Threads: a searchable changelist, a transcript page, moderation actions."""

    # changelist
    list_display = (
        "display_title",
        "owner",
        "status",
        "item_count",
        "feedback_summary",
        "usage_tokens",
        "answering",
        "updated_at",
        "created_at",
    )
    list_display_links = ("display_title",)
    list_filter = (
        "status",
        "handled_by_human",
        HasFeedbackFilter,
        AnsweringNowFilter,
        "created_at",
        "updated_at",
    )
    list_select_related = ("user",)
    date_hierarchy = "created_at"
    ordering = ("-updated_at", "-pk")
    list_per_page = 50
    actions = (
        "lock_threads",
        "close_threads",
        "reopen_threads",
        "export_json",
        "stop_running_answers",
    )
    action_form = ThreadActionForm
    #: Also search the text of every message (a scan of the items table on big sites).
    search_message_text = True
    #: Extra search fields, after title, ChatKit id, the owner's username and email.
    extra_search_fields: tuple[str, ...] = ()

    # transcript
    transcript_template = "admin/django_chatkit/thread/transcript.html"
    #: Items per transcript page (long threads are paginated).
    transcript_page_size = 50
    #: Load http(s) images of widgets and generated images in the staff member's
    #: browser (off: they are shown as links; raster ``data:`` images always show).
    load_remote_images = False
    #: Builds transcript entries; per-type templates live in
    #: ``admin/django_chatkit/items/<item type>.html``.
    transcript_builder_class = TranscriptBuilder

    class Media:
        css = {"all": ("django_chatkit/admin/transcript.css",)}

    # queryset and columns ---------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Thread]:
        feedback = Feedback.objects.filter(thread_id=models.OuterRef("pk"))
        return (
            super()
            .get_queryset(request)
            .select_related("user")
            .annotate(
                item_count=_count_subquery(
                    ThreadItem.objects.filter(thread_id=models.OuterRef("pk")), "thread_id"
                ),
                positive_count=_count_subquery(
                    feedback.filter(kind=FeedbackKind.POSITIVE), "thread_id"
                ),
                negative_count=_count_subquery(
                    feedback.filter(kind=FeedbackKind.NEGATIVE), "thread_id"
                ),
            )
        )

    def get_search_fields(self, request: HttpRequest) -> list[str]:
        fields = ["title", "=chatkit_id", *user_search_fields(), *self.extra_search_fields]
        if self.search_message_text:
            fields.append("items__text")
        return fields

    @admin.display(description=_("title"), ordering="title")
    def display_title(self, obj: Thread) -> str:
        if obj.title:
            return Truncator(obj.title).chars(80)
        return f"({_('untitled')}) {obj.chatkit_id}"

    @admin.display(description=_("owner"), ordering="user")
    def owner(self, obj: Thread) -> str:
        return obj.user.get_username()

    @admin.display(description=_("items"), ordering="item_count")
    def item_count(self, obj: Thread) -> int:
        return getattr(obj, "item_count", 0)

    @admin.display(description=_("feedback"))
    def feedback_summary(self, obj: Thread) -> SafeString | str | None:
        positive = getattr(obj, "positive_count", 0)
        negative = getattr(obj, "negative_count", 0)
        if not (positive or negative):
            return None
        badges = []
        if positive:
            badges.append(
                format_html(
                    '<span class="ck-fb ck-fb-positive" title="{}">+{}</span>',
                    _("positive"),
                    positive,
                )
            )
        if negative:
            badges.append(
                format_html(
                    '<span class="ck-fb ck-fb-negative" title="{}">-{}</span>',
                    _("negative"),
                    negative,
                )
            )
        return format_html_join(" ", "{}", ((badge,) for badge in badges))

    # permissions --------------------------------------------------------------

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # threads are created by ChatKit, never by hand

    # urls ---------------------------------------------------------------------

    def get_urls(self) -> list[Any]:
        info = self.opts.app_label, self.opts.model_name
        view = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/status/",
                view(self.status_view),
                name="{}_{}_status".format(*info),
            ),
            path(
                "<path:object_id>/stop/",
                view(self.stop_view),
                name="{}_{}_stop".format(*info),
            ),
            path(
                "<path:object_id>/export/",
                view(self.export_view),
                name="{}_{}_export".format(*info),
            ),
            path(
                "<path:object_id>/items/<int:item_pk>/json/",
                view(self.item_json_view),
                name="{}_{}_item_json".format(*info),
            ),
            *super().get_urls(),
        ]

    def _url(self, name: str, *args: Any) -> str:
        info = self.opts.app_label, self.opts.model_name
        return reverse(f"{self.admin_site.name}:{info[0]}_{info[1]}_{name}", args=args)

    def _get_readable(self, request: HttpRequest, object_id: str) -> Thread:
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(_("This thread does not exist."))
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        return obj

    # transcript ------------------------------------------------------------------

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        """The thread page is a read-only transcript (status changes go to ``status/``)."""
        return self.transcript_view(request, object_id, extra_context)

    def get_transcript_builder(self, request: HttpRequest, thread: Thread) -> TranscriptBuilder:
        return self.transcript_builder_class(
            markdown=self.render_markdown, load_remote_images=self.load_remote_images
        )

    def render_markdown(self, text: str) -> SafeString:
        """Assistant text as safe HTML; override to use another (safe) renderer."""
        return render_markdown(text)

    def get_transcript_items(self, request: HttpRequest, thread: Thread) -> Any:
        return ThreadItem.objects.filter(thread_id=thread.pk).order_by("created_at", "pk")

    def get_transcript_page(self, request: HttpRequest, thread: Thread) -> Any:
        items = self.get_transcript_items(request, thread).only(
            "pk", "chatkit_id", "type", "created_at", "payload"
        )
        paginator = Paginator(items, self.transcript_page_size)
        number = request.GET.get("page", 1)
        return paginator.get_page(paginator.num_pages if number == "last" else number)

    def build_transcript(self, request: HttpRequest, thread: Thread, rows: list[Any]) -> list[Any]:
        """Transcript entries of ``rows``: two more queries (attachments, feedback)."""
        builder = self.get_transcript_builder(request, thread)
        parsed = []
        for row in rows:
            try:
                data = json.loads(row.payload)
            except ValueError:
                data = {"unreadable_payload": row.payload}
            parsed.append((row, data if isinstance(data, dict) else {"payload": data}))
        attachment_ids = builder.attachment_ids(data for _row, data in parsed)
        attachments = {}
        if attachment_ids:
            for attachment in Attachment.objects.owned_by(thread.owner).filter(
                chatkit_id__in=attachment_ids
            ):
                attachments[attachment.chatkit_id] = self.attachment_view(request, attachment)
        feedback: dict[str, list[FeedbackView]] = {}
        for item_id, kind, username, updated_at in Feedback.objects.filter(
            thread_id=thread.pk, item_chatkit_id__in=[row.chatkit_id for row, _data in parsed]
        ).values_list(
            "item_chatkit_id", "kind", f"user__{get_user_model().USERNAME_FIELD}", "updated_at"
        ):
            feedback.setdefault(item_id, []).append(FeedbackView(kind, username, updated_at))
        entries = []
        for row, data in parsed:
            entry = builder.entry(
                row.pk,
                row.chatkit_id,
                row.type,
                row.created_at,
                data,
                attachments,
                feedback.get(row.chatkit_id, []),
            )
            entry.extra["json_url"] = self._url("item_json", quote(thread.pk), row.pk)
            entries.append(entry)
        return entries

    def attachment_view(self, request: HttpRequest, attachment: Attachment) -> AttachmentView:
        preview, download = self.get_attachment_links(attachment, request)
        admin_url = None
        if self.admin_site.is_registered(Attachment):
            admin_url = reverse(
                f"{self.admin_site.name}:django_chatkit_attachment_change", args=[attachment.pk]
            )
        return AttachmentView(
            id=attachment.chatkit_id,
            name=attachment.name,
            mime_type=attachment.mime_type,
            type=attachment.type,
            size=attachment.size,
            preview_url=preview,
            download_url=download,
            admin_url=admin_url,
        )

    def transcript_view(
        self, request: HttpRequest, object_id: str, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["GET", "HEAD"])
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            # Django's own answer (a private ModelAdmin method that django-stubs omits).
            redirect = self._get_obj_does_not_exist_redirect  # type: ignore[attr-defined]
            return redirect(request, self.opts, object_id)
        if not self.has_view_or_change_permission(request, obj):
            raise PermissionDenied
        page = self.get_transcript_page(request, obj)
        entries = self.build_transcript(request, obj, list(page.object_list))
        metadata: Any = {}
        with contextlib.suppress(ValueError):
            metadata = json.loads(obj.payload)
        status = metadata.get("status") if isinstance(metadata, dict) else None
        context = {
            **self.admin_site.each_context(request),
            "title": obj.title or obj.chatkit_id,
            "subtitle": None,
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "original": obj,
            "object_id": obj.pk,
            "thread": obj,
            "owner": obj.user,
            "status_reason": status.get("reason") if isinstance(status, dict) else None,
            "thread_metadata": json.dumps(metadata.get("metadata") or {}, indent=2)
            if isinstance(metadata, dict)
            else "",
            "entries": entries,
            "page_obj": page,
            "paginator": page.paginator,
            "page_range": list(page.paginator.get_elided_page_range(page.number)),
            "status_choices": ThreadStatus.choices,
            "has_view_permission": True,
            "has_change_permission": self.has_change_permission(request, obj),
            "has_delete_permission": self.has_delete_permission(request, obj),
            "status_url": self._url("status", quote(obj.pk)),
            "export_url": self._url("export", quote(obj.pk)),
            "delete_url": self._url("delete", quote(obj.pk)),
            "history_url": self._url("history", quote(obj.pk)),
            "changelist_url": self._url("changelist"),
            "media": self.media,
            "is_popup": False,
            "to_field": None,
            **self.handoff_context(request, obj),
            **self.running_context(request, obj),
            **self.usage_context(request, obj),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.transcript_template, context)

    def item_json_view(self, request: HttpRequest, object_id: str, item_pk: int) -> HttpResponse:
        """The stored JSON of one item, pretty-printed (view permission)."""
        obj = self._get_readable(request, object_id)
        payload = (
            ThreadItem.objects.filter(thread_id=obj.pk, pk=item_pk)
            .values_list("payload", flat=True)
            .first()
        )
        if payload is None:
            raise Http404(_("This item does not exist."))
        body = json.dumps(json.loads(payload), indent=2, ensure_ascii=False)
        return HttpResponse(body, content_type="application/json; charset=utf-8")
