"""The errors of django_chatkit and the JSON answer of each: ``{"error": code, "message": text}``.

Every error a client hears about is a :class:`ChatKitError`: its class says the HTTP
status (``status_code``), the error ``code`` and a ``default_message``, and an instance
may carry a message of its own and headers (``Retry-After``...). Raise one anywhere a
view runs (the store, the attachment store, the server, a ``get_context()`` override)
and the view answers it; catch one by its class (``except RateLimited``) or by the base.

:func:`exception_response` is the one mapping from an exception to the answer, as Django
REST framework's ``exception_handler``: a ``ChatKitError``, the SDK's ``NotFoundError``
(``404``), Django's ``PermissionDenied`` (``403``), ``DisallowedHost`` (``400``) and
Django's request-parsing errors. Those are the client's doing (a body of too many
fields or files, too large, malformed, or cut off) and are answered ``400`` or ``413``,
never a ``500``: Django raises them wherever ``request.POST``, ``request.FILES`` or
``request.body`` is first read, which for a session-authenticated ``POST`` is the CSRF
check of :meth:`~django_chatkit.views.ChatKitView.get_context`. A request body that does
not validate is an :class:`InvalidRequest` (:meth:`InvalidRequest.from_validation_error`),
raised where the body is parsed: pydantic's ``ValidationError`` anywhere else is data
the server read or built, a bug. Every view ends in :func:`failure_response`, which
answers what the mapping knows and logs anything else as a server fault (``500``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from chatkit.store import NotFoundError
from django.conf import settings
from django.core.exceptions import (
    DisallowedHost,
    ImproperlyConfigured,
    PermissionDenied,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import JsonResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError
from pydantic import ValidationError

logger = logging.getLogger("django_chatkit")


class ChatKitError(Exception):
    """An error answered ``status_code`` with ``{"error": code, "message": message}``.

    ``message`` defaults to the class's ``default_message``; ``headers`` are sent with
    the answer. Subclass it to answer an error of your own.
    """

    status_code = 500
    code = "internal_error"
    default_message = "An unexpected error occurred."

    def __init__(
        self, message: str | None = None, *, headers: Mapping[str, str] | None = None
    ) -> None:
        self.message = message or self.default_message
        super().__init__(self.message)
        self.headers = dict(headers or {})

    def body(self) -> dict[str, Any]:
        """The JSON body of the answer."""
        return {"error": self.code, "message": self.message}


# the request ------------------------------------------------------------------------


class InvalidRequest(ChatKitError):
    """A request that is malformed, or that cannot apply (a retry after an item that is
    not a user message, a structured input answered twice...)."""

    status_code = 400
    code = "invalid_request"
    default_message = "The request is not valid."

    @classmethod
    def from_validation_error(cls, exc: ValidationError) -> InvalidRequest:
        """The answer to a request body that does not validate: what is wrong where, at
        most five errors, without the input."""
        parts = []
        errors = exc.errors(include_url=False, include_context=False, include_input=False)
        for error in errors[:5]:
            location = ".".join(str(part) for part in error["loc"])
            parts.append(f"{location}: {error['msg']}" if location else error["msg"])
        if exc.error_count() > 5:
            parts.append(f"and {exc.error_count() - 5} more errors")
        return cls("; ".join(parts))


class InvalidHost(InvalidRequest):
    """A ``Host`` header not in ``ALLOWED_HOSTS`` (checked by the lean path)."""

    status_code = 400
    code = "invalid_host"
    default_message = "The Host header is not allowed."


class MalformedMultipart(InvalidRequest):
    status_code = 400
    code = "invalid_request"
    default_message = "The multipart request body is malformed."


class TooManyFields(InvalidRequest):
    status_code = 400
    code = "too_many_fields"
    default_message = "The request body has too many fields."


class TooManyFiles(InvalidRequest):
    status_code = 400
    code = "too_many_files"
    default_message = "The request body has too many files."


class UnreadableBody(InvalidRequest):
    """The connection broke while the body was read."""

    status_code = 400
    code = "unreadable_body"
    default_message = "The request body could not be read."


class NotAuthenticated(ChatKitError):
    """Nobody is logged in; ``login_url`` (sent when known) says where to log in."""

    status_code = 401
    code = "not_authenticated"
    default_message = "Authentication required."

    def __init__(self, message: str | None = None, *, login_url: str | None = None) -> None:
        super().__init__(message)
        self.login_url = login_url

    def body(self) -> dict[str, Any]:
        body = super().body()
        if self.login_url is not None:
            body["login_url"] = self.login_url
        return body


class Forbidden(ChatKitError):
    """Django's ``PermissionDenied`` (CSRF, ``get_context()``) is answered as this."""

    status_code = 403
    code = "forbidden"
    default_message = "Permission denied."


