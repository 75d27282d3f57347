"""Settings of django_chatkit.

Every setting is a flat ``CHATKIT_*`` name in the project's settings module and is read
through :data:`conf` on every access, so ``override_settings`` works everywhere. Values
derived from a setting (the imported server class) are cached and cleared when the
setting changes.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings

DEFAULTS: dict[str, Any] = {
    # Dotted path of the project's ChatKitServer subclass. Required.
    "CHATKIT_SERVER": None,
    # Largest request body the protocol endpoint accepts, in bytes (413 above it).
    "CHATKIT_MAX_REQUEST_BYTES": 2 * 1024 * 1024,
    # Largest page a client may ask for in threads.list and items.list.
    "CHATKIT_MAX_PAGE_SIZE": 100,
    # Seconds of silence after which a stream sends an SSE comment; 0 disables.
    "CHATKIT_SSE_KEEPALIVE": 15.0,
}


class ChatKitSettings:
    """Typed access to the ``CHATKIT_*`` settings, read from ``django.conf.settings``."""

    def _get(self, name: str) -> Any:
        return getattr(settings, name, DEFAULTS[name])

    @property
    def CHATKIT_SERVER(self) -> str | None:
        return self._get("CHATKIT_SERVER")

    @property
    def CHATKIT_MAX_REQUEST_BYTES(self) -> int:
        return int(self._get("CHATKIT_MAX_REQUEST_BYTES"))

    @property
    def CHATKIT_MAX_PAGE_SIZE(self) -> int:
        return int(self._get("CHATKIT_MAX_PAGE_SIZE"))

    @property
    def CHATKIT_SSE_KEEPALIVE(self) -> float:
        return float(self._get("CHATKIT_SSE_KEEPALIVE"))


conf = ChatKitSettings()


def clear_caches(*, setting: str, **kwargs: Any) -> None:
    """``setting_changed`` receiver: forget what was derived from a changed setting."""
    if setting == "CHATKIT_SERVER":
        from .server import get_server

        get_server.cache_clear()
