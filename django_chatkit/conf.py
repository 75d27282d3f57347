"""Settings of django_chatkit.

Every setting is a flat ``CHATKIT_*`` name in the project's settings module and is read
through :data:`conf` on every access, so ``override_settings`` works everywhere. A value
derived from a setting and cached (the server instance, compiled SQL) is forgotten by a
``setting_changed`` receiver beside its cache: this module imports nothing of the package.
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
    # Most attachments one user message may carry (400 above it; the widget is told).
    "CHATKIT_MAX_ATTACHMENTS_PER_MESSAGE": 10,
    # Most characters of text one user message may hold: its text and tag parts plus
    # the quoted text (413 above it).
    "CHATKIT_MAX_MESSAGE_CHARS": 100_000,
    # Per-user limit on requests that start a response (the streaming operations):
    # "<count>/<period>" with period s, m, h or d (e.g. "30/m"), or a (count, seconds)
    # tuple. Fixed windows counted in Django's cache; above it: 429 with Retry-After.
    # None: no limit.
    "CHATKIT_RATE_LIMIT": None,
    # Per-user limit on attachment uploads, same syntax: a direct upload counts when it
    # is received, a two-phase upload when attachments.create registers it. None: no limit.
    "CHATKIT_UPLOAD_RATE_LIMIT": None,
    # Alias in CACHES of the cache that counts both limits (shared by all
    # workers in production: Redis or Memcached, not the per-process LocMemCache).
    "CHATKIT_RATE_LIMIT_CACHE": "default",
    # Usage and cost -----------------------------------------------------------------
    # Token allowances per user, checked before a response starts (429 quota_exceeded
    # with Retry-After above one): {"tokens_per_day": N, "tokens_per_month": M} counts a
    # user's tokens (input + output) in every scope; "scopes": {"support": {...}} adds
    # allowances counted in one scope only. Days and months of TIME_ZONE. None: no limit.
    "CHATKIT_USAGE_LIMITS": None,
    # Fractions of an allowance at which the usage_threshold_crossed signal is sent, once
    # per user, allowance and period.
    "CHATKIT_USAGE_THRESHOLDS": (0.8, 1.0),
    # The {% chatkit %} template tag -------------------------------------------------
    # Domain key of the ChatKit UI: register your domain at
    # https://platform.openai.com/settings/organization/security/domain-allowlist and
    # set the key it gives you. "local-dev" is accepted on localhost.
    "CHATKIT_DOMAIN_KEY": "local-dev",
    # Where the browser loads the ChatKit web component from (OpenAI's CDN).
    "CHATKIT_SCRIPT_URL": "https://cdn.platform.openai.com/deployments/chatkit/chatkit.js",
    # Path (or ws:// / wss:// URL) of the live updates WebSocket, e.g. "/chatkit/live/"
    # once asgi.py routes django_chatkit.routing: {% chatkit %} then keeps a socket open
    # and refreshes the chat when the server pushes to it. None: no socket.
    "CHATKIT_LIVE_URL": None,
    # Attachments ---------------------------------------------------------------------
    # Alias in STORAGES of the storage that holds attachment bytes.
    "CHATKIT_ATTACHMENT_STORAGE": "default",
    # Folder (key prefix) inside that storage; file names below it are random.
    "CHATKIT_ATTACHMENT_PATH_PREFIX": "chatkit/attachments/",
    # Largest attachment accepted, in bytes (413 above it).
    "CHATKIT_ATTACHMENT_MAX_BYTES": 20 * 1024 * 1024,
    # MIME types users may attach ("type/*" allows a whole family). Images are verified
    # by their content; PNG, JPEG, GIF and WebP become image attachments with previews.
    "CHATKIT_ATTACHMENT_ALLOWED_TYPES": (
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "application/pdf",
        "text/plain",
        "text/markdown",
        "text/csv",
        "application/json",
    ),
    # Seconds a signed preview/download URL stays valid (re-signed whenever loaded).
    "CHATKIT_ATTACHMENT_URL_MAX_AGE": 3600,
    # Seconds a two-phase upload URL (ours or a presigned S3 PUT) stays valid.
    "CHATKIT_UPLOAD_URL_MAX_AGE": 900,
    # How the widget uploads: "direct" (one multipart POST to our upload view) or
    # "two_phase" (attachments.create, then an upload to the returned URL).
    "CHATKIT_UPLOAD_STRATEGY": "direct",
    # Two-phase uploads go straight to the bucket (presigned PUT) when the attachment
    # storage is django-storages' S3Storage; otherwise through our upload view.
    "CHATKIT_S3_PRESIGNED_UPLOADS": False,
    # Absolute URL of the site (e.g. "https://chat.example.com"), to build attachment
    # URLs outside a request; inside one, the request's host is used.
    "CHATKIT_ATTACHMENT_BASE_URL": None,
    # Default of `chatkit_cleanup --older-than`: age in seconds after which uploads never
    # sent in a message are deleted.
    "CHATKIT_ATTACHMENT_CLEANUP_AGE": 24 * 3600,
    # Durable answers ---------------------------------------------------------------
    # When the client goes away without pressing Stop (tab closed, reload), the answer
    # runs on to its end and is stored; Stop sends an explicit cancel. A server class
    # may override it with its ``durable_responses`` attribute. False: a disconnect
    # cancels the answer.
    "CHATKIT_DURABLE_RESPONSES": False,
    # Seconds between two checkpoints of an answer in progress whose client went away
    # (its text so far, saved so that a reloaded page shows it); five times that while
    # the client still reads the stream.
    "CHATKIT_CHECKPOINT_INTERVAL": 1.0,
    # Seconds between two heartbeats of a worker running answers; an answer whose worker
    # missed three is marked interrupted and its thread takes new messages again.
    "CHATKIT_RESPONSE_HEARTBEAT": 5.0,
    # Seconds a worker told to stop (SIGTERM) lets running answers finish before it
    # cancels them (their partial answers saved).
    "CHATKIT_SHUTDOWN_GRACE": 10.0,
    # Most answers running at once for one user, and in one worker process (429 above).
    "CHATKIT_MAX_RUNNING_PER_USER": 3,
    "CHATKIT_MAX_RUNNING_PER_WORKER": 100,
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

    @property
    def CHATKIT_MAX_ATTACHMENTS_PER_MESSAGE(self) -> int:
        return int(self._get("CHATKIT_MAX_ATTACHMENTS_PER_MESSAGE"))

    @property
    def CHATKIT_MAX_MESSAGE_CHARS(self) -> int:
        return int(self._get("CHATKIT_MAX_MESSAGE_CHARS"))

    @property
    def CHATKIT_RATE_LIMIT(self) -> tuple[int, int] | None:
        """``(count, seconds)``, or ``None`` for no limit; ``ValueError`` if malformed."""
        return parse_rate(self._get("CHATKIT_RATE_LIMIT"))

    @property
    def CHATKIT_UPLOAD_RATE_LIMIT(self) -> tuple[int, int] | None:
        """``(count, seconds)``, or ``None`` for no limit; ``ValueError`` if malformed."""
        return parse_rate(self._get("CHATKIT_UPLOAD_RATE_LIMIT"))

    @property
    def CHATKIT_RATE_LIMIT_CACHE(self) -> str:
        return str(self._get("CHATKIT_RATE_LIMIT_CACHE"))

    @property
    def CHATKIT_USAGE_LIMITS(self) -> dict[str, Any] | None:
        return self._get("CHATKIT_USAGE_LIMITS") or None

    @property
    def CHATKIT_USAGE_THRESHOLDS(self) -> tuple[float, ...]:
        return tuple(sorted(float(t) for t in self._get("CHATKIT_USAGE_THRESHOLDS")))

    @property
    def CHATKIT_DOMAIN_KEY(self) -> str:
        return str(self._get("CHATKIT_DOMAIN_KEY"))

    @property
    def CHATKIT_SCRIPT_URL(self) -> str:
        return str(self._get("CHATKIT_SCRIPT_URL"))

    @property
    def CHATKIT_LIVE_URL(self) -> str | None:
        return self._get("CHATKIT_LIVE_URL") or None

    @property
    def CHATKIT_ATTACHMENT_STORAGE(self) -> str:
        return str(self._get("CHATKIT_ATTACHMENT_STORAGE"))

    @property
    def CHATKIT_ATTACHMENT_PATH_PREFIX(self) -> str:
        return str(self._get("CHATKIT_ATTACHMENT_PATH_PREFIX"))

    @property
    def CHATKIT_ATTACHMENT_MAX_BYTES(self) -> int:
        return int(self._get("CHATKIT_ATTACHMENT_MAX_BYTES"))

    @property
    def CHATKIT_ATTACHMENT_ALLOWED_TYPES(self) -> tuple[str, ...]:
        return tuple(t.strip().lower() for t in self._get("CHATKIT_ATTACHMENT_ALLOWED_TYPES"))

    @property
    def CHATKIT_ATTACHMENT_URL_MAX_AGE(self) -> int:
        return int(self._get("CHATKIT_ATTACHMENT_URL_MAX_AGE"))

    @property
    def CHATKIT_UPLOAD_URL_MAX_AGE(self) -> int:
        return int(self._get("CHATKIT_UPLOAD_URL_MAX_AGE"))

    @property
    def CHATKIT_UPLOAD_STRATEGY(self) -> str:
        return str(self._get("CHATKIT_UPLOAD_STRATEGY"))

    @property
    def CHATKIT_S3_PRESIGNED_UPLOADS(self) -> bool:
        return bool(self._get("CHATKIT_S3_PRESIGNED_UPLOADS"))

    @property
    def CHATKIT_ATTACHMENT_BASE_URL(self) -> str | None:
        return self._get("CHATKIT_ATTACHMENT_BASE_URL") or None

    @property
    def CHATKIT_ATTACHMENT_CLEANUP_AGE(self) -> int:
        return int(self._get("CHATKIT_ATTACHMENT_CLEANUP_AGE"))

    @property
    def CHATKIT_DURABLE_RESPONSES(self) -> bool:
        return bool(self._get("CHATKIT_DURABLE_RESPONSES"))

    @property
    def CHATKIT_CHECKPOINT_INTERVAL(self) -> float:
        return float(self._get("CHATKIT_CHECKPOINT_INTERVAL"))

    @property
    def CHATKIT_RESPONSE_HEARTBEAT(self) -> float:
        return float(self._get("CHATKIT_RESPONSE_HEARTBEAT"))

    @property
    def CHATKIT_SHUTDOWN_GRACE(self) -> float:
        return float(self._get("CHATKIT_SHUTDOWN_GRACE"))

    @property
    def CHATKIT_MAX_RUNNING_PER_USER(self) -> int:
        return int(self._get("CHATKIT_MAX_RUNNING_PER_USER"))

    @property
    def CHATKIT_MAX_RUNNING_PER_WORKER(self) -> int:
        return int(self._get("CHATKIT_MAX_RUNNING_PER_WORKER"))


conf = ChatKitSettings()

RATE_PERIODS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def parse_rate(value: Any) -> tuple[int, int] | None:
    """``"30/m"`` or ``(30, 60)`` as ``(count, seconds)``; ``None``/``""`` as ``None``.

    Raises ``ValueError`` for anything else (a count below 1, an unknown period...).
    """
    if value is None or value == "":
        return None
    if isinstance(value, str):
        count_text, sep, period = value.replace(" ", "").partition("/")
        if not sep or period.lower() not in RATE_PERIODS or not count_text.isdigit():
            raise ValueError(f"{value!r} is not '<count>/<s|m|h|d>'")
        count, seconds = int(count_text), RATE_PERIODS[period.lower()]
    elif isinstance(value, (tuple, list)) and len(value) == 2:
        if not all(isinstance(part, int) and not isinstance(part, bool) for part in value):
            raise ValueError(f"{value!r} is not a (count, seconds) pair of integers")
        count, seconds = value
    else:
        raise ValueError(f"{value!r} is not '<count>/<period>' or (count, seconds)")
    if count < 1 or seconds < 1:
        raise ValueError(f"{value!r}: count and seconds must be at least 1")
    return count, seconds
