"""The attachment routes: direct uploads, two-phase upload URLs, previews and downloads.

Each answers the attachment's JSON or a file, and every failure as the endpoint does:
a :class:`~django_chatkit.exceptions.ChatKitError` answered by
:func:`~django_chatkit.exceptions.failure_response`, never a traceback.
"""

from __future__ import annotations

import tempfile
from typing import Any

from asgiref.sync import sync_to_async
from chatkit import types as ck
from chatkit.store import NotFoundError
from django.conf import settings
from django.core.files.storage import storages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, StreamingHttpResponse
from django.http.response import HttpResponseBase
from django.utils.decorators import classonlymethod
from django.utils.http import content_disposition_header
from django.views import View
from django.views.decorators.csrf import csrf_exempt

from django_chatkit.attachments import files
from django_chatkit.attachments.backend import DjangoAttachmentStore
from django_chatkit.conf import conf
from django_chatkit.db import run_db
from django_chatkit.exceptions import (
    AttachmentRejected,
    InvalidRequest,
    NotFound,
    OperationNotImplemented,
    failure_response,
)
from django_chatkit.models import Attachment, UploadState
from django_chatkit.server import get_server
from django_chatkit.views.endpoint import ChatKitView, declared_length

# Room for the multipart envelope around a file of the maximum size.
MULTIPART_OVERHEAD = 64 * 1024

NO_FILE_FIELD = "Send the file in a 'file' field."


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
        except Exception as exc:
            return failure_response(exc, "Attachment upload failed")

    async def _upload(self, request: HttpRequest) -> HttpResponse:
        # The body is parsed (in a worker thread) before authenticating: the CSRF check of
        # session auth reads the form. Django already holds the whole body anyway.
        if declared_length(request) > conf.CHATKIT_ATTACHMENT_MAX_BYTES + MULTIPART_OVERHEAD:
            raise files.too_large()
        upload = await _uploaded_file(request)
        context = await self.authenticate(request)
        if upload is None:
            raise InvalidRequest(NO_FILE_FIELD)
        server = get_server()
        attachment_store = server.attachment_store
        if not isinstance(attachment_store, DjangoAttachmentStore):
            raise OperationNotImplemented("Direct uploads need DjangoAttachmentStore.")
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
        except Exception as exc:
            return failure_response(exc, "Attachment upload failed")

    async def _store(
        self, request: HttpRequest, attachment_id: str, token: str, raw: bool
    ) -> HttpResponse:
        files.read_upload_token(token)  # refuse forged and expired URLs before the body
        limit = conf.CHATKIT_ATTACHMENT_MAX_BYTES
        if declared_length(request) > limit + (0 if raw else MULTIPART_OVERHEAD):
            raise files.too_large()
        if raw:
            content, size = await sync_to_async(_read_raw_body, thread_sensitive=False)(
                request, limit
            )
        else:
            content = await _uploaded_file(request)
            if content is None:
                raise InvalidRequest(NO_FILE_FIELD)
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
        pk = files.read_file_token(token)
        row = await run_db(lambda: Attachment.objects.filter(pk=pk).first())
        if row is None or not row.file_name:
            raise NotFound("This file does not exist.")
        if row.upload_state == UploadState.PRESIGNED:
            try:
                row = await run_db(files.finalize_presigned, row)
            except (NotFoundError, AttachmentRejected):
                raise NotFound("This file has not been uploaded.") from None
        if row.upload_state == UploadState.PENDING:
            raise NotFound("This file has not been uploaded.")

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
            raise NotFound("This file does not exist.") from None
        return StreamingHttpResponse(
            files.stream(handle), content_type=content_type, headers=headers
        )
