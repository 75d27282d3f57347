"""Moderating threads in the admin: lock, close and reopen (with a reason the user sees),
export as JSON, and delete with everything a thread holds.

:class:`ThreadModerationMixin` is part of :class:`~django_chatkit.admin.ThreadAdmin`; the
actions check the *change*, *view* and *delete* permissions.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.utils import timezone
from django.utils.html import format_html
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from django_chatkit.admin.export import export_threads
from django_chatkit.models import Attachment, Thread, ThreadItem, ThreadStatus
from django_chatkit.store.deletion import count_thread_contents, delete_threads


class ThreadActionForm(helpers.ActionForm):
    reason = forms.CharField(
        label=_("Reason (shown to the user):"),
        required=False,
        max_length=500,
        widget=forms.TextInput(attrs={"size": 20}),
    )


class ThreadStatusForm(forms.Form):
    status = forms.ChoiceField(choices=ThreadStatus.choices)
    reason = forms.CharField(required=False, max_length=500)


if TYPE_CHECKING:
    _AdminBase = admin.ModelAdmin[Thread]
else:
    _AdminBase = object


class ThreadModerationMixin(_AdminBase):
    """Status changes, JSON export and deletion for a ``ModelAdmin`` of :class:`Thread`.

    Relies on the admin's ``_url()`` and ``_get_readable()`` (:class:`ThreadAdmin`)."""

    if TYPE_CHECKING:

        def _url(self, name: str, *args: Any) -> str: ...

        def _get_readable(self, request: HttpRequest, object_id: str) -> Thread: ...

    status_reason_max_length = 500
    export_filename = "chatkit-threads-{now:%Y%m%d-%H%M%S}.json"

    # moderation --------------------------------------------------------------------

    def set_thread_status(
        self, request: HttpRequest, threads: Any, status: str, reason: str | None = None
    ) -> int:
        """Set ``status`` (active, locked, closed) on ``threads``, as the user's ChatKit
        will see it; returns how many changed. Last activity is left as it is."""
        reason = (reason or "").strip()[: self.status_reason_max_length] or None
        if status == ThreadStatus.ACTIVE:
            reason = None
        changed = []
        with transaction.atomic():
            rows = threads.select_for_update().only(
                "pk", "chatkit_id", "title", "status", "created_at", "payload"
            )
            for thread in rows.order_by("pk"):
                before = thread.payload
                thread.set_status(status, reason)
                if thread.payload != before:
                    changed.append(thread)
            Thread.objects.bulk_update(changed, ["status", "payload"], batch_size=500)
        label = ThreadStatus(status).label
        for thread in changed:
            message = f"Status set to {label}" + (f": {reason}" if reason else "")
            self.log_change(request, thread, message)
        return len(changed)

    def _status_action(self, request: HttpRequest, queryset: Any, status: str) -> None:
        reason = request.POST.get("reason", "")
        # Plain rows (no annotations) for the update.
        threads = Thread.objects.filter(pk__in=queryset.values("pk"))
        changed = self.set_thread_status(request, threads, status, reason)
        self.message_user(
            request,
            ngettext(
                "%(count)d thread is now %(status)s.",
                "%(count)d threads are now %(status)s.",
                changed,
            )
            % {"count": changed, "status": ThreadStatus(status).label.lower()},
            messages.SUCCESS,
        )

    @admin.action(description=_("Lock selected threads"), permissions=["change"])
    def lock_threads(self, request: HttpRequest, queryset: Any) -> None:
        self._status_action(request, queryset, ThreadStatus.LOCKED)

    @admin.action(description=_("Close selected threads"), permissions=["change"])
    def close_threads(self, request: HttpRequest, queryset: Any) -> None:
        self._status_action(request, queryset, ThreadStatus.CLOSED)

    @admin.action(description=_("Reopen selected threads"), permissions=["change"])
    def reopen_threads(self, request: HttpRequest, queryset: Any) -> None:
        self._status_action(request, queryset, ThreadStatus.ACTIVE)

    def status_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST ``status`` (and ``reason``): lock, close or reopen one thread."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(_("This thread does not exist."))
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        form = ThreadStatusForm(request.POST)
        if not form.is_valid():
            self.message_user(request, _("Unknown status."), messages.ERROR)
        else:
            status = form.cleaned_data["status"]
            threads = Thread.objects.filter(pk=obj.pk)
            if self.set_thread_status(request, threads, status, form.cleaned_data["reason"]):
                self.message_user(
                    request,
                    _("The thread is now %(status)s.")
                    % {"status": ThreadStatus(status).label.lower()},
                    messages.SUCCESS,
                )
        return HttpResponseRedirect(self._url("change", quote(obj.pk)))

    # export ---------------------------------------------------------------------

    def export_response(self, queryset: Any) -> HttpResponse:
        threads = Thread.objects.filter(pk__in=queryset.values("pk"))
        response = HttpResponse(export_threads(threads), content_type="application/json")
        filename = self.export_filename.format(now=timezone.localtime())
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response

    @admin.action(description=_("Export selected threads as JSON"), permissions=["view"])
    def export_json(self, request: HttpRequest, queryset: Any) -> HttpResponse:
        return self.export_response(queryset)

    def export_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self._get_readable(request, object_id)
        return self.export_response(Thread.objects.filter(pk=obj.pk))

    # deletion (with items, feedback, attachments and their files) ----------------

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> Any:
        """A summary instead of one line per item (a thread may hold 10,000 items)."""
        threads = list(objs)
        summary = count_thread_contents(Thread.objects.filter(pk__in=[t.pk for t in threads]))
        to_delete: list[Any] = [
            format_html('{}: <a href="{}">{}</a>', _("Thread"), self._url("change", t.pk), t)
            for t in threads[:100]
        ]
        if len(threads) > 100:
            to_delete.append(_("… and %(count)d more threads") % {"count": len(threads) - 100})
        model_count = {
            Thread._meta.verbose_name_plural: summary.threads,
            ThreadItem._meta.verbose_name_plural: summary.items,
            Attachment._meta.verbose_name_plural: summary.attachments,
        }
        perms_needed = set()
        if not self.has_delete_permission(request):
            perms_needed.add(str(Thread._meta.verbose_name))
        return to_delete, model_count, perms_needed, []

    def delete_model(self, request: HttpRequest, obj: Thread) -> None:
        delete_threads([obj.pk])

    def delete_queryset(self, request: HttpRequest, queryset: Any) -> None:
        delete_threads(Thread.objects.filter(pk__in=queryset.values("pk")))
