"""``ChatKitClient``: the sync twin of :class:`~django_chatkit.testing.client.AsyncChatKitClient`.

Each method runs its async twin to the end of the answer (a stream included) with
``async_to_sync``, from the test's thread: the ORM calls Django makes on that thread
(sessions, middleware) see what the test's thread sees.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from asgiref.sync import async_to_sync
from django.db import connections

from django_chatkit.testing.client import AsyncChatKitClient

__all__ = ["ChatKitClient"]


def _blocking(method: Callable[..., Any]) -> Callable[..., Any]:
    """The sync twin of an ``AsyncChatKitClient`` method."""

    @functools.wraps(method)
    def call(self: ChatKitClient, *args: Any, **kwargs: Any) -> Any:
        self._refuse_uncommitted()
        return async_to_sync(method)(self._async, *args, **kwargs)

    return call


class ChatKitClient:
    """The sync twin of :class:`AsyncChatKitClient`: the same methods, each run to the
    end of its answer (a stream included) before it returns.

    ``ChatKitClient(client=None, *, path=None)`` goes through Django's test client;
    ``ChatKitClient.live(url)`` to a running server.
    """

    def __init__(self, client: Any = None, *, path: str | None = None) -> None:
        self._async = AsyncChatKitClient(client, path=path)

    @classmethod
    def live(cls, url: str, *, timeout: float = 30.0) -> ChatKitClient:
        """A client of the endpoint at ``url`` of a running server."""
        client = cls.__new__(cls)
        client._async = AsyncChatKitClient.live(url, timeout=timeout)
        return client

    @property
    def endpoint(self) -> str:
        return self._async.endpoint

    @property
    def is_live(self) -> bool:
        return self._async.is_live

    def _refuse_uncommitted(self) -> None:
        """The endpoint reads the database from other threads (or another process): a
        test transaction's rows are invisible there. Say so, instead of a puzzling 401."""
        if any(c.in_atomic_block for c in connections.all(initialized_only=True)):
            raise RuntimeError(
                "ChatKitClient needs committed data: the endpoint's store queries the "
                "database from other threads. Use pytest-django's transactional_db (or "
                "@pytest.mark.django_db(transaction=True), or TransactionTestCase)."
            )

    force_login = _blocking(AsyncChatKitClient.force_login)
    login = _blocking(AsyncChatKitClient.login)
    logout = _blocking(AsyncChatKitClient.logout)
    send = _blocking(AsyncChatKitClient.send)
    create_thread = _blocking(AsyncChatKitClient.create_thread)
    add_user_message = _blocking(AsyncChatKitClient.add_user_message)
    add_client_tool_output = _blocking(AsyncChatKitClient.add_client_tool_output)
    add_structured_input = _blocking(AsyncChatKitClient.add_structured_input)
    retry = _blocking(AsyncChatKitClient.retry)
    custom_action = _blocking(AsyncChatKitClient.custom_action)
    sync_custom_action = _blocking(AsyncChatKitClient.sync_custom_action)
    list_threads = _blocking(AsyncChatKitClient.list_threads)
    get_thread = _blocking(AsyncChatKitClient.get_thread)
    list_items = _blocking(AsyncChatKitClient.list_items)
    update = _blocking(AsyncChatKitClient.update)
    delete = _blocking(AsyncChatKitClient.delete)
    feedback = _blocking(AsyncChatKitClient.feedback)
    create_attachment = _blocking(AsyncChatKitClient.create_attachment)
    delete_attachment = _blocking(AsyncChatKitClient.delete_attachment)
    transcribe = _blocking(AsyncChatKitClient.transcribe)
    upload = _blocking(AsyncChatKitClient.upload)
