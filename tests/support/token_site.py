"""A token-authenticated endpoint, e.g. for a mobile app, built on the ``get_context()``
hook: a URLconf with it at ``api/chatkit/`` (and its upload view), beside the session
endpoint at ``chatkit/`` (tests/views/test_endpoint.py; on the lean path, through
``tests.support.lean_site``: tests/views/test_lean.py)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.core.signing import BadSignature, TimestampSigner
from django.http import HttpRequest
from django.urls import include, path

from django_chatkit.context import ChatKitContext
from django_chatkit.views import AttachmentUploadView, ChatKitView

token_signer = TimestampSigner(salt="tests.chatkit-token")


class TokenAuth:
    """Authenticates ``Authorization: Bearer <token>``; no cookie, so no CSRF check."""

    scope = "api"

    async def get_context(self, request: HttpRequest) -> ChatKitContext | None:
        scheme, _, token = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            return None
        try:
            user_id = token_signer.unsign(token, max_age=3600)
        except BadSignature:
            return None
        user = await get_user_model().objects.filter(pk=user_id, is_active=True).afirst()
        if user is None:
            return None
        return ChatKitContext(user=user, request=request, scope=self.scope)


class TokenChatKitView(TokenAuth, ChatKitView):
    pass


class TokenUploadView(TokenAuth, AttachmentUploadView):
    pass


urlpatterns = [
    path("api/chatkit/", TokenChatKitView.as_view()),
    path("api/chatkit/upload/", TokenUploadView.as_view()),
    path("chatkit/", include("django_chatkit.urls")),
]
