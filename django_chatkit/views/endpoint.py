"""The ChatKit protocol endpoint.

``ChatKitView`` is an ``async`` view: it authenticates the request, builds the
:class:`~django_chatkit.context.ChatKitContext`, hands the body to the project's
server and returns JSON or a Server-Sent Events stream. Every failure is a JSON error
(``{"error": code, "message": text}``), never a traceback.
"""

from __future__ import annotations

import contextlib
import logging
import tempfile
import time
from dataclasses import dataclass, field
from typing import Any, cast

from asgiref.sync import sync_to_async
from chatkit import types as ck
from chatkit.server import NonStreamingResult
from chatkit.store import NotFoundError
from django.conf import settings
from django.core import signing
from django.core.exceptions import PermissionDenied
from django.core.files.storage import storages
from django.core.handlers.asgi import ASGIRequest
from django.db import close_old_connections
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
    StreamingHttpResponse,
)
from django.http.response import HttpResponseBase
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import resolve_url
from django.urls import NoReverseMatch
from django.utils import translation
from django.utils.decorators import classonlymethod
from django.utils.http import content_disposition_header
from django.views import View
from django.views.decorators.csrf import csrf_exempt
from pydantic import ValidationError

from django_chatkit.attachments import files
from django_chatkit.attachments.backend import AttachmentRejected, DjangoAttachmentStore
from django_chatkit.conf import conf
from django_chatkit.context import ChatKitContext, RequestReads
from django_chatkit.db import run_db
from django_chatkit.exceptions import error_response, failure_response
from django_chatkit.models import Attachment, UploadState
from django_chatkit.ratelimit import RateLimited
from django_chatkit.server import get_server, parse_request, process_parsed
from django_chatkit.views.preflight import RequestRefused, ThreadNotActive, preflight
from django_chatkit.views.streaming import STREAM_OPTIONS_PREFIX, EventStream, EventStreamResponse

logger = logging.getLogger("django_chatkit")

#: ``True`` on the requests the lean path serves (:mod:`django_chatkit.asgi`): no
#: middleware ran for them.
LEAN_ATTRIBUTE = "chatkit_lean"


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
    # No view is needed (None); _reject() makes the answer the reason instead of a 403.
    reason = check.process_view(request, None, (), {})  # type: ignore[arg-type]
    return cast("str | None", reason)


async def csrf_failure_reason(request: HttpRequest) -> str | None:
    """Why Django's CSRF protection refuses ``request``, or ``None`` if it passes."""
    if settings.CSRF_USE_SESSIONS:  # reads the session: not from async code
        return await sync_to_async(_csrf_failure)(request)
    return _csrf_failure(request)


