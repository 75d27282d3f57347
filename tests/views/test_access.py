"""CSRF and who may use the endpoint: session requests need the CSRF token before
anything happens, and anonymous visitors get in only through a configured
``get_context()`` (here: the documented per-session guest user pattern)."""

from __future__ import annotations

import json
import secrets

import pytest
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from django.test import AsyncClient
from django.urls import include, path

from django_chatkit.context import ChatKitContext
from django_chatkit.models import Thread
from django_chatkit.views import ChatKitView, csrf_failure_reason
from tests.support.protocol import new_thread, parse_sse, post

pytestmark = pytest.mark.django_db(transaction=True)

GUEST_SESSION_KEY = "chatkit_guest_id"


class GuestChatKitView(ChatKitView):
    """Logged-in users as usual; an anonymous visitor chats as a guest user created for
    their session (so the store's per-user isolation still holds), CSRF checked."""

    scope = "guest"

    async def get_context(self, request: HttpRequest) -> ChatKitContext | None:
        context = await super().get_context(request)
        if context is not None:
            return context
        reason = await csrf_failure_reason(request)
        if reason is not None:
            raise PermissionDenied(f"CSRF verification failed: {reason}")
        users = get_user_model().objects
        guest_id = await request.session.aget(GUEST_SESSION_KEY)
        guest = await users.filter(pk=guest_id, is_active=True).afirst() if guest_id else None
        if guest is None:
            guest = users.model(username=f"guest-{secrets.token_hex(8)}")
            guest.set_unusable_password()
            await guest.asave()
            await request.session.aset(GUEST_SESSION_KEY, guest.pk)
        return ChatKitContext(user=guest, request=request, scope=self.scope)


urlpatterns = [
    path("guest/chatkit/", GuestChatKitView.as_view()),
    path("chatkit/", include("django_chatkit.urls")),
]

LIST = {"type": "threads.list", "params": {}}


def with_csrf(client: AsyncClient) -> dict[str, str]:
    token = "t" * 32
    client.cookies["csrftoken"] = token
    return {"X-CSRFToken": token}


async def test_session_stream_without_csrf_token_is_refused_before_anything() -> None:
    user = await get_user_model().objects.acreate_user("alice", password="pw")
    client = AsyncClient(enforce_csrf_checks=True)
    await client.aforce_login(user)
    response = await post(client, new_thread("echo hi"), "/chatkit/")
    assert response.status_code == 403
    assert json.loads(response.content)["message"].startswith("CSRF verification failed")
    assert not await Thread.objects.aexists()
    # A token in the header but no cookie, or the wrong one: refused too.
    response = await post(client, LIST, "/chatkit/", headers={"X-CSRFToken": "t" * 32})
    assert response.status_code == 403


async def test_anonymous_visitors_with_a_csrf_token_are_still_401() -> None:
    client = AsyncClient(enforce_csrf_checks=True)
    response = await post(client, LIST, "/chatkit/", headers=with_csrf(client))
    assert response.status_code == 401


@pytest.mark.urls(__name__)
async def test_anonymous_access_only_where_configured() -> None:
    guest = AsyncClient(enforce_csrf_checks=True)
    # The default endpoint stays closed to anonymous visitors.
    assert (await post(guest, LIST, "/chatkit/", headers=with_csrf(guest))).status_code == 401
    # The guest endpoint: CSRF first (a session cookie will authenticate the guest).
    response = await post(guest, new_thread("echo hi"), "/guest/chatkit/")
    assert response.status_code == 403
    assert not await get_user_model().objects.aexists()

    csrf = with_csrf(guest)
    response = await post(guest, new_thread("echo as a guest"), "/guest/chatkit/", headers=csrf)
    assert response.status_code == 200
    events = parse_sse(b"".join([chunk async for chunk in response.streaming_content]))
    thread_id = events[0]["thread"]["id"]
    thread = await Thread.objects.select_related("user").aget(chatkit_id=thread_id)
    assert thread.user.username.startswith("guest-")
    assert not thread.user.has_usable_password()
    assert thread.scope == "guest"

    # The same session keeps its history; another visitor gets another guest.
    listed = json.loads((await post(guest, LIST, "/guest/chatkit/", headers=csrf)).content)
    assert [t["id"] for t in listed["data"]] == [thread_id]
    other = AsyncClient(enforce_csrf_checks=True)
    listed = json.loads(
        (await post(other, LIST, "/guest/chatkit/", headers=with_csrf(other))).content
    )
    assert listed["data"] == []
    body = {"type": "threads.get_by_id", "params": {"thread_id": thread_id}}
    assert (await post(other, body, "/guest/chatkit/", headers=with_csrf(other))).status_code == 404
    assert await get_user_model().objects.acount() == 2
    # The guest's session is not a login: the default endpoint still refuses it.
    assert (await post(guest, LIST, "/chatkit/", headers=csrf)).status_code == 401
