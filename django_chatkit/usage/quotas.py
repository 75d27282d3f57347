"""Token allowances per user (``CHATKIT_USAGE_LIMITS``), checked before a response starts.

An allowance is a number of tokens (input plus output) a user may use per day or per
month (``TIME_ZONE``'s days and months), counted in every scope or in one scope only::

    CHATKIT_USAGE_LIMITS = {
        "tokens_per_day": 200_000,
        "tokens_per_month": 2_000_000,
        "scopes": {"support": {"tokens_per_day": 20_000}},
    }

Usage is counted in the database (:class:`~django_chatkit.models.DailyUsage`, raised by
every recorded answer), so every worker sees the same totals; a check is one query, and
none without the setting. A user over an allowance gets
:class:`~django_chatkit.exceptions.QuotaExceeded`: ``429 quota_exceeded`` with
``Retry-After``, the seconds until the period ends.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models.functions import Coalesce
from django.utils import timezone

from django_chatkit.conf import conf
from django_chatkit.exceptions import QuotaExceeded
from django_chatkit.models import DailyUsage

PERIODS = {"tokens_per_day": "day", "tokens_per_month": "month"}


@dataclass(frozen=True)
class Allowance:
    """``tokens`` a user may use per ``period`` (``"day"`` or ``"month"``), in ``scope``
    (``None``: in every scope together)."""

    period: str
    tokens: int
    scope: str | None = None

    def start(self, day: date) -> date:
        """The first day of the period ``day`` falls in."""
        return day if self.period == "day" else day.replace(day=1)

    def end(self, day: date) -> date:
        """The first day of the next period."""
        if self.period == "day":
            return day + timedelta(days=1)
        return (day.replace(day=28) + timedelta(days=4)).replace(day=1)

    def describe(self) -> str:
        when = "today" if self.period == "day" else "this month"
        return when if self.scope is None else f"{when} in {self.scope!r}"


def _parse(limits: Any, scope: str | None) -> list[Allowance]:
    if not isinstance(limits, dict):
        raise ValueError(f"{limits!r} is not a dict of allowances")
    allowances = []
    for name, value in limits.items():
        if name == "scopes" and scope is None:
            if not isinstance(value, dict):
                raise ValueError(f"'scopes' must be a dict of scope names, not {value!r}")
            for scope_name, scoped in value.items():
                allowances += _parse(scoped, str(scope_name))
        elif name in PERIODS:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive number of tokens, not {value!r}")
            allowances.append(Allowance(PERIODS[name], value, scope))
        else:
            expected = ", ".join([*PERIODS, *(["scopes"] if scope is None else [])])
            raise ValueError(f"unknown key {name!r} (expected {expected})")
    return allowances


def allowances() -> list[Allowance]:
    """Every allowance of ``CHATKIT_USAGE_LIMITS`` (``ValueError`` if it is malformed)."""
    limits = conf.CHATKIT_USAGE_LIMITS
    return [] if limits is None else _parse(limits, None)


def allowances_for(scope: str) -> list[Allowance]:
    """The allowances that count a request in ``scope``."""
    return [a for a in allowances() if a.scope is None or a.scope == scope]


def local_day(now: datetime | None = None) -> date:
    """The day (of ``TIME_ZONE``) ``now`` falls on: usage rows and allowances count by it."""
    now = timezone.now() if now is None else now
    if timezone.is_naive(now):
        return now.date()
    return timezone.localtime(now, timezone.get_default_timezone()).date()


def seconds_until(day: date, now: datetime | None = None) -> int:
    """Whole seconds from ``now`` until midnight starting ``day`` (of ``TIME_ZONE``)."""
    now = timezone.now() if now is None else now
    midnight = datetime.combine(day, datetime.min.time())
    if settings.USE_TZ:
        midnight = timezone.make_aware(midnight, timezone.get_default_timezone())
    elif timezone.is_aware(now):
        now = timezone.make_naive(now)
    return max(1, math.ceil((midnight - now).total_seconds()))


def used_query(user_id: Any, checked: list[Allowance], day: date) -> models.QuerySet[DailyUsage]:
    """The user's usage rows of every period of ``checked`` (the scope is filtered per
    allowance in :func:`totals`)."""
    earliest = min(allowance.start(day) for allowance in checked)
    return DailyUsage.objects.filter(user_id=user_id, day__gte=earliest, day__lte=day)


def _sums(checked: list[Allowance], day: date) -> dict[str, Any]:
    sums = {}
    for index, allowance in enumerate(checked):
        condition = models.Q(day__gte=allowance.start(day))
        if allowance.scope is not None:
            condition &= models.Q(scope=allowance.scope)
        sums[f"a{index}"] = Coalesce(models.Sum("total_tokens", filter=condition), 0)
    return sums


def totals(user_id: Any, checked: list[Allowance], day: date) -> list[int]:
    """Tokens the user used in each allowance's period so far, in one query."""
    if not checked:
        return []
    row = used_query(user_id, checked, day).aggregate(**_sums(checked, day))
    return [int(row[f"a{index}"]) for index in range(len(checked))]


async def atotals(user_id: Any, checked: list[Allowance], day: date) -> list[int]:
    """:func:`totals` from async code (one statement)."""
    if not checked:
        return []
    row = await used_query(user_id, checked, day).aaggregate(**_sums(checked, day))
    return [int(row[f"a{index}"]) for index in range(len(checked))]


async def check_usage_limits(context: Any, now: datetime | None = None) -> None:
    """Raise ``QuotaExceeded`` if the user of ``context`` used up an allowance that counts
    in ``context.scope``. One query; none without ``CHATKIT_USAGE_LIMITS`` or a user."""
    if conf.CHATKIT_USAGE_LIMITS is None:
        return
    user_id = getattr(getattr(context, "user", None), "pk", None)
    if user_id is None:
        return
    scope = getattr(context, "scope", "")
    checked = allowances_for(scope)
    day = local_day(now)
    over = [
        (allowance, used)
        for allowance, used in zip(checked, await atotals(user_id, checked, day), strict=True)
        if used >= allowance.tokens
    ]
    if not over:
        return
    # The allowance that frees up last decides when to come back.
    allowance, used = max(over, key=lambda pair: pair[0].end(day))
    retry_after = seconds_until(allowance.end(day), now)
    raise QuotaExceeded(
        f"You have used {used:,} of your {allowance.tokens:,} tokens {allowance.describe()}. "
        f"Try again in {_duration(retry_after)}.",
        retry_after=retry_after,
    )


def _duration(seconds: int) -> str:
    if seconds >= 2 * 86400:
        return f"{round(seconds / 86400)} days"
    if seconds >= 2 * 3600:
        return f"{round(seconds / 3600)} hours"
    if seconds >= 120:
        return f"{round(seconds / 60)} minutes"
    return f"{seconds} seconds"