def _session_user(request: HttpRequest) -> tuple[Any, str | None]:
    """The session's user and, if logged in, why CSRF refuses the request (or ``None``).

    Synchronous, for one thread hop: the session row, the user row and the CSRF check
    (which may read the session) in one call, where ``await request.auser()`` and the
    check take a hop each.
    """
    user = request.user
    if not user.is_authenticated:
        return user, None
    return user, _csrf_failure(request)


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
        user, reason = await run_db(_session_user, request)
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

    async def authenticate(self, request: HttpRequest) -> ChatKitContext | HttpResponse:
        """The request's context from :meth:`get_context`, or the 401/403 answer."""
        try:
            context = await self.get_context(request)
        except PermissionDenied as exc:
            return error_response(403, "forbidden", str(exc) or "Permission denied.")
        if context is None:
            return self.not_authenticated_response()
        return context

    def not_authenticated_response(self) -> JsonResponse:
        """The 401 answer; ``login_url`` (``settings.LOGIN_URL``, resolved) tells a client
        such as ``manage.py chatkit_chat`` where to log in."""
        body = {"error": "not_authenticated", "message": "Authentication required."}
        with contextlib.suppress(NoReverseMatch):  # LOGIN_URL names a pattern that is absent
            body["login_url"] = resolve_url(settings.LOGIN_URL)
        return JsonResponse(body, status=401)

    def http_method_not_allowed(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        response = error_response(
            405, "method_not_allowed", f"{request.method} is not allowed; use POST.", Allow="POST"
        )

        async def respond() -> HttpResponse:
            return response

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
        except Exception as exc:  # a body Django cannot parse is 400/413, a bug 500
            response = failure_response(exc, "ChatKit request failed (op=%s)", log.op)
        if not isinstance(response, EventStreamResponse):  # streams log when they end
            log.emit(response.status_code)
        return response

    async def _handle(self, request: HttpRequest, log: _RequestLog) -> HttpResponseBase:
        context = await self.authenticate(request)
        if isinstance(context, HttpResponse):
            return context
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
            parsed = parse_request(body)
        except ValidationError as exc:
            return error_response(400, "invalid_request", describe_validation_error(exc))
        log.op = parsed.type
        log.thread_id = getattr(parsed.params, "thread_id", None)

        server = get_server()
        try:
            if ck.is_streaming_req(parsed):
                context.reads = RequestReads()  # its checks and the SDK read the same rows
                await preflight(server, parsed, context)
            result = await process_parsed(server, parsed, body, context)
        except NotFoundError as exc:
            return error_response(404, "not_found", str(exc) or "Not found.")
        except PermissionDenied as exc:
            return error_response(403, "forbidden", str(exc) or "Permission denied.")
        except ThreadNotActive as exc:
            return error_response(409, "thread_not_active", str(exc))
        except (RequestRefused, RateLimited) as exc:  # limits: 400, 413, 429
            return error_response(exc.status, exc.code, str(exc), **exc.headers)
        except AttachmentRejected as exc:  # attachments.create: too large, type not allowed
            return error_response(exc.status, exc.code, str(exc))
        except ValidationError:
            # The body validated above: this is data the server read or built (e.g. a
            # stored payload an older SDK wrote), not the client's fault. 500, logged.
            raise
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
            cancellable_after=STREAM_OPTIONS_PREFIX,
        )
        if not getattr(request, LEAN_ATTRIBUTE, False):
            # The project's middleware may have used this request's own thread's
            # connection, which would otherwise stay open until the stream ends: let it go
            # now (the store opens what it needs, per call). Obsolete connections only, as
            # Django does at the end of a request: CONN_MAX_AGE = 0 or a pool releases it.
            # (The lean path runs no middleware: django_chatkit.asgi.)
            await sync_to_async(close_old_connections)()
        return EventStreamResponse(stream)


# attachments -------------------------------------------------------------------------

# Room for the multipart envelope around a file of the maximum size.
MULTIPART_OVERHEAD = 64 * 1024


def _declared_length(request: HttpRequest) -> int:
    try:
        return int(request.headers.get("Content-Length") or 0)
    except ValueError:
        return 0


def _too_large() -> JsonResponse:
    rejected = files.too_large()
    return error_response(rejected.status, rejected.code, str(rejected))


def _attachment_json(attachment: ck.Attachment) -> HttpResponse:
    body = attachment.model_dump_json(
        by_alias=True, exclude_none=True, context={"exclude_metadata": True}
    )
    return HttpResponse(body, content_type="application/json")


async def _uploaded_file(request: HttpRequest) -> Any:
    """The multipart ``file`` field, parsed in a worker thread (``None`` if absent)."""

    def parse() -> Any:
        return request.FILES.get("file")

    return await sync_to_async(parse, thread_sensitive=False)()


