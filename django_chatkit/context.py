"""The per-request context handed to the store, the attachment store and ``respond()``."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.utils import translation

if TYPE_CHECKING:
    from django.contrib.auth.base_user import AbstractBaseUser
    from django.contrib.auth.models import AnonymousUser
    from django.http import HttpRequest


def _current_language() -> str:
    return translation.get_language() or settings.LANGUAGE_CODE


@dataclass
class ChatKitContext:
    """Who is asking, and for which conversation space.

    ``user`` owns every thread, item and attachment the store reads or writes.
    ``scope`` separates histories of the same user, e.g. one per assistant on a site
    (the store isolates by user *and* scope). ``language`` is the request's active
    language (Django i18n), for localized prompts and tool output. ``request`` is the
    Django request, or ``None`` outside a request (jobs, commands, tests).
    """

    user: AbstractBaseUser | AnonymousUser
    request: HttpRequest | None = None
    scope: str = ""
    language: str = field(default_factory=_current_language)
    extra: dict[str, Any] = field(default_factory=dict)
