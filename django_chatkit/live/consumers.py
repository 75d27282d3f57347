"""The WebSocket that tells an open chat when its threads change (Django Channels).

:class:`LiveUpdatesConsumer` accepts a socket only from a page of this site (the
``Origin`` must match ``ALLOWED_HOSTS``, read at each connection) and only for a user
logged in through the session (``channels.auth.AuthMiddlewareStack``). It then joins the
user's own group (:func:`django_chatkit.live.user_group`): the user hears about their
threads and nobody else's. Each notification is one JSON message::

    {"type": "thread.updated", "thread_id": "thr_...", "scope": ""}

The page reacts by fetching the thread's new items through the ChatKit endpoint
(``static/django_chatkit/live.js`` calls ChatKit's ``fetchUpdates()``). A client may send
``{"type": "ping"}`` and gets ``{"type": "pong"}``; anything else is ignored.
"""

from __future__ import annotations

import logging
from typing import Any
from urllib.parse import urlparse

from channels.generic.websocket import AsyncJsonWebsocketConsumer
from channels.security.websocket import OriginValidator
from django.conf import settings

from django_chatkit.live.updates import user_group

logger = logging.getLogger("django_chatkit")


def origin_allowed(scope: dict[str, Any]) -> bool:
    """Whether the handshake's ``Origin`` is a host of ``ALLOWED_HOSTS`` (as channels'
    ``AllowedHostsOriginValidator`` decides, but reading the setting now)."""
    allowed_hosts = list(settings.ALLOWED_HOSTS)
    if settings.DEBUG and not allowed_hosts:
        allowed_hosts = ["localhost", "127.0.0.1", "[::1]"]
    origin = None
    for name, value in scope.get("headers", []):
        if name == b"origin":
            try:
                origin = urlparse(value.decode("latin1"))
            except (UnicodeDecodeError, ValueError):
                return False
    return OriginValidator(None, allowed_hosts).valid_origin(origin)


class LiveUpdatesConsumer(AsyncJsonWebsocketConsumer):  # type: ignore[misc]  # untyped channels
    """Notifies a logged-in user's open chats of changes to their threads."""

    group_name: str | None = None

    async def connect(self) -> None:
        if not origin_allowed(self.scope):
            await self.close()
            return
        user = self.scope.get("user")
        if user is None:
            logger.error(
                "The ChatKit live updates socket has no user: wrap the websocket routes "
                "in channels.auth.AuthMiddlewareStack."
            )
            await self.close()
            return
        if not user.is_authenticated:
            await self.close()
            return
        if self.channel_layer is None:
            logger.error(
                "CHANNEL_LAYERS is not configured: the ChatKit live updates socket is refused."
            )
            await self.close()
            return
        self.group_name = user_group(user.pk)
        await self.channel_layer.group_add(self.group_name, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.group_name is not None and self.channel_layer is not None:
            await self.channel_layer.group_discard(self.group_name, self.channel_name)

    async def receive(
        self, text_data: str | None = None, bytes_data: bytes | None = None, **kwargs: Any
    ) -> None:
        try:
            content = await self.decode_json(text_data) if text_data else None
        except ValueError:  # not JSON: ignored like any other unknown message
            return
        if isinstance(content, dict) and content.get("type") == "ping":
            await self.send_json({"type": "pong"})

    async def chatkit_thread_updated(self, event: dict[str, Any]) -> None:
        await self.send_json(
            {"type": "thread.updated", "thread_id": event["thread_id"], "scope": event["scope"]}
        )
