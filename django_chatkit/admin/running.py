"""Answers running now, in the admin (durable answers, :mod:`django_chatkit.durable`).

:class:`RunningAnswerAdminMixin` is part of :class:`~django_chatkit.admin.ThreadAdmin`:
an "Answering now" list filter (threads with a ``RunningResponse``), a badge in the
changelist and on the thread page (since when, on which worker), and "Stop the answer",
as an action and as a button on the thread page, which cancels through
:func:`~django_chatkit.durable.request_cancel` (the SDK's cancellation path: the partial
answer and the "cancelled" note are saved). Stopping needs the *change* permission.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from asgiref.sync import async_to_sync
from django.contrib import admin, messages
from django.contrib.admin.utils import quote, unquote
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied
from django.db import models
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext

from django_chatkit.durable import request_cancel
from django_chatkit.models import RunningResponse, Thread

if TYPE_CHECKING:
    _AdminBase = admin.ModelAdmin[Thread]
else:
    _AdminBase = object


class AnsweringNowFilter(admin.SimpleListFilter):
    """Threads whose answer runs now (a ``RunningResponse`` row), or not."""

    title = _("answering now")
    parameter_name = "answering"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, Any]]:
        return [("yes", _("Answering now")), ("no", _("Not answering"))]

    def queryset(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> Any:
        if self.value() == "yes":
            return queryset.filter(running_response__isnull=False)
        if self.value() == "no":
            return queryset.filter(running_response__isnull=True)
        return queryset


def running_of(thread: Thread) -> RunningResponse | None:
    """The thread's running answer: from ``select_related`` when the queryset had it
    (no query per row), else one query."""
    try:
        return thread.running_response
    except ObjectDoesNotExist:
        return None


def running_badge(running: RunningResponse | None) -> SafeString | None:
    """ "Answering" with since when and on which worker, or ``None``."""
    if running is None:
        return None
    since = timezone.localtime(running.started_at)
    return format_html(
        '<span class="ck-running" title="{}">{} <span class="ck-running-since">{}</span>'
        '<span class="ck-running-worker"> · {}</span></span>',
        _("The answer has run since %(since)s on worker %(worker)s.")
        % {"since": date_format(since, "DATETIME_FORMAT"), "worker": running.worker},
        _("Answering since"),
        date_format(since, "H:i:s"),
        running.worker,
    )


class RunningAnswerAdminMixin(_AdminBase):
    """The running answers of a ``ModelAdmin`` of :class:`Thread` (see the module).

    Relies on the admin's ``_url()`` (:class:`ThreadAdmin`)."""

    if TYPE_CHECKING:

        def _url(self, name: str, *args: Any) -> str: ...

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Thread]:
        # One LEFT JOIN: the badge column costs no query per row.
        return super().get_queryset(request).select_related("running_response")

    @admin.display(description=_("answering"), ordering="running_response__started_at")
    def answering(self, obj: Thread) -> SafeString | None:
        return running_badge(running_of(obj))

    def stop_answers(self, request: HttpRequest, threads: Any) -> int:
        """Cancel the running answers of ``threads``; how many were told to stop."""
        stopped = 0
        for thread in threads:
            if async_to_sync(request_cancel)(thread):
                stopped += 1
                self.log_change(request, thread, "Stopped the running answer")
        return stopped

    @admin.action(description=_("Stop the answer of selected threads"), permissions=["change"])
    def stop_running_answers(self, request: HttpRequest, queryset: Any) -> None:
        threads = Thread.objects.filter(
            pk__in=queryset.values("pk"), running_response__isnull=False
        )
        stopped = self.stop_answers(request, threads)
        self.message_user(
            request,
            ngettext(
                "%(count)d answer was told to stop.",
                "%(count)d answers were told to stop.",
                stopped,
            )
            % {"count": stopped},
            messages.SUCCESS if stopped else messages.WARNING,
        )

    def stop_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """POST: stop the thread's running answer (change permission)."""
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            raise Http404(_("This thread does not exist."))
        if not self.has_change_permission(request, obj):
            raise PermissionDenied
        if self.stop_answers(request, [obj]):
            self.message_user(request, _("The answer was told to stop."), messages.SUCCESS)
        else:
            self.message_user(request, _("No answer runs in this thread."), messages.WARNING)
        return HttpResponseRedirect(self._url("change", quote(obj.pk)))

    def running_context(self, request: HttpRequest, obj: Thread) -> dict[str, Any]:
        """Template context for the thread page's running answer box."""
        running = running_of(obj)
        return {
            "running_badge": running_badge(running),
            "running_can_stop": running is not None and self.has_change_permission(request, obj),
            "running_stop_url": self._url("stop", quote(obj.pk)),
        }