class AttachmentUploadView(ChatKitView):
    """Direct upload: ``POST`` ``multipart/form-data`` with a ``file`` field.

    Authenticated like the endpoint (:meth:`ChatKitView.get_context`: session cookie and
    CSRF header; override it the same way), answers the attachment's JSON, or ``413``
    (too large), ``415`` (type not allowed, or content not matching it), ``429``
    (``CHATKIT_UPLOAD_RATE_LIMIT``, with ``Retry-After``), ``400``.
    """

    async def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        try:
            return await self._upload(request)
        except (AttachmentRejected, RateLimited) as exc:
            return error_response(exc.status, exc.code, str(exc), **exc.headers)
        except Exception as exc:
            return failure_response(exc, "Attachment upload failed")

    async def _upload(self, request: HttpRequest) -> HttpResponse:
        # The body is parsed (in a worker thread) before authenticating: the CSRF check of
        # session auth reads the form. Django already holds the whole body anyway.
        if _declared_length(request) > conf.CHATKIT_ATTACHMENT_MAX_BYTES + MULTIPART_OVERHEAD:
            return _too_large()
        upload = await _uploaded_file(request)
        context = await self.authenticate(request)
        if isinstance(context, HttpResponse):
            return context
        if upload is None:
            return error_response(400, "invalid_request", "Send the file in a 'file' field.")
        server = get_server()
        attachment_store = server.attachment_store
        if not isinstance(attachment_store, DjangoAttachmentStore):
            return error_response(
                501, "not_implemented", "Direct uploads need DjangoAttachmentStore."
            )
        attachment = await attachment_store.upload(
            upload, context, name=upload.name, mime_type=upload.content_type, size=upload.size
        )
        await server.store.save_attachment(attachment, context)
        return _attachment_json(attachment)


def _read_raw_body(request: HttpRequest, limit: int) -> tuple[Any, int]:
    """Copy a raw request body into a temporary file, refusing more than ``limit`` bytes."""
    max_size = settings.FILE_UPLOAD_MAX_MEMORY_SIZE
    spool = tempfile.SpooledTemporaryFile(max_size=max_size)  # noqa: SIM115  (returned)
    size = 0
    try:
        while chunk := request.read(files.CHUNK_SIZE):
            size += len(chunk)
            if size > limit:
                raise files.too_large(size)
            spool.write(chunk)
    except BaseException:  # too large, or the connection broke (UnreadablePostError)
        spool.close()
        raise
    spool.seek(0)
    return spool, size


class AttachmentUploadURLView(View):
    """Two-phase upload: the URL ``attachments.create`` returned, for one attachment.

    The signed URL is the credential (owner's attachment, single use, expiring), so no
    cookie or CSRF token is needed; a request logged in as another user is refused.
    ``POST`` ``multipart/form-data`` with a ``file`` field (what ChatKit sends), or
    ``PUT`` the raw bytes.
    """

    http_method_names = ["post", "put"]

    @classonlymethod
    def as_view(cls, **initkwargs: Any) -> Any:
        return csrf_exempt(super().as_view(**initkwargs))

    async def post(self, request: HttpRequest, attachment_id: str, token: str) -> HttpResponse:
        return await self._receive(request, attachment_id, token, raw=False)

    async def put(self, request: HttpRequest, attachment_id: str, token: str) -> HttpResponse:
        return await self._receive(request, attachment_id, token, raw=True)

    async def _receive(
        self, request: HttpRequest, attachment_id: str, token: str, raw: bool
    ) -> HttpResponse:
        try:
            return await self._store(request, attachment_id, token, raw)
        except AttachmentRejected as exc:
            return error_response(exc.status, exc.code, str(exc))
        except NotFoundError as exc:
            return error_response(404, "not_found", str(exc) or "Not found.")
        except Exception as exc:
            return failure_response(exc, "Attachment upload failed")

    async def _store(
        self, request: HttpRequest, attachment_id: str, token: str, raw: bool
    ) -> HttpResponse:
        try:  # refuse forged and expired URLs before reading the body
            files.read_upload_token(token)
        except signing.SignatureExpired:
            return error_response(403, "upload_url_expired", "This upload URL has expired.")
        except (signing.BadSignature, KeyError, TypeError, ValueError):
            return error_response(403, "invalid_upload_url", "This upload URL is not valid.")
        limit = conf.CHATKIT_ATTACHMENT_MAX_BYTES
        if _declared_length(request) > limit + (0 if raw else MULTIPART_OVERHEAD):
            return _too_large()
        if raw:
            content, size = await sync_to_async(_read_raw_body, thread_sensitive=False)(
                request, limit
            )
        else:
            content = await _uploaded_file(request)
            if content is None:
                return error_response(400, "invalid_request", "Send the file in a 'file' field.")
            size = content.size
        attachment_store = get_server().attachment_store
        if not isinstance(attachment_store, DjangoAttachmentStore):
            attachment_store = DjangoAttachmentStore()
        try:
            attachment = await attachment_store.receive_upload(
                attachment_id, token, content, size, request
            )
        finally:
            content.close()
        return _attachment_json(attachment)


