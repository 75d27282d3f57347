"""``SharedConnectionPool``: Django's ``RedisCache`` objects of one process share their
Redis connections (without it, every asyncio task, so every ASGI request, opens its own:
Django ticket #35651). Against the real Redis on 127.0.0.1:6379."""

from __future__ import annotations

import asyncio
import uuid

import pytest
import redis
from django.core.cache import caches
from django.test import override_settings

from django_chatkit.redis_pool import SharedConnectionPool

REDIS_URL = "redis://127.0.0.1:6379/0"


def open_connections(client_name: str) -> int:
    return sum(1 for c in redis.Redis.from_url(REDIS_URL).client_list() if c["name"] == client_name)


def redis_cache(client_name: str, pool_class: str | None) -> dict:
    options = {"client_name": client_name}
    if pool_class:
        options["pool_class"] = pool_class
    return {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": client_name,
        "OPTIONS": options,
    }


async def use_the_cache_in_tasks(tasks: int) -> list:
    """What ASGI requests do: each task gets its own cache object from ``caches``."""

    async def request(n: int):
        cache = caches["redis"]
        await cache.aset(f"key-{n}", n)
        assert await cache.aget(f"key-{n}") == n
        return cache

    return await asyncio.gather(*(asyncio.create_task(request(n)) for n in range(tasks)))


@pytest.mark.parametrize(
    ("pool_class", "expected"),
    [
        (None, 12),  # Django's default: a pool, so a connection, per cache object
        ("django_chatkit.redis_pool.SharedConnectionPool", 1),
    ],
)
def test_cache_objects_of_one_process_share_one_connection(pool_class, expected):
    name = f"ck-pool-{uuid.uuid4().hex[:10]}"
    locmem = {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}
    with override_settings(CACHES={"default": locmem, "redis": redis_cache(name, pool_class)}):
        objects = asyncio.run(use_the_cache_in_tasks(12))
        assert len({id(cache) for cache in objects}) == 12  # one object per task
        assert open_connections(name) == expected


def test_one_pool_per_location_and_options():
    a = SharedConnectionPool.from_url(REDIS_URL, client_name="ck-a")
    assert SharedConnectionPool.from_url(REDIS_URL, client_name="ck-a") is a
    assert SharedConnectionPool.from_url(REDIS_URL, client_name="ck-b") is not a
    assert SharedConnectionPool.from_url("redis://127.0.0.1:6379/1", client_name="ck-a") is not a
    assert isinstance(a, redis.ConnectionPool)
