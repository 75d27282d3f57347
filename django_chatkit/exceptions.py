"""The JSON error answers of django_chatkit's views: ``{"error": code, "message": text}``.

:func:`exception_response` is the one mapping from an exception raised while a view
handles a request to the answer the client gets; every view of
:mod:`django_chatkit.urls` ends in :func:`failure_response`, which answers what the
mapping knows and logs anything else as a server fault (``500``).

Django's request-parsing errors are the client's doing (a body of too many fields or
files, too large, malformed, or cut off) and are answered ``400`` or ``413``, never a
``500``: Django raises them wherever ``request.POST``, ``request.FILES`` or
``request.body`` is first read, which for a session-authenticated ``POST`` is the CSRF
check in :meth:`~django_chatkit.views.ChatKitView.get_context`.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.exceptions import (
    ImproperlyConfigured,
    RequestDataTooBig,
    TooManyFieldsSent,
    TooManyFilesSent,
)
from django.http import JsonResponse, UnreadablePostError
from django.http.multipartparser import MultiPartParserError

logger = logging.getLogger("django_chatkit")

# The answer to each request-parsing error (Django's own messages name settings).
_REQUEST_BODY_ANSWERS: dict[type[Exception], tuple[int, str, str]] = {
    RequestDataTooBig: (413, "request_too_large", "The request body is larger than allowed."),
    TooManyFieldsSent: (400, "too_many_fields", "The request body has too many fields."),
    TooManyFilesSent: (400, "too_many_files", "The request body has too many files."),
    MultiPartParserError: (400, "invalid_request", "The multipart request body is malformed."),
    UnreadablePostError: (400, "unreadable_body", "The request body could not be read."),
}
REQUEST_BODY_ERRORS = tuple(_REQUEST_BODY_ANSWERS)


def error_response(status: int, code: str, message: str, **headers: str) -> JsonResponse:
    """The JSON error answer ``{"error": code, "message": message}``."""
    response = JsonResponse({"error": code, "message": message}, status=status)
    for name, value in headers.items():
        response.headers[name] = value
    return response


def exception_response(exc: BaseException) -> JsonResponse | None:
    """The answer to ``exc`` if the client caused it, ``None`` for a server fault."""
    for error, (status, code, message) in _REQUEST_BODY_ANSWERS.items():
        if isinstance(exc, error):
            return error_response(status, code, message)
    return None


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
        return error_response(500, "internal_error", message)
    return error_response(500, "internal_error", "An unexpected error occurred.")


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
        response = error_response(500, "internal_error", "An unexpected error occurred.")
    return response
