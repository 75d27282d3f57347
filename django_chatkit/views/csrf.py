"""Session authentication for the views: the session's user and Django's CSRF check.

The views are ``csrf_exempt`` and check CSRF themselves, for session-authenticated
requests only, so that a refusal is a JSON ``403`` instead of Django's HTML page.
"""

from __future__ import annotations

from typing import Any, cast

from asgiref.sync import sync_to_async
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.middleware.csrf import CsrfViewMiddleware


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request: HttpRequest, reason: str) -> Any:
        return reason


def _csrf_failure(request: HttpRequest) -> str | None:
    check = _CsrfCheck(lambda request: HttpResponse())
    check.process_request(request)
    # No view is needed (None); _reject() makes the answer the reason instead of a 403.
    reason = check.process_view(request, None, (), {})  # type: ignore[arg-type]
    return cast("str | None", reason)


async def csrf_failure_reason(request: HttpRequest) -> str | None:
    """Why Django's CSRF protection refuses ``request``, or ``None`` if it passes."""
    if settings.CSRF_USE_SESSIONS:  # reads the session: not from async code
        return await sync_to_async(_csrf_failure)(request)
    return _csrf_failure(request)


def session_user(request: HttpRequest) -> tuple[Any, str | None]:
    """The session's user and, if logged in, why CSRF refuses the request (or ``None``).

    Synchronous, for one thread hop: the session row, the user row and the CSRF check
    (which may read the session) in one call, where ``await request.auser()`` and the
    check take a hop each.
    """
    user = request.user
    if not user.is_authenticated:
        return user, None
    return user, _csrf_failure(request)
