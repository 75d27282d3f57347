"""The ChatKit protocol endpoint.

``ChatKitView`` is an ``async`` view: it authenticates the request, builds the
:class:`~django_chatkit.context.ChatKitContext`, hands the body to the project's
server and returns JSON or a Server-Sent Events stream. Every failure is a JSON error
(``{"error": code, "message": text}``), never a traceback.
"""

from __future__ import annotations

import contextlib
import logging
import time
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from chatkit import types as ck
from chatkit.server import NonStreamingResult
from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.core.handlers.asgi import ASGIRequest
from django.db import close_old_connections
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch
from django.utils import translation
from django.utils.decorators import classonlymethod
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from pydantic import ValidationError

from django_chatkit.conf import conf
from django_chatkit.context import ChatKitContext, RequestReads
from django_chatkit.db import run_db
from django_chatkit.durable import is_durable
from django_chatkit.durable.runs import end_run, run_to_end, start_run
from django_chatkit.durable.worker import Run
from django_chatkit.exceptions import (
    InvalidRequest,
    MethodNotAllowed,
    NotAuthenticated,
    OperationNotImplemented,
    RequestTooLarge,
    error_response,
    failure_response,
)
from django_chatkit.server import get_server, parse_request, process_parsed
from django_chatkit.views.csrf import session_user
from django_chatkit.views.preflight import preflight
from django_chatkit.views.streaming import STREAM_OPTIONS_PREFIX, EventStream, EventStreamResponse

logger = logging.getLogger("django_chatkit")

#: ``True`` on the requests the lean path serves (:mod:`django_chatkit.asgi`): no
#: middleware ran for them.
LEAN_ATTRIBUTE = "chatkit_lean"


def declared_length(request: HttpRequest) -> int:
    """The request's ``Content-Length`` (``0`` if absent or not a number)."""
    try:
        return int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return 0


def login_url() -> str | None:
    """``settings.LOGIN_URL`` resolved, for the 401 answer (``None`` if it names a URL
    pattern that is absent)."""
    with contextlib.suppress(NoReverseMatch):
        return resolve_url(settings.LOGIN_URL)
    return None


@dataclass
class _RequestLog:
    """What is logged for each request (never message content)."""

    op: str = "-"
    user_id: Any = None
    thread_id: str | None = None
    started: float = field(default_factory=time.monotonic)

    def emit(self, status: int, outcome: str = "") -> None:
        duration_ms = (time.monotonic() - self.started) * 1000
        logger.info(
            "chatkit op=%s user=%s thread=%s status=%s%s duration_ms=%.1f",
            self.op,
            self.user_id,
            self.thread_id or "-",
            status,
            f" outcome={outcome}" if outcome else "",
            duration_ms,
            extra={
                "chatkit_op": self.op,
                "chatkit_user_id": self.user_id,
                "chatkit_thread_id": self.thread_id,
                "chatkit_status": status,
                "chatkit_outcome": outcome,
                "chatkit_duration_ms": duration_ms,
            },
        )


def read_body(request: HttpRequest) -> bytes:
    """The request body; :class:`~django_chatkit.exceptions.RequestTooLarge` over
    ``CHATKIT_MAX_REQUEST_BYTES`` (declared or sent)."""
    limit = conf.CHATKIT_MAX_REQUEST_BYTES
    declared = declared_length(request)
    body = b"" if declared > limit else request.read(limit + 1)
    if declared > limit or len(body) > limit:
        raise RequestTooLarge(f"The request body exceeds {limit} bytes.")
    return body


def parse_body(body: bytes) -> ck.ChatKitReq:
    """The ChatKit request in ``body``; :class:`~django_chatkit.exceptions.InvalidRequest`
    (400, naming what is wrong) if it does not validate."""
    try:
        return parse_request(body)
    except ValidationError as exc:
        raise InvalidRequest.from_validation_error(exc) from exc


_warned_wsgi = False


