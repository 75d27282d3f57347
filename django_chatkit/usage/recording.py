"""Recording what each answer cost: :func:`record_usage`, the one call a server makes.

::

    await record_usage(context, thread.id, "gpt-4.1-mini", response.usage, duration)

``usage`` is what the model reported, in any of the shapes the OpenAI and Agents SDKs
use (``agents.Usage``, a Responses ``ResponseUsage``, a Chat Completions
``CompletionUsage``, a dict of the same names) or a :class:`UsageCounts`. One call
writes the answer's :class:`~django_chatkit.models.Usage` row and raises the day's
:class:`~django_chatkit.models.DailyUsage`, in one transaction; with
``CHATKIT_USAGE_LIMITS`` it also sends ``usage_threshold_crossed`` when the answer
takes the user past a threshold. Servers on openai-agents call
:func:`django_chatkit.usage.stream_agent` instead, which records by itself.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.cache import caches
from django.db import IntegrityError, models, transaction
from django.utils import timezone

from django_chatkit import signals
from django_chatkit.conf import conf
from django_chatkit.db import run_db
from django_chatkit.managers import Owner
from django_chatkit.models import DailyUsage, Thread, Usage
from django_chatkit.usage.quotas import Allowance, allowances_for, local_day, totals

COUNTERS = (
    "requests",
    "input_tokens",
    "cached_input_tokens",
    "output_tokens",
    "reasoning_tokens",
    "total_tokens",
)
THRESHOLD_KEY_PREFIX = "django_chatkit:usage:threshold"


def _get(source: Any, name: str) -> int:
    value = source.get(name) if isinstance(source, dict) else getattr(source, name, None)
    return int(value or 0)


@dataclass(frozen=True)
class UsageCounts:
    """The counters of one answer (``total_tokens``: input plus output, if not given)."""

    requests: int = 0
    input_tokens: int = 0
    cached_input_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    total_tokens: int = 0

    def __post_init__(self) -> None:
        if not self.total_tokens:
            object.__setattr__(self, "total_tokens", self.input_tokens + self.output_tokens)

    @classmethod
    def of(cls, usage: Any) -> UsageCounts:
        """The counts of ``usage``, whichever SDK reported it (see the module)."""
        if isinstance(usage, UsageCounts):
            return usage
        if usage is None:
            return cls()
        input_tokens = _get(usage, "input_tokens") or _get(usage, "prompt_tokens")
        output_tokens = _get(usage, "output_tokens") or _get(usage, "completion_tokens")
        input_details = _detail(usage, "input_tokens_details", "prompt_tokens_details")
        output_details = _detail(usage, "output_tokens_details", "completion_tokens_details")
        return cls(
            # A single model response reports no request count: it was one request.
            requests=_get(usage, "requests") if _has(usage, "requests") else 1,
            input_tokens=input_tokens,
            cached_input_tokens=_get(input_details, "cached_tokens"),
            output_tokens=output_tokens,
            reasoning_tokens=_get(output_details, "reasoning_tokens"),
            total_tokens=_get(usage, "total_tokens") or input_tokens + output_tokens,
        )

    def is_empty(self) -> bool:
        return not any(getattr(self, name) for name in COUNTERS)


def _has(source: Any, name: str) -> bool:
    return name in source if isinstance(source, dict) else hasattr(source, name)


def _detail(source: Any, *names: str) -> Any:
    for name in names:
        value = source.get(name) if isinstance(source, dict) else getattr(source, name, None)
        if value is not None:
            return value
    return {}


@dataclass(frozen=True)
class Crossing:
    """An answer took the user's usage past ``threshold`` of ``allowance``."""

    allowance: Allowance
    threshold: float
    used: int
    period_start: Any


