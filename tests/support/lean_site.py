"""The site of tests/views/test_lean.py's live servers (``tests.settings.lean``).

Its URLconf: ``tests.support.token_site``'s (the session endpoint at ``chatkit/`` with its
upload and file views, and the token-authenticated endpoint built on ``get_context()`` at
``api/chatkit/``), an endpoint with its own ``scope`` at ``support/chatkit/``, and the
admin. A middleware marks every response Django's handler made (``X-Through-Django``),
and a ``request_finished`` receiver logs each signal, so a test sees which requests went
through Django's middleware chain and that the lean path still sends the signal.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from django.contrib import admin
from django.core.signals import request_finished
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.urls import include, path

from django_chatkit.views import ChatKitView

THROUGH_DJANGO = "X-Through-Django"

logger = logging.getLogger("tests.support.lean_site")


def mark_django_responses(
    get_response: Callable[[HttpRequest], HttpResponse],
) -> Callable[[HttpRequest], HttpResponse]:
    """Middleware: ``X-Through-Django: yes`` on every response of the middleware chain."""

    def middleware(request: HttpRequest) -> HttpResponse:
        response = get_response(request)
        response[THROUGH_DJANGO] = "yes"
        return response

    return middleware


@receiver(request_finished, dispatch_uid="tests.support.lean_site.request_finished")
def log_request_finished(sender: Any, **kwargs: Any) -> None:
    logger.info("request_finished")


urlpatterns = [
    path("admin/", admin.site.urls),
    path("support/chatkit/", ChatKitView.as_view(scope="support")),
    path("", include("tests.support.token_site")),
]
