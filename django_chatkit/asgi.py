"""The lean path: the protocol endpoint served beside Django's handler, as Channels serves
WebSockets beside it.

Django's handler runs the project's middleware for every request; under ASGI each
synchronous middleware costs two thread hops, in a thread started for each request, and
``request_started``/``request_finished`` two more: 40-50% of the endpoint's throughput.
:class:`ChatKitRouter` wraps the project's ASGI application and sends ``POST`` requests
for a :class:`~django_chatkit.views.ChatKitView` of the URLconf straight to that view;
everything else (other paths, other methods, uploads, files, the admin) goes to Django::

    # asgi.py
    from django.core.asgi import get_asgi_application

    django_asgi_app = get_asgi_application()

    from django_chatkit.asgi import ChatKitRouter  # noqa: E402

    application = ChatKitRouter(django_asgi_app)

The view is the same code on both paths (its ``get_context()`` hook, limits, errors,
logging, streaming and Stop handling); this module only does what the view needs from
the middleware it skips: the session and the user (lazily, as ``SessionMiddleware`` and
``AuthenticationMiddleware`` do; the view reads both and checks CSRF in one worker-thread
hop), the request's language when ``LocaleMiddleware`` is installed, and the
``ALLOWED_HOSTS`` check. Reading the body, the disconnect that cancels a stream (Stop)
and writing the response are Django's own ``ASGIHandler`` code.

Not done on this path: the project's other middleware (security headers, custom
middleware), and the ``request_started`` signal (the view closes the database
connections it uses itself). As on Django's path, ``request_finished`` is sent when the
response is closed, and an answer of 400 or more is logged on ``django.request``. See the
README's production notes.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, cast

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib import auth
from django.core.exceptions import RequestAborted
from django.core.handlers.asgi import ASGIHandler, get_script_prefix
from django.core.handlers.base import BaseHandler
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.urls import Resolver404, ResolverMatch, get_resolver, get_urlconf, set_script_prefix
from django.utils import translation
from django.utils.functional import SimpleLazyObject
from django.utils.log import log_response
from django.utils.module_loading import import_string

from django_chatkit.db import run_db
from django_chatkit.exceptions import failure_response
from django_chatkit.views import LEAN_ATTRIBUTE, AttachmentUploadView, ChatKitView

__all__ = ["ChatKitRouter"]

LOCALE_MIDDLEWARE = "django.middleware.locale.LocaleMiddleware"

# ASGI's scope and callables, typed as Django's ASGIHandler takes them.
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Mapping[str, Any]]]
Send = Callable[[Mapping[str, Any]], Awaitable[None]]


def lean_match(path: str) -> ResolverMatch | None:
    """The URLconf's match of ``path`` if it is a ChatKit protocol endpoint (a
    ``ChatKitView``, not an upload view), else ``None``."""
    try:
        match = get_resolver(get_urlconf()).resolve(path)
    except Resolver404:
        return None
    view_class = getattr(match.func, "view_class", None)
    if (
        isinstance(view_class, type)
        and issubclass(view_class, ChatKitView)
        and not issubclass(view_class, AttachmentUploadView)
    ):
        return match
    return None


def path_info(scope: Scope) -> str:
    """The path the URLconf resolves: the request's path without the script prefix
    (``FORCE_SCRIPT_NAME`` or the ASGI ``root_path``), as ``ASGIRequest`` computes it."""
    path: str = scope["path"]
    prefix = get_script_prefix(scope)
    return path.removeprefix(prefix) if prefix else path


class _Matches:
    """``lean_match()`` per path, remembered (a bounded number of paths; cleared when
    the URLconf changes)."""

    maximum = 256

    def __init__(self) -> None:
        self._by_path: dict[str, ResolverMatch | None] = {}

    def get(self, path: str) -> ResolverMatch | None:
        try:
            return self._by_path[path]
        except KeyError:
            match = lean_match(path)
            if len(self._by_path) < self.maximum:  # paths come from clients: bounded
                self._by_path[path] = match
            return match

    def clear(self) -> None:
        self._by_path.clear()


_matches = _Matches()


@receiver(setting_changed, dispatch_uid="django_chatkit.asgi.urlconf")
def _forget_matches(setting: str, **kwargs: Any) -> None:
    if setting == "ROOT_URLCONF":
        _matches.clear()


class ChatKitRouter(ASGIHandler):
    """An ASGI application: ``POST`` to a ChatKit endpoint goes straight to its view,
    every other request to ``application`` (the project's, e.g. ``get_asgi_application()``
    or a Channels ``ProtocolTypeRouter``)."""

    def __init__(self, application: Any) -> None:
        BaseHandler.__init__(self)  # no middleware chain: this path has none
        self.application = application

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            match = _matches.get(path_info(scope))
            if match is not None:
                await self.serve(match, scope, receive, send)
                return
        await self.application(scope, receive, send)

    async def serve(
        self,
        match: ResolverMatch,
        scope: Scope,
        receive: Receive,
        send: Send,
    ) -> None:
        """``ASGIHandler.handle()`` without what the lean path leaves out: no
        ``ThreadSensitiveContext`` (a thread per request; the view's hops go to worker
        threads, :func:`~django_chatkit.db.run_db`), no ``request_started``."""
        try:
            body_file = await self.read_body(receive)
        except RequestAborted:
            return
        set_script_prefix(get_script_prefix(scope))
        request, response = self.create_request(scope, body_file)
        if request is None:  # Django's answer to a request it cannot build
            assert response is not None
            body_file.close()
            await self.send_response(response, send)
            return
        request.resolver_match = match
        setattr(request, LEAN_ATTRIBUTE, True)

        async def respond() -> HttpResponseBase:
            response = await self.get_response_async(request)
            with contextlib.suppress(asyncio.CancelledError):  # the client went away
                await self.send_response(response, send)
            return response

        # As Django's handler: a disconnect while the view works or streams cancels it
        # (the Stop button).
        responding = asyncio.create_task(respond())
        disconnect = asyncio.create_task(self.listen_for_disconnect(receive))
        await asyncio.wait([disconnect, responding], return_when=asyncio.FIRST_COMPLETED)
        for task in (disconnect, responding):
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, RequestAborted):
                await task
        if not responding.cancelled() and responding.exception() is None:
            # As Django's handler: close() (which sends request_finished) off the loop.
            await run_db(responding.result().close)
        body_file.close()

    async def get_response_async(self, request: HttpRequest) -> HttpResponseBase:
        """The view's response (the view answers its own errors, this path's as it
        would); an answer of 400 or more logged as Django's handler logs it
        (``django.request``, whose errors a project may mail to its admins)."""
        try:
            response = await self.view_response(request)
        except Exception as exc:  # a Host not allowed (400), or a fault of this path (500)
            response = failure_response(exc, "ChatKit lean path failed")
        if response.status_code >= 400:
            await sync_to_async(log_response, thread_sensitive=False)(
                "%s: %s",
                response.reason_phrase,
                request.path,
                # Django logs any response; django-stubs says HttpResponse.
                response=cast(HttpResponse, response),
                request=request,
            )
        return response

    async def view_response(self, request: HttpRequest) -> HttpResponseBase:
        """What the skipped middleware would have given the view, then the view."""
        request.get_host()  # ALLOWED_HOSTS, as CommonMiddleware checks it: DisallowedHost
        engine = import_string(settings.SESSION_ENGINE)
        request.session = engine.SessionStore(request.COOKIES.get(settings.SESSION_COOKIE_NAME))
        # A lazy proxy of the user, as AuthenticationMiddleware sets it (typed as the user).
        request.user = SimpleLazyObject(lambda: auth.get_user(request))  # type: ignore[assignment]
        if LOCALE_MIDDLEWARE in settings.MIDDLEWARE:
            language = translation.get_language_from_request(request)
            translation.activate(language)
            request.LANGUAGE_CODE = translation.get_language()
        match = request.resolver_match
        assert match is not None
        response: HttpResponseBase = await match.func(request, *match.args, **match.kwargs)
        return response
