"""The live updates socket on a real daphne: who may connect, who hears what, and a
staff hand-off from the admin to the user's open chat, end to end.

One daphne process with the in-memory channel layer: the pushes are made inside it (by
the admin reply view), as a single-process deployment does.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from asgiref.sync import sync_to_async
from channels.testing import WebsocketCommunicator
from django.conf import settings as django_settings
from django.contrib.staticfiles import finders
from playwright.sync_api import sync_playwright
from websockets.exceptions import InvalidStatus

from django_chatkit.live.consumers import LiveUpdatesConsumer
from django_chatkit.models import Thread
from tests.support.browser import launch_chromium
from tests.support.factories import make_user
from tests.support.live import LiveServer, live_client
from tests.support.protocol import add_message, new_thread, parse_sse
from tests.support.sockets import open_socket, receive, servers, session_cookie

LIVE_JS = finders.find("django_chatkit/live.js")  # the package's own copy
# A stand-in for ChatKit's <openai-chatkit> (its real script cannot load offline): it
# counts fetchUpdates() calls and shows one thread, as the real element reports it.
FAKE_CHAT_PAGE = """<!doctype html><html><body>
<openai-chatkit id="chat"></openai-chatkit>
<script>
document.getElementById("chat").fetchUpdates = () => {
  window.fetchCalls = (window.fetchCalls || 0) + 1;
  return Promise.resolve();
};
</script>
<script src="/static/django_chatkit/live.js" defer data-django-chatkit-live="/chatkit/live/">
</script>
</body></html>"""

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def daphne(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    """One server for the module. A server caches content types, whose ids change when a
    transactional test flushes the database: only one test here writes admin history."""
    with servers(tmp_path_factory.mktemp("sockets"), 1) as started:
        yield started[0]


@pytest.fixture
def fresh_daphne(django_db_setup: None, tmp_path: Any) -> Iterator[LiveServer]:
    with servers(tmp_path, 1) as started:
        yield started[0]


def refused_status(server: LiveServer, user: Any = None, **kwargs: Any) -> int:
    with pytest.raises(InvalidStatus) as refused:
        open_socket(server, user, **kwargs)
    return refused.value.response.status_code


def test_only_logged_in_users_on_this_site_get_a_socket(daphne: LiveServer) -> None:
    user = make_user("alice")
    assert refused_status(daphne) == 403  # anonymous
    assert refused_status(daphne, user, origin="http://evil.example") == 403
    assert refused_status(daphne, user, origin=None) == 403
    with open_socket(daphne, user) as socket:
        socket.send(json.dumps({"type": "ping"}))
        assert receive(socket) == {"type": "pong"}


async def test_the_consumer_itself_checks_origin_user_and_layer(
    settings: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """Without the project's origin validator and auth middleware, the socket is still
    refused to other sites and anonymous users, reading the settings at each connection."""
    user = await sync_to_async(make_user)("alice")
    settings.ALLOWED_HOSTS = ["chat.example.com"]

    async def connects(origin: bytes, scope_user: Any = user, with_user: bool = True) -> bool:
        communicator = WebsocketCommunicator(
            LiveUpdatesConsumer.as_asgi(), "/chatkit/live/", headers=[(b"origin", origin)]
        )
        if with_user:
            communicator.scope["user"] = scope_user
        connected, _ = await communicator.connect()
        await communicator.disconnect()
        return connected

    assert await connects(b"https://chat.example.com")
    assert not await connects(b"https://evil.example")
    settings.ALLOWED_HOSTS = ["evil.example"]
    assert await connects(b"https://evil.example")
    assert not await connects(b"https://evil.example", with_user=False)
    assert "AuthMiddlewareStack" in caplog.text
    settings.CHANNEL_LAYERS = {}
    assert not await connects(b"https://evil.example")
    assert "CHANNEL_LAYERS is not configured" in caplog.text


def chat(client: httpx.Client, body: dict[str, Any]) -> list[dict[str, Any]]:
    response = client.post("/chatkit/", json=body)
    assert response.status_code == 200, response.text
    return parse_sse(response.content)


def said(events: list[dict[str, Any]]) -> list[str]:
    """``role: text`` of the items a stream completed."""
    lines = []
    for event in events:
        if event["type"] == "thread.item.done":
            item = event["item"]
            text = " ".join(c.get("text", "") for c in item.get("content", [])).strip()
            lines.append(f"{item['type']}: {text}")
    return lines


def test_staff_hand_off_reaches_the_owners_open_chat_only(daphne: LiveServer) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    agent = make_user("agent", staff=True, perms=("view_thread", "reply_as_assistant"))
    staff = live_client(daphne, agent)
    transcript: list[str] = []

    def log(who: str, what: Any) -> None:
        transcript.append(f"{who:<22} {what}")

    def reply(thread: Thread, text: str, handled: bool) -> None:
        data = {"message": text, **({"handled_by_human": "on"} if handled else {})}
        url = f"/admin/django_chatkit/thread/{thread.pk}/reply/"
        assert staff.post(url, data=data).status_code == 302
        action = "takes over" if handled else "hands back to the bot"
        log("staff (admin)", f"{thread.user.get_username()}'s thread: {action}, replies {text!r}")

    with live_client(daphne, alice) as alice_http, live_client(daphne, bob) as bob_http:
        events = chat(alice_http, new_thread("echo hello bot"))
        log("alice -> /chatkit/", "threads.create 'echo hello bot'")
        log("  stream", said(events))
        alice_thread = Thread.objects.get(chatkit_id=events[0]["thread"]["id"])
        bob_thread = Thread.objects.get(
            chatkit_id=chat(bob_http, new_thread("echo hi"))[0]["thread"]["id"]
        )

        with open_socket(daphne, alice) as alice_socket, open_socket(daphne, bob) as bob_socket:
            reply(alice_thread, "Hi Alice, Sam from support here.", handled=True)
            message = receive(alice_socket)
            log("alice socket", message)
            assert message == {
                "type": "thread.updated",
                "thread_id": alice_thread.chatkit_id,
                "scope": "",
            }
            # What ChatKit's fetchUpdates() reads: the staff reply, as an assistant message.
            items = alice_http.post(
                "/chatkit/",
                json={
                    "type": "items.list",
                    "params": {"thread_id": alice_thread.chatkit_id, "order": "desc", "limit": 1},
                },
            ).json()["data"]
            assert items[0]["type"] == "assistant_message"
            assert items[0]["content"][0]["text"] == "Hi Alice, Sam from support here."
            log("alice items.list", f"assistant_message: {items[0]['content'][0]['text']}")

            # Bob's first notification is about his own thread: he never got Alice's.
            reply(bob_thread, "Hello Bob.", handled=True)
            assert receive(bob_socket)["thread_id"] == bob_thread.chatkit_id

            # While a human handles the thread, the bot stays silent.
            events = chat(alice_http, add_message(alice_thread.chatkit_id, "echo thanks"))
            log("alice -> /chatkit/", "add_user_message 'echo thanks'")
            log("  stream", said(events))
            assert said(events) == ["user_message: echo thanks"]

            reply(alice_thread, "Handing you back to the assistant.", handled=False)
            # Alice's next notification is her own: she never got Bob's.
            assert receive(alice_socket)["thread_id"] == alice_thread.chatkit_id
            log("alice socket", "thread.updated (same thread)")

        events = chat(alice_http, add_message(alice_thread.chatkit_id, "echo bot again"))
        log("alice -> /chatkit/", "add_user_message 'echo bot again'")
        log("  stream", said(events))
        assert said(events) == ["user_message: echo bot again", "assistant_message: bot again"]

    staff.close()
    print("\nHand-off transcript (live daphne):\n" + "\n".join(transcript))


def test_live_js_refreshes_the_chat_showing_the_pushed_thread(fresh_daphne: LiveServer) -> None:
    """live.js in Chromium: the session cookie opens the socket, and a staff reply makes
    the element that shows that thread (and only that one) call fetchUpdates()."""
    daphne = fresh_daphne
    alice = make_user("alice")
    agent = make_user("agent", staff=True, perms=("view_thread", "reply_as_assistant"))
    with live_client(daphne, alice) as alice_http:
        shown, other = (
            Thread.objects.get(chatkit_id=chat(alice_http, new_thread(t))[0]["thread"]["id"])
            for t in ("echo shown", "echo other")
        )
    # The ORM is off limits inside Playwright's sync API (it runs an event loop).
    cookie = {
        "name": django_settings.SESSION_COOKIE_NAME,
        "value": session_cookie(alice),
        "url": daphne.base_url,
    }
    staff = live_client(daphne, agent)
    with staff, sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = browser.new_context()
            context.add_cookies([cookie])
            page = context.new_page()
            page.route(
                f"{daphne.base_url}/static/django_chatkit/live.js",
                lambda r: r.fulfill(path=LIVE_JS, content_type="text/javascript"),
            )
            # A response of the site (Chromium lets only a loopback page reach a
            # loopback socket), then the chat page in its place: same origin and cookies.
            page.goto(f"{daphne.base_url}/chatkit/")  # 405 JSON: any response will do
            page.set_content(FAKE_CHAT_PAGE)
            page.wait_for_function(
                "window.djangoChatkitLive && window.djangoChatkitLive.isConnected()",
                timeout=10_000,
            )
            page.evaluate(
                """id => document.getElementById("chat").dispatchEvent(
                    new CustomEvent("chatkit.thread.change", {detail: {threadId: id}}))""",
                shown.chatkit_id,
            )
            for thread in (other, shown):  # in this order, on one socket
                url = f"/admin/django_chatkit/thread/{thread.pk}/reply/"
                assert staff.post(url, data={"message": "From staff."}).status_code == 302
            page.wait_for_function("window.fetchCalls >= 1", timeout=10_000)
            assert page.evaluate("window.fetchCalls") == 1  # the other thread's push: none
        finally:
            browser.close()