class ChatKitView(View):
    """The ChatKit protocol endpoint: ``POST`` a ChatKit request, get JSON or SSE back.

    Override :meth:`get_context` to authenticate differently (tokens, anonymous
    visitors); pass ``scope`` to ``as_view()`` to keep separate histories per assistant.
    """

    http_method_names = ["post"]
    scope: str = ""

    @classonlymethod
    def as_view(cls, **initkwargs: Any) -> Any:
        # CSRF is enforced in get_context() for session-authenticated requests, with a
        # JSON error instead of Django's HTML page.
        return csrf_exempt(super().as_view(**initkwargs))

    async def get_context(self, request: HttpRequest) -> ChatKitContext | None:
        """Return the request's context, or ``None`` when nobody is logged in (401).

        The default uses Django's session authentication and enforces CSRF. Raise
        ``PermissionDenied`` to answer 403 (or any
        :class:`~django_chatkit.exceptions.ChatKitError`).
        """
        user, reason = await run_db(session_user, request)
        if not user.is_authenticated:
            return None
        if reason is not None:
            raise PermissionDenied(f"CSRF verification failed: {reason}")
        return ChatKitContext(
            user=user,
            request=request,
            scope=self.scope,
            language=getattr(request, "LANGUAGE_CODE", None) or translation.get_language(),
        )

    async def authenticate(self, request: HttpRequest) -> ChatKitContext:
        """The request's context from :meth:`get_context`; raises
        :class:`~django_chatkit.exceptions.NotAuthenticated` (401) without one, whose
        ``login_url`` (``settings.LOGIN_URL``) tells a client such as
        ``manage.py chatkit_chat`` where to log in."""
        context = await self.get_context(request)
        if context is None:
            raise NotAuthenticated(login_url=login_url())
        return context

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        refusal = MethodNotAllowed(
            f"{request.method} is not allowed; use POST.", headers={"Allow": "POST"}
        )

        async def respond() -> HttpResponse:
            return error_response(refusal)

        return respond()

    async def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        global _warned_wsgi
        if not _warned_wsgi and not isinstance(request, ASGIRequest):
            _warned_wsgi = True
            logger.warning(
                "django_chatkit is served under WSGI: responses are buffered, not streamed, "
                "and the Stop button cannot cancel. Serve the project with an ASGI server "
                "(daphne or uvicorn)."
            )
        log = _RequestLog()
        try:
            response = await self._handle(request, log)
        except Exception as exc:  # the client's fault is its JSON answer, a bug 500
            response = failure_response(exc, "ChatKit request failed (op=%s)", log.op)
        if not isinstance(response, EventStreamResponse):  # streams log when they end
            log.emit(response.status_code)
        return response

    async def _handle(self, request: HttpRequest, log: _RequestLog) -> HttpResponseBase:
        context = await self.authenticate(request)
        log.user_id = getattr(context.user, "pk", None)
        body = read_body(request)
        parsed = parse_body(body)
        log.op = parsed.type
        log.thread_id = getattr(parsed.params, "thread_id", None)

        server = get_server()
        if ck.is_streaming_req(parsed) or isinstance(parsed, ck.ThreadsSyncCustomActionReq):
            context.reads = RequestReads()  # its checks and the SDK read the same rows
        await preflight(server, parsed, context)
        run = None
        if ck.is_streaming_req(parsed) and is_durable(server):
            run = await start_run(parsed, context)  # 503, 429 or 409 before it starts
        try:
            return await self._respond(request, server, parsed, body, context, log, run)
        except BaseException:
            if run is not None:
                if run.stream is None:  # no answer runs: release its thread
                    await end_run(run, context)
                else:  # the answer runs on without its client
                    run.stream.start()
            raise

    async def _respond(
        self,
        request: HttpRequest,
        server: Any,
        parsed: ck.ChatKitReq,
        body: bytes,
        context: ChatKitContext,
        log: _RequestLog,
        run: Run | None,
    ) -> HttpResponseBase:
        try:
            result = await process_parsed(server, parsed, body, context)
        except NotImplementedError as exc:
            raise OperationNotImplemented(f"This server does not support {parsed.type}.") from exc

        if isinstance(result, NonStreamingResult):
            return HttpResponse(result.json, content_type="application/json")

        def finished(stream: EventStream) -> None:
            log.thread_id = stream.thread_id
            log.emit(200, stream.outcome)

        stream = EventStream(
            result if run is None else run_to_end(result, run, context),
            keepalive=conf.CHATKIT_SSE_KEEPALIVE,
            thread_id=log.thread_id,
            on_finish=finished,
            cancellable_after=STREAM_OPTIONS_PREFIX,
            durable=run is not None,
        )
        if run is not None:
            run.stream = stream
            if run.cancel_requested:  # cancelled before the stream existed
                stream.cancel()
        if not getattr(request, LEAN_ATTRIBUTE, False):
            # The project's middleware may have used this request's own thread's
            # connection, which would otherwise stay open until the stream ends: let it go
            # now (the store opens what it needs, per call). Obsolete connections only, as
            # Django does at the end of a request: CONN_MAX_AGE = 0 or a pool releases it.
            # (The lean path runs no middleware: django_chatkit.asgi.)
            await sync_to_async(close_old_connections)()
        return EventStreamResponse(stream)