class NotFound(ChatKitError):
    """The SDK's ``NotFoundError`` (a missing or foreign id) is answered as this."""

    status_code = 404
    code = "not_found"
    default_message = "Not found."


class MethodNotAllowed(ChatKitError):
    status_code = 405
    code = "method_not_allowed"
    default_message = "This method is not allowed."


class ThreadNotActive(ChatKitError):
    """The thread is locked or closed, or handled by a human, and takes no new input."""

    status_code = 409
    code = "thread_not_active"
    default_message = "The thread is not active."


class OperationNotImplemented(ChatKitError):
    """An operation the project's server does not implement (``input.transcribe``...)."""

    status_code = 501
    code = "not_implemented"
    default_message = "This operation is not implemented."


# limits -----------------------------------------------------------------------------


class RequestRefused(ChatKitError):
    """A request over one of the limits (the subclasses say which)."""

    status_code = 400
    code = "invalid_request"
    default_message = "The request is over a limit."


class RequestTooLarge(RequestRefused):
    """A body over ``CHATKIT_MAX_REQUEST_BYTES`` or Django's ``DATA_UPLOAD_MAX_MEMORY_SIZE``."""

    status_code = 413
    code = "request_too_large"
    default_message = "The request body is larger than allowed."


class TooManyAttachments(RequestRefused):
    """A message over ``CHATKIT_MAX_ATTACHMENTS_PER_MESSAGE``."""

    status_code = 400
    code = "too_many_attachments"
    default_message = "The message has too many attachments."


class MessageTooLarge(RequestRefused):
    """A message over ``CHATKIT_MAX_MESSAGE_CHARS``."""

    status_code = 413
    code = "message_too_large"
    default_message = "The message is too long."


class RateLimited(RequestRefused):
    """The user sent more than ``CHATKIT_RATE_LIMIT`` (or ``CHATKIT_UPLOAD_RATE_LIMIT``)
    allows; retry in ``retry_after`` seconds (the ``Retry-After`` header)."""

    status_code = 429
    code = "rate_limited"
    default_message = "Too many requests."

    def __init__(self, message: str | None = None, *, retry_after: int) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class ResponseRunning(ChatKitError):
    """With durable responses on: the thread's previous answer still runs. Wait for it,
    or cancel it (``threads/<id>/cancel/``), then send again."""

    status_code = 409
    code = "response_running"
    default_message = "An answer is still running in this thread."


class TooManyResponses(RequestRefused):
    """With durable responses on: over ``CHATKIT_MAX_RUNNING_PER_USER`` answers of this
    user, or ``CHATKIT_MAX_RUNNING_PER_WORKER`` of this worker, run at once."""

    status_code = 429
    code = "too_many_responses"
    default_message = "Too many answers are running at once."

    def __init__(self, message: str | None = None, *, retry_after: int = 5) -> None:
        super().__init__(message, headers={"Retry-After": str(retry_after)})
        self.retry_after = retry_after


class ShuttingDown(ChatKitError):
    """The worker is shutting down (SIGTERM): it finishes running answers, starts none."""

    status_code = 503
    code = "shutting_down"
    default_message = "The server is restarting; send the message again in a moment."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message, headers={"Retry-After": "5"})


class QuotaExceeded(RateLimited):
    """The user used up a token allowance of ``CHATKIT_USAGE_LIMITS`` (per day or month);
    retry in ``retry_after`` seconds, when the period ends. A :class:`RateLimited`, so
    ``except RateLimited`` catches both."""

    status_code = 429
    code = "quota_exceeded"
    default_message = "You have used up your allowance for now."


# attachments ------------------------------------------------------------------------


class AttachmentRejected(ChatKitError):
    """An upload that breaks a rule (the subclasses say which)."""

    status_code = 400
    code = "invalid_request"
    default_message = "The attachment is not valid."


class AttachmentTooLarge(AttachmentRejected):
    """An upload over ``CHATKIT_ATTACHMENT_MAX_BYTES``."""

    status_code = 413
    code = "attachment_too_large"
    default_message = "The attachment is too large."


class UnsupportedAttachmentType(AttachmentRejected):
    """A type off ``CHATKIT_ATTACHMENT_ALLOWED_TYPES``, or content not matching its type."""

    status_code = 415
    code = "unsupported_attachment_type"
    default_message = "Files of this type cannot be attached."