def _raise_daily(owner: Owner, day: Any, model: str, counts: UsageCounts, duration: float) -> None:
    key = {"user_id": owner.user_id, "scope": owner.scope, "day": day, "model": model}
    increments: dict[str, Any] = {name: models.F(name) + getattr(counts, name) for name in COUNTERS}
    increments.update(answers=models.F("answers") + 1, duration=models.F("duration") + duration)
    if DailyUsage.objects.filter(**key).update(**increments):
        return
    try:
        with transaction.atomic():  # a savepoint: another answer may create it first
            DailyUsage.objects.create(
                **key, answers=1, duration=duration, **{n: getattr(counts, n) for n in COUNTERS}
            )
    except IntegrityError:
        DailyUsage.objects.filter(**key).update(**increments)


def save_usage(
    owner: Owner,
    thread_id: str | None,
    model: str,
    counts: UsageCounts,
    duration: float = 0.0,
    *,
    item_id: str = "",
    cancelled: bool = False,
    now: datetime | None = None,
) -> tuple[Usage, list[Crossing]]:
    """Write one answer's usage and raise its day's aggregate, in one transaction (sync:
    :func:`record_usage` runs it in a worker thread). Returns the row and the thresholds
    this answer crossed (with ``CHATKIT_USAGE_LIMITS``)."""
    now = timezone.now() if now is None else now
    day = local_day(now)
    with transaction.atomic():
        thread = Thread.objects.owned_by(owner).pk_of(thread_id) if thread_id else None
        row = Usage.objects.create(
            **owner.columns(),
            thread_id=thread,
            item_chatkit_id=item_id,
            model=model[:255],
            cancelled=cancelled,
            created_at=now,
            duration=duration,
            **{name: getattr(counts, name) for name in COUNTERS},
        )
        _raise_daily(owner, day, model[:255], counts, duration)
        crossings = []
        if conf.CHATKIT_USAGE_LIMITS is not None and counts.total_tokens:
            checked = allowances_for(owner.scope)
            thresholds = conf.CHATKIT_USAGE_THRESHOLDS
            for allowance, used in zip(checked, totals(owner.user_id, checked, day), strict=True):
                before = used - counts.total_tokens
                crossings += [
                    Crossing(allowance, threshold, used, allowance.start(day))
                    for threshold in thresholds
                    if before < threshold * allowance.tokens <= used
                ]
    return row, crossings


async def record_usage(
    context: Any,
    thread_id: str | None,
    model: str,
    usage: Any,
    duration: float = 0.0,
    *,
    item_id: str = "",
    cancelled: bool = False,
) -> Usage | None:
    """Record what one answer of ``context``'s user cost (see the module): ``thread_id``
    the ChatKit id of the thread (``None`` for work outside a thread), ``model`` its name,
    ``usage`` the tokens, ``duration`` seconds. Nothing is written for empty usage
    (``None`` is returned)."""
    counts = UsageCounts.of(usage)
    if counts.is_empty():
        return None
    owner = Owner.of(context)
    row, crossings = await run_db(
        save_usage,
        owner,
        thread_id,
        model,
        counts,
        duration,
        item_id=item_id,
        cancelled=cancelled,
    )
    for crossing in crossings:
        await _announce(context, owner, crossing)
    return row


async def _announce(context: Any, owner: Owner, crossing: Crossing) -> None:
    """Send ``usage_threshold_crossed`` once per user, allowance, period and threshold:
    the shared cache's ``add()`` lets one worker through."""
    allowance = crossing.allowance
    key = ":".join(
        str(part)
        for part in (
            THRESHOLD_KEY_PREFIX,
            owner.user_id,
            "*" if allowance.scope is None else allowance.scope,
            allowance.period,
            crossing.period_start.isoformat(),
            crossing.threshold,
        )
    )
    timeout = 32 * 86400 if allowance.period == "month" else 2 * 86400
    if not await caches[conf.CHATKIT_RATE_LIMIT_CACHE].aadd(key, 1, timeout=timeout):
        return
    await signals.usage_threshold_crossed.asend(
        sender=Usage,
        user=context.user,
        scope=allowance.scope,
        period=allowance.period,
        threshold=crossing.threshold,
        used=crossing.used,
        limit=allowance.tokens,
        context=context,
    )