class AttachmentFileView(View):
    """Preview or download an attachment through a signed, expiring URL (no cookies:
    the ChatKit UI loads previews from an iframe of another origin).

    Images are served ``inline``, everything else as ``attachment``, always with
    ``X-Content-Type-Options: nosniff`` and a sandboxing CSP, streamed from the storage;
    from S3 the answer is a redirect to a short-lived presigned URL. A forged or expired
    signature answers ``403``, a deleted attachment ``404``.
    """

    http_method_names = ["get", "head"]

    async def get(self, request: HttpRequest, token: str) -> HttpResponseBase:
        return await self._answer(token, body=True)

    async def head(self, request: HttpRequest, token: str) -> HttpResponseBase:
        return await self._answer(token, body=False)

    async def _answer(self, token: str, body: bool) -> HttpResponseBase:
        try:
            return await self._serve(token, body)
        except Exception as exc:
            return failure_response(exc, "Serving an attachment failed")

    async def _serve(self, token: str, body: bool) -> HttpResponseBase:
        try:
            pk = files.read_file_token(token)
        except signing.SignatureExpired:
            return error_response(403, "url_expired", "This link has expired.")
        except (signing.BadSignature, KeyError, TypeError, ValueError):
            return error_response(403, "invalid_url", "This link is not valid.")
        row = await run_db(lambda: Attachment.objects.filter(pk=pk).first())
        if row is None or not row.file_name:
            return error_response(404, "not_found", "This file does not exist.")
        if row.upload_state == UploadState.PRESIGNED:
            try:
                row = await run_db(files.finalize_presigned, row)
            except (NotFoundError, AttachmentRejected):
                return error_response(404, "not_found", "This file has not been uploaded.")
        if row.upload_state == UploadState.PENDING:
            return error_response(404, "not_found", "This file has not been uploaded.")

        storage = storages[row.storage]
        disposition = content_disposition_header(not files.is_inline(row), row.name) or ""
        headers = {
            "X-Content-Type-Options": "nosniff",
            "Content-Disposition": disposition,
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "Cross-Origin-Resource-Policy": "cross-origin",
            "Access-Control-Allow-Origin": "*",
            "Referrer-Policy": "no-referrer",
        }
        if files.is_s3(storage):
            expire = min(300, conf.CHATKIT_ATTACHMENT_URL_MAX_AGE)
            url = await sync_to_async(files.presigned_get, thread_sensitive=False)(
                storage, row.file_name, files.served_type(row.mime_type), disposition, expire
            )
            response: HttpResponse = HttpResponseRedirect(url, headers=headers)
            response["Cache-Control"] = "no-store"
            return response

        content_type = files.served_type(row.mime_type)
        max_age = min(300, conf.CHATKIT_ATTACHMENT_URL_MAX_AGE)
        headers["Cache-Control"] = f"private, max-age={max_age}"
        if row.size is not None:
            headers["Content-Length"] = str(row.size)
        if not body:
            return HttpResponse(content_type=content_type, headers=headers)
        try:
            handle = await sync_to_async(storage.open, thread_sensitive=False)(row.file_name, "rb")
        except FileNotFoundError:
            return error_response(404, "not_found", "This file does not exist.")
        return StreamingHttpResponse(
            files.stream(handle), content_type=content_type, headers=headers
        )
