"""Live daphne processes with WebSocket clients, for the live-update tests.

Servers come from :mod:`tests.support.live` (this run's test database, real session cookies);
here they also get a real ``ALLOWED_HOSTS`` (so origins are checked) and, optionally, a
Redis channel layer shared with other processes. Sockets use the ``websockets`` client.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import redis
from django.conf import settings
from django.test import Client
from websockets.sync.client import ClientConnection, connect

from tests.support.live import HOST, LiveServer, server_env, start_server, stop_server

REDIS_URL = "redis://127.0.0.1:6379/0"
SOCKET_PATH = "/chatkit/live/"


def start_daphne(directory: Path, **extra_env: str) -> LiveServer:
    (directory / "media").mkdir(parents=True, exist_ok=True)
    env = server_env(directory / "media")
    env.update(CHATKIT_TEST_ALLOWED_HOSTS=HOST, **extra_env)
    return start_server("daphne", env, directory / f"daphne-{uuid.uuid4().hex[:6]}.log")


def redis_layer_env() -> dict[str, str]:
    """Environment (and settings) of a Redis channel layer no other test run shares."""
    return {
        "CHATKIT_TEST_REDIS_URL": REDIS_URL,
        "CHATKIT_TEST_REDIS_PREFIX": f"django_chatkit_test_{uuid.uuid4().hex[:12]}",
    }


def redis_channel_layers(env: dict[str, str]) -> dict[str, Any]:
    return {
        "default": {
            "BACKEND": "channels_redis.core.RedisChannelLayer",
            "CONFIG": {
                "hosts": [env["CHATKIT_TEST_REDIS_URL"]],
                "prefix": env["CHATKIT_TEST_REDIS_PREFIX"],
            },
        }
    }


def delete_redis_keys(prefix: str) -> None:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        keys = list(client.scan_iter(f"{prefix}*"))
        if keys:
            client.delete(*keys)
    finally:
        client.close()


def session_cookie(user: Any) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


def open_socket(
    server: LiveServer, user: Any = None, *, origin: str | None = "same"
) -> ClientConnection:
    """A WebSocket to the live updates route; ``origin="same"`` is the server's own."""
    headers = {}
    if user is not None:
        headers["Cookie"] = f"{settings.SESSION_COOKIE_NAME}={session_cookie(user)}"
    return connect(
        f"ws://{HOST}:{server.port}{SOCKET_PATH}",
        origin=server.base_url if origin == "same" else origin,  # type: ignore[arg-type]
        additional_headers=headers,
        open_timeout=10,
    )


def receive(socket: ClientConnection, timeout: float = 10.0) -> dict[str, Any]:
    return json.loads(socket.recv(timeout=timeout))


def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.05)


@contextlib.contextmanager
def servers(directory: Path, count: int, **extra_env: str) -> Iterator[list[LiveServer]]:
    """``count`` daphne processes with the same settings; stopped afterwards."""
    with ThreadPoolExecutor(count) as pool:  # start (and stop) them side by side
        futures = [
            pool.submit(start_daphne, directory / str(index), **extra_env) for index in range(count)
        ]
        try:
            yield [future.result() for future in futures]
        finally:
            for future in futures:
                if future.exception() is None:
                    pool.submit(stop_server, future.result())
