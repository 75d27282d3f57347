"""Optional per-user rate limits: ``CHATKIT_RATE_LIMIT`` on requests that start a
response, ``CHATKIT_UPLOAD_RATE_LIMIT`` on attachment uploads.

Fixed windows counted in Django's cache (``CHATKIT_RATE_LIMIT_CACHE``): the window of
``seconds`` a request falls in has one counter per limit and user, created with
``add()`` and raised with ``incr()``, both atomic in Redis, Memcached and the database
cache, so every worker process shares the count. A request over a limit raises
:class:`~django_chatkit.exceptions.RateLimited`, answered ``429`` with ``Retry-After``
(seconds until the window ends) and counted no further.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from typing import Any

from django.core.cache import caches

from django_chatkit.conf import conf
from django_chatkit.exceptions import RateLimited

#: The clock the windows are cut from (seconds since the epoch; tests fix it).
wall_clock: Callable[[], float] = time.time

KEY_PREFIX = "django_chatkit:rate"
UPLOAD_KEY_PREFIX = "django_chatkit:rate:uploads"


def _period(seconds: int) -> str:
    names = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}
    return names.get(seconds, f"{seconds} seconds")


async def check_rate_limit(user: Any, now: float | None = None) -> None:
    """Count one request of ``user`` that starts a response; raise ``RateLimited``
    once over ``CHATKIT_RATE_LIMIT``. Does nothing without the setting or a user id."""
    await _count(conf.CHATKIT_RATE_LIMIT, KEY_PREFIX, "messages", user, now)


async def check_upload_rate_limit(user: Any, now: float | None = None) -> None:
    """Count one attachment upload of ``user``; raise ``RateLimited`` once over
    ``CHATKIT_UPLOAD_RATE_LIMIT``. Does nothing without the setting or a user id."""
    await _count(conf.CHATKIT_UPLOAD_RATE_LIMIT, UPLOAD_KEY_PREFIX, "uploads", user, now)


async def _count(
    rate: tuple[int, int] | None, prefix: str, what: str, user: Any, now: float | None
) -> None:
    user_id = getattr(user, "pk", None)
    if rate is None or user_id is None:
        return
    count, seconds = rate
    now = wall_clock() if now is None else now
    window = int(now // seconds)
    key = f"{prefix}:{user_id}:{seconds}:{window}"
    cache = caches[conf.CHATKIT_RATE_LIMIT_CACHE]
    # The counter outlives its window by a little: a late incr() still finds it.
    await cache.aadd(key, 0, timeout=seconds + 5)
    try:
        used = await cache.aincr(key)
    except ValueError:  # evicted between add() and incr(), or a cache that keeps nothing
        await cache.aadd(key, 1, timeout=seconds + 5)
        used = 1
    if used > count:
        retry_after = max(1, math.ceil((window + 1) * seconds - now))
        raise RateLimited(
            f"Too many {what}: at most {count} per {_period(seconds)}. "
            f"Try again in {retry_after} seconds.",
            retry_after=retry_after,
        )
