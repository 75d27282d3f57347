"""Usage in the admin: a thread's usage, a sortable usage column, and the usage overview.

:class:`ThreadUsageMixin` (part of ``ThreadAdmin``) adds a *tokens* column to the thread
changelist (one correlated subquery, sortable, no query per row) and a usage table (per
answer and total) to the thread page. :class:`UsageAdmin`, registered for
``DailyUsage``, replaces its changelist with the usage overview: tokens per day over the
last :attr:`UsageAdmin.overview_days` days as a bar chart and the top users, filterable
by scope, plus a CSV export per user and month (``export/``). Both read the daily
aggregates, which outlive purged threads and deleted users. Every view needs the
*view* permission on ``DailyUsage``.
"""

from __future__ import annotations

import csv
from datetime import timedelta
from typing import Any

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.db import models
from django.db.models.functions import Coalesce, TruncMonth
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _

from django_chatkit.admin.usage_chart import DayTotal, compact, daily_chart, top_users_bars
from django_chatkit.models import DailyUsage, Thread, Usage
from django_chatkit.usage.quotas import local_day

COUNTERS = (
    "answers",
    "requests",
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "total_tokens",
)


def _usage_subquery() -> Coalesce:
    """The thread's total tokens, as a correlated subquery (no JOIN)."""
    summed = (
        Usage.objects.filter(thread_id=models.OuterRef("pk"))
        .order_by()
        .values("thread_id")
        .annotate(n=models.Sum("total_tokens"))
        .values("n")[:1]
    )
    return Coalesce(models.Subquery(summed, output_field=models.BigIntegerField()), 0)


class ThreadUsageMixin:
    """The thread admin's usage: a ``usage_tokens`` column and the thread page's table."""

    usage_template = "admin/django_chatkit/thread/usage.html"

    def get_queryset(self, request: HttpRequest) -> models.QuerySet[Thread]:
        queryset: models.QuerySet[Thread] = super().get_queryset(request)  # type: ignore[misc]
        return queryset.annotate(usage_tokens=_usage_subquery())

    @admin.display(description=_("tokens"), ordering="usage_tokens")
    def usage_tokens(self, obj: Thread) -> str:
        return compact(getattr(obj, "usage_tokens", 0) or 0)

    def usage_context(self, request: HttpRequest, thread: Thread) -> dict[str, Any]:
        """The thread page's usage: each answer's row and their total (one query)."""
        rows = list(Usage.objects.filter(thread_id=thread.pk).order_by("created_at", "pk"))
        total = {name: sum(getattr(row, name) for row in rows) for name in COUNTERS[1:]}
        total["duration"] = sum(row.duration for row in rows)
        return {"usage_rows": rows, "usage_total": total, "usage_template": self.usage_template}


@admin.register(DailyUsage)
class UsageAdmin(admin.ModelAdmin):  # type: ignore[type-arg]
    """The usage overview (the changelist of ``DailyUsage``) and its CSV export."""

    overview_template = "admin/django_chatkit/usage/overview.html"
    #: Days the chart shows, ending today (``TIME_ZONE``'s days).
    overview_days = 30
    #: Users in the top users list.
    top_users = 10

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def get_urls(self) -> list[Any]:
        info = self.opts.app_label, self.opts.model_name
        return [
            path(
                "export/",
                self.admin_site.admin_view(self.export_view),
                name="{}_{}_export".format(*info),
            ),
            *super().get_urls(),
        ]

    def _check_view(self, request: HttpRequest) -> None:
        if not self.has_view_permission(request):
            raise PermissionDenied

    def scoped(self, request: HttpRequest) -> tuple[models.QuerySet[DailyUsage], str | None]:
        """The aggregates, of the scope named by ``?scope=`` if any."""
        queryset = DailyUsage.objects.all()
        scope = request.GET.get("scope")
        if scope is not None:
            queryset = queryset.filter(scope=scope)
        return queryset, scope

    def changelist_view(
        self, request: HttpRequest, extra_context: dict[str, Any] | None = None
    ) -> HttpResponse:
        self._check_view(request)
        queryset, scope = self.scoped(request)
        today = local_day()
        first = today - timedelta(days=self.overview_days - 1)
        recent = queryset.filter(day__gte=first, day__lte=today)
        sums = {
            "input_tokens": models.Sum("input_tokens"),
            "output_tokens": models.Sum("output_tokens"),
        }
        rows: Any = recent.values("day").annotate(**sums).order_by()
        per_day: dict[Any, tuple[int, int]] = {
            row["day"]: (int(row["input_tokens"] or 0), int(row["output_tokens"] or 0))
            for row in rows
        }
        days = [
            DayTotal(day, *per_day.get(day, (0, 0)))
            for day in (first + timedelta(days=n) for n in range(self.overview_days))
        ]
        username = f"user__{get_user_model().USERNAME_FIELD}"
        top = (
            recent.values("user_id", username)
            .annotate(tokens=models.Sum("total_tokens"))
            .order_by("-tokens", "user_id")[: self.top_users]
        )
        top_rows = [(row[username] or str(_("(deleted users)")), row["tokens"]) for row in top]
        scopes = sorted(DailyUsage.objects.values_list("scope", flat=True).distinct().order_by())
        context = {
            **self.admin_site.each_context(request),
            "title": _("Usage"),
            "subtitle": None,
            "opts": self.opts,
            "app_label": self.opts.app_label,
            "chart": daily_chart(days, str(_("Tokens per day"))),
            "top_users": top_users_bars(top_rows),
            "total_tokens": sum(day.total for day in days),
            "first_day": first,
            "last_day": today,
            "scope": scope,
            "scopes": scopes,
            "export_url": reverse(f"{self.admin_site.name}:django_chatkit_dailyusage_export"),
            **(extra_context or {}),
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.overview_template, context)

    def export_view(self, request: HttpRequest) -> HttpResponse:
        """CSV of usage per user and month (``?scope=`` filters), one query."""
        self._check_view(request)
        queryset, scope = self.scoped(request)
        username = f"user__{get_user_model().USERNAME_FIELD}"
        rows = (
            queryset.annotate(month=TruncMonth("day"))
            .values("month", "user_id", username)
            .annotate(**{name: models.Sum(name) for name in COUNTERS})
            .order_by("month", "user_id")
        )
        response = HttpResponse(content_type="text/csv; charset=utf-8")
        name = f"chatkit-usage{'-' + scope if scope else ''}.csv"
        response["Content-Disposition"] = f'attachment; filename="{name}"'
        writer = csv.writer(response)
        writer.writerow(["month", "user_id", "user", *COUNTERS])
        for row in rows:
            writer.writerow(
                [
                    row["month"].strftime("%Y-%m"),
                    row["user_id"] or "",
                    row[username] or "",
                    *(row[name] for name in COUNTERS),
                ]
            )
        return response
