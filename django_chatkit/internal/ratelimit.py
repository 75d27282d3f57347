"""The optional per-user limit on requests that start a response (``CHATKIT_RATE_LIMIT``).

Fixed windows counted in Django's cache (``CHATKIT_RATE_LIMIT_CACHE``): the window of
``seconds`` a request falls in has one counter per user, created with ``add()`` and
raised with ``incr()``, both atomic in Redis, Memcached and the database cache, so
every worker process shares the count. A request over the limit raises
:class:`RateLimited`, answered ``429`` with ``Retry-After`` (seconds until the window
ends) and counted no further.
"""

from __future__ import annotations

import math
import time
from typing import Any

from django.core.cache import caches

from ..conf import conf

KEY_PREFIX = "django_chatkit:rate"


class RateLimited(Exception):
    """The user sent more than ``CHATKIT_RATE_LIMIT`` allows; retry in ``retry_after`` s."""

    status = 429
    code = "rate_limited"

    def __init__(self, count: int, seconds: int, retry_after: int) -> None:
        super().__init__(
            f"Too many messages: at most {count} per {_period(seconds)}. "
            f"Try again in {retry_after} seconds."
        )
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


def _period(seconds: int) -> str:
    names = {1: "second", 60: "minute", 3600: "hour", 86400: "day"}
    return names.get(seconds, f"{seconds} seconds")


async def check_rate_limit(user: Any, now: float | None = None) -> None:
    """Count one request of ``user``; raise :class:`RateLimited` once over the limit.

    Does nothing without ``CHATKIT_RATE_LIMIT`` or without a user id.
    """
    rate = conf.CHATKIT_RATE_LIMIT
    user_id = getattr(user, "pk", None)
    if rate is None or user_id is None:
        return
    count, seconds = rate
    now = time.time() if now is None else now
    window = int(now // seconds)
    key = f"{KEY_PREFIX}:{user_id}:{seconds}:{window}"
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
        raise RateLimited(count, seconds, retry_after)