class UploadURLExpired(AttachmentRejected):
    status_code = 403
    code = "upload_url_expired"
    default_message = "This upload URL has expired."


class InvalidUploadURL(AttachmentRejected):
    status_code = 403
    code = "invalid_upload_url"
    default_message = "This upload URL is not valid."


class UploadURLUsed(AttachmentRejected):
    """A two-phase upload URL that has received its file already (each is single-use)."""

    status_code = 403
    code = "upload_url_used"
    default_message = "This upload URL has been used."


class UploadForbidden(AttachmentRejected):
    """A two-phase upload URL sent with another user's session."""

    status_code = 403
    code = "forbidden"
    default_message = "This upload URL belongs to another user."


class FileURLExpired(Forbidden):
    """A preview or download link older than ``CHATKIT_ATTACHMENT_URL_MAX_AGE``."""

    status_code = 403
    code = "url_expired"
    default_message = "This link has expired."


class InvalidFileURL(Forbidden):
    """A preview or download link that this site did not sign."""

    status_code = 403
    code = "invalid_url"
    default_message = "This link is not valid."


# configuration ----------------------------------------------------------------------


class ServerSettingError(ImproperlyConfigured):
    """A wrong ``CHATKIT_SERVER``; ``check_id`` names the system check that reports it
    (``django_chatkit.E001`` to ``E004``). Answered ``500`` by a view."""

    def __init__(self, message: str, check_id: str) -> None:
        super().__init__(message)
        self.check_id = check_id


# the answers ------------------------------------------------------------------------

# Django's request-parsing errors (their own messages name settings: not sent).
_REQUEST_BODY_ANSWERS: dict[type[Exception], type[ChatKitError]] = {
    RequestDataTooBig: RequestTooLarge,
    TooManyFieldsSent: TooManyFields,
    TooManyFilesSent: TooManyFiles,
    MultiPartParserError: MalformedMultipart,
    UnreadablePostError: UnreadableBody,
}
REQUEST_BODY_ERRORS = tuple(_REQUEST_BODY_ANSWERS)


def as_chatkit_error(exc: BaseException) -> ChatKitError | None:
    """``exc`` as the :class:`ChatKitError` the client is answered, ``None`` for a
    server fault."""
    if isinstance(exc, ChatKitError):
        return exc
    if isinstance(exc, NotFoundError):
        return NotFound(str(exc))
    if isinstance(exc, PermissionDenied):
        return Forbidden(str(exc))
    if isinstance(exc, DisallowedHost):
        return InvalidHost(str(exc))
    for error, answer in _REQUEST_BODY_ANSWERS.items():
        if isinstance(exc, error):
            return answer()
    return None


def error_response(error: ChatKitError) -> JsonResponse:
    """The JSON answer to ``error``, with its status and headers."""
    response = JsonResponse(error.body(), status=error.status_code)
    for name, value in error.headers.items():
        response.headers[name] = value
    return response


def exception_response(exc: BaseException) -> JsonResponse | None:
    """The answer to ``exc`` if the client caused it, ``None`` for a server fault."""
    error = as_chatkit_error(exc)
    return None if error is None else error_response(error)


_reported_configuration_errors: set[str] = set()


def configuration_error_response(exc: ImproperlyConfigured) -> JsonResponse:
    """The 500 answer to a misconfigured project (a wrong ``CHATKIT_SERVER``...).

    Logged at ERROR once per process and problem, not once per request; with ``DEBUG``
    the message says what is wrong, as Django's debug pages do.
    """
    problem = str(exc)
    if problem not in _reported_configuration_errors:
        _reported_configuration_errors.add(problem)
        logger.error("django_chatkit is misconfigured: %s", problem, exc_info=exc)
    if settings.DEBUG:
        message = f"django_chatkit is misconfigured: {problem} (shown because DEBUG = True)"
        return error_response(ChatKitError(message))
    return error_response(ChatKitError())


def failure_response(exc: Exception, log_message: str, *args: object) -> JsonResponse:
    """The answer to an exception that ended a view: the client's fault answered by
    :func:`exception_response`, a misconfiguration by :func:`configuration_error_response`,
    anything else logged (``log_message % args``, with the traceback) and answered
    ``500 internal_error``, the traceback never shown."""
    if isinstance(exc, ImproperlyConfigured):
        return configuration_error_response(exc)
    response = exception_response(exc)
    if response is None:
        logger.error(log_message, *args, exc_info=exc)
        response = error_response(ChatKitError())
    return response
