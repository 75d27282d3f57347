"""One Redis connection pool per process for Django's ``RedisCache`` under ASGI.

Django gives each request (each thread, each asyncio task) its own cache object, and
each ``RedisCache`` object builds its own redis-py connection pool: under ASGI every
request opens a new Redis connection (Django ticket #35651). With ``cached_db`` sessions
or a Redis rate-limit cache that is a TCP connect and a handshake per request; on the
benchmark machine it cost more than the session lookup itself. Name this pool class in
the cache's ``OPTIONS`` and every cache object with the same location and options shares
one pool::

    CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": "redis://127.0.0.1:6379/0",
            "OPTIONS": {"pool_class": "django_chatkit.redis_pool.SharedConnectionPool"},
        }
    }

redis-py's pools are thread-safe and notice a ``fork()``; the connections are closed
when the process exits.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar

from redis import ConnectionPool


class SharedConnectionPool(ConnectionPool):
    """A redis-py ``ConnectionPool`` whose :meth:`from_url` returns one pool per URL and
    options in the whole process."""

    _shared: ClassVar[dict[str, ConnectionPool]] = {}
    _shared_lock: ClassVar[threading.Lock] = threading.Lock()

    @classmethod
    def from_url(cls, url: str, **kwargs: Any) -> Any:
        # The options come from settings: the same objects for every cache object.
        key = repr((cls, url, sorted(kwargs.items())))
        pool = cls._shared.get(key)
        if pool is None:
            with cls._shared_lock:
                pool = cls._shared.get(key)
                if pool is None:
                    pool = cls._shared[key] = super().from_url(url, **kwargs)
        return pool
