"""The ChatKit protocol endpoint.

``ChatKitView`` is an ``async`` view: it authenticates the request, builds the
:class:`~django_chatkit.context.ChatKitContext`, hands the body to the project's
server and returns JSON or a Server-Sent Events stream. Every failure is a JSON error
(``{"error": code, "message": text}``), never a traceback.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field
from typing import Any

from asgiref.sync import sync_to_async
from chatkit import types as ck
from chatkit.server import NonStreamingResult
from chatkit.store import NotFoundError
from django.conf import settings
from django.core.exceptions import PermissionDenied, RequestDataTooBig
from django.core.handlers.asgi import ASGIRequest
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.utils import translation
from django.utils.decorators import classonlymethod
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from pydantic import TypeAdapter, ValidationError

from .conf import conf
from .context import ChatKitContext
from .internal.preflight import ThreadNotActive, preflight
from .internal.streaming import EventStream, EventStreamResponse
from .server import get_server

logger = logging.getLogger("django_chatkit")

REQUEST_ADAPTER: TypeAdapter[ck.ChatKitReq] = TypeAdapter(ck.ChatKitReq)


def error_response(status: int, code: str, message: str, **headers: str) -> JsonResponse:
    response = JsonResponse({"error": code, "message": message}, status=status)
    for name, value in headers.items():
        response.headers[name] = value
    return response


def describe_validation_error(exc: ValidationError) -> str:
    """A short, input-free description of what is wrong with a request body."""
    parts = []
    for error in exc.errors(include_url=False, include_context=False, include_input=False)[:5]:
        location = ".".join(str(part) for part in error["loc"])
        parts.append(f"{location}: {error['msg']}" if location else error["msg"])
    if exc.error_count() > 5:
        parts.append(f"and {exc.error_count() - 5} more errors")
    return "; ".join(parts)


class _CsrfCheck(CsrfViewMiddleware):
    def _reject(self, request: HttpRequest, reason: str) -> Any:
        return reason


def _csrf_failure(request: HttpRequest) -> str | None:
    check = _CsrfCheck(lambda request: HttpResponse())
    check.process_request(request)
    return check.process_view(request, None, (), {})  # type: ignore[arg-type]


async def csrf_failure_reason(request: HttpRequest) -> str | None:
    """Why Django's CSRF protection refuses ``request``, or ``None`` if it passes."""
    if settings.CSRF_USE_SESSIONS:  # reads the session: not from async code
        return await sync_to_async(_csrf_failure)(request)
    return _csrf_failure(request)


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
        ``PermissionDenied`` to answer 403.
        """
        user = await request.auser()
        if not user.is_authenticated:
            return None
        reason = await csrf_failure_reason(request)
        if reason is not None:
            raise PermissionDenied(f"CSRF verification failed: {reason}")
        return ChatKitContext(
            user=user,
            request=request,
            scope=self.scope,
            language=getattr(request, "LANGUAGE_CODE", None) or translation.get_language(),
        )

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        response = error_response(
            405, "method_not_allowed", f"{request.method} is not allowed; use POST.", Allow="POST"
        )

        async def respond() -> HttpResponse:
            return response

        return respond()

    async def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
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
        except RequestDataTooBig:
            response = error_response(
                413, "request_too_large", "The request body is larger than this site accepts."
            )
        except Exception:
            logger.exception("ChatKit request failed (op=%s)", log.op)
            response = error_response(500, "internal_error", "An unexpected error occurred.")
        if not isinstance(response, EventStreamResponse):  # streams log when they end
            log.emit(response.status_code)
        return response

    async def _handle(self, request: HttpRequest, log: _RequestLog) -> HttpResponse:
        try:
            context = await self.get_context(request)
        except PermissionDenied as exc:
            return error_response(403, "forbidden", str(exc) or "Permission denied.")
        if context is None:
            return error_response(401, "not_authenticated", "Authentication required.")
        log.user_id = getattr(context.user, "pk", None)

        limit = conf.CHATKIT_MAX_REQUEST_BYTES
        try:
            declared = int(request.headers.get("Content-Length") or 0)
        except ValueError:
            declared = 0
        body = b"" if declared > limit else request.read(limit + 1)
        if declared > limit or len(body) > limit:
            return error_response(
                413, "request_too_large", f"The request body exceeds {limit} bytes."
            )

        try:
            parsed = REQUEST_ADAPTER.validate_json(body)
        except ValidationError as exc:
            return error_response(400, "invalid_request", describe_validation_error(exc))
        log.op = parsed.type
        log.thread_id = getattr(parsed.params, "thread_id", None)

        server = get_server()
        try:
            if ck.is_streaming_req(parsed):
                await preflight(server, parsed, context)
            result = await server.process(body, context)
        except NotFoundError as exc:
            return error_response(404, "not_found", str(exc) or "Not found.")
        except PermissionDenied as exc:
            return error_response(403, "forbidden", str(exc) or "Permission denied.")
        except ThreadNotActive as exc:
            return error_response(409, "thread_not_active", str(exc))
        except ValidationError as exc:
            return error_response(400, "invalid_request", describe_validation_error(exc))
        except NotImplementedError:
            return error_response(
                501, "not_implemented", f"This server does not support {parsed.type}."
            )
        except ValueError as exc:
            return error_response(400, "invalid_request", str(exc))

        if isinstance(result, NonStreamingResult):
            return HttpResponse(result.json, content_type="application/json")

        def finished(stream: EventStream) -> None:
            log.thread_id = stream.thread_id
            log.emit(200, stream.outcome)

        stream = EventStream(
            result,
            keepalive=conf.CHATKIT_SSE_KEEPALIVE,
            thread_id=log.thread_id,
            on_finish=finished,
        )
        return EventStreamResponse(stream)
