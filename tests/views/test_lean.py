"""The lean path (django_chatkit.asgi.ChatKitRouter) through live daphne and uvicorn.

Each server kind serves ``tests.settings.lean`` twice: on Django's handler
(``tests.support.asgi``) and on the lean path (``tests.support.asgi_lean``), with a host list
(``127.0.0.1``). ``tests.support.lean_site``'s middleware marks what went through Django's
middleware chain: everything but a ``POST`` to a ChatKit endpoint. What the lean path
does in place of the middleware it skips (session, user, CSRF, session hash,
``ALLOWED_HOSTS``, language) answers as Django's path does.
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from django.conf import settings
from django.http import HttpRequest
from django.middleware.csrf import CSRF_SESSION_KEY, get_token
from django.test import Client

from django_chatkit.asgi import lean_match, path_info
from django_chatkit.models import Thread
from tests.support.attachments import PNG
from tests.support.lean_site import THROUGH_DJANGO
from tests.support.live import (
    COMMANDS,
    HOST,
    TIMEOUT,
    LiveServer,
    live_client,
    log_lines,
    module_server,
)
from tests.support.live import request_log as request_log_lines
from tests.support.protocol import is_delta, new_thread, parse_sse
from tests.support.sockets import open_socket, receive
from tests.support.token_site import token_signer

pytestmark = pytest.mark.django_db(transaction=True)

SETTINGS = "tests.settings.lean"
LISTING = {"type": "threads.list", "params": {}}
EMPTY_PAGE = {"data": [], "has_more": False}
# What Django's handler logs (django.request) for an answer of 400 or more.
DJANGO_REQUEST_LINE = re.compile(r"^([A-Z][A-Za-z ]+): (/\S*)$", re.MULTILINE)


@dataclass
class Site:
    """One server kind, serving the same site on both paths."""

    django: LiveServer
    lean: LiveServer

    @property
    def both(self) -> tuple[LiveServer, LiveServer]:
        return self.django, self.lean


@pytest.fixture(scope="module", params=sorted(COMMANDS))
def site(
    request: pytest.FixtureRequest,
    django_db_setup: None,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[Site]:
    env = {"CHATKIT_TEST_ALLOWED_HOSTS": HOST}
    with contextlib.ExitStack() as stack:
        django, lean = (
            stack.enter_context(
                module_server(tmp_path_factory, request.param, SETTINGS, lean=lean, **env)
            )
            for lean in (False, True)
        )
        yield Site(django, lean)


def session_client(server: LiveServer, user: Any, **cookies: str) -> httpx.Client:
    """``user``'s session cookie (and ``cookies``), no CSRF token."""
    client = Client()
    client.force_login(user)
    cookies[settings.SESSION_COOKIE_NAME] = client.cookies[settings.SESSION_COOKIE_NAME].value
    return httpx.Client(base_url=server.base_url, cookies=cookies, timeout=TIMEOUT)


def masked_token() -> tuple[str, str]:
    """A CSRF secret and the masked token Django's ``get_token()`` makes of it."""
    request = HttpRequest()
    token = get_token(request)
    secret = request.META["CSRF_COOKIE"]
    assert len(token) == 64 and len(secret) == 32 and token != secret
    return secret, token


def answer(response: httpx.Response) -> tuple[int, Any]:
    assert response.headers["content-type"] == "application/json"
    return response.status_code, response.json()


def forbidden(reason: str) -> tuple[int, dict[str, str]]:
    return 403, {"error": "forbidden", "message": f"CSRF verification failed: {reason}"}


UNAUTHENTICATED = (
    401,
    {
        "error": "not_authenticated",
        "message": "Authentication required.",
        "login_url": "/accounts/login/",
    },
)


# what goes through Django ------------------------------------------------------------


def test_only_a_post_to_an_endpoint_skips_django(site: Site, alice: Any) -> None:
    with live_client(site.django, alice) as client:
        response = client.post("/chatkit/", json=LISTING)
        assert response.headers[THROUGH_DJANGO] == "yes"  # the marker works
    with live_client(site.lean, alice) as client:
        response = client.post("/chatkit/", json=LISTING)
        assert answer(response) == (200, EMPTY_PAGE)
        assert THROUGH_DJANGO not in response.headers

        response = client.get("/chatkit/")  # the view's 405, through Django
        assert answer(response) == (
            405,
            {"error": "method_not_allowed", "message": "GET is not allowed; use POST."},
        )
        assert response.headers[THROUGH_DJANGO] == "yes"

        files = {"file": ("red.png", PNG, "image/png")}
        uploaded = client.post("/chatkit/attachments/upload/", files=files)
        assert uploaded.status_code == 200, uploaded.text
        assert uploaded.headers[THROUGH_DJANGO] == "yes"
        preview = httpx.get(uploaded.json()["preview_url"], timeout=TIMEOUT)  # no cookies
        assert (preview.status_code, preview.content) == (200, PNG)
        assert preview.headers[THROUGH_DJANGO] == "yes"

        for method, path in [("GET", "/admin/login/"), ("POST", "/nowhere/")]:
            response = client.request(method, path)
            assert response.status_code in (200, 404)
            assert response.headers[THROUGH_DJANGO] == "yes", path


# authentication -----------------------------------------------------------------------


def test_session_authentication_with_the_full_csrf_check(site: Site, alice: Any) -> None:
    """Every CSRF case answers the same on both paths; a masked token is accepted."""
    secret, token = masked_token()
    for server in site.both:
        with session_client(server, alice) as client:
            assert answer(client.post("/chatkit/", json=LISTING)) == forbidden(
                "CSRF cookie not set."
            )
        with session_client(server, alice, csrftoken=secret) as client:
            assert answer(client.post("/chatkit/", json=LISTING)) == forbidden(
                "CSRF token missing."
            )
            wrong = {"X-CSRFToken": "b" * 32}
            assert answer(client.post("/chatkit/", json=LISTING, headers=wrong)) == forbidden(
                "CSRF token from the 'X-Csrftoken' HTTP header incorrect."
            )
            masked = {"X-CSRFToken": token}
            assert answer(client.post("/chatkit/", json=LISTING, headers=masked)) == (
                200,
                EMPTY_PAGE,
            )


def test_csrf_token_in_the_session(
    site: Site, alice: Any, tmp_path_factory: pytest.TempPathFactory
) -> None:
    """``CSRF_USE_SESSIONS``: the lean path reads the secret from the session."""
    env = {"CHATKIT_TEST_CSRF_USE_SESSIONS": "1"}
    with module_server(tmp_path_factory, site.lean.kind, SETTINGS, lean=True, **env) as server:
        secret, token = masked_token()
        with session_client(server, alice, csrftoken=secret) as client:
            masked = {"X-CSRFToken": token}
            # A cookie is not where the secret is kept.
            assert answer(client.post("/chatkit/", json=LISTING, headers=masked)) == forbidden(
                "CSRF cookie not set."
            )
        browser = Client()
        browser.force_login(alice)
        session = browser.session
        session[CSRF_SESSION_KEY] = secret
        session.save()
        cookies = {settings.SESSION_COOKIE_NAME: session.session_key}
        with httpx.Client(base_url=server.base_url, cookies=cookies, timeout=TIMEOUT) as client:
            assert answer(client.post("/chatkit/", json=LISTING, headers=masked)) == (
                200,
                EMPTY_PAGE,
            )
            wrong = {"X-CSRFToken": "b" * 32}
            assert answer(client.post("/chatkit/", json=LISTING, headers=wrong)) == forbidden(
                "CSRF token from the 'X-Csrftoken' HTTP header incorrect."
            )


def test_a_changed_password_ends_the_session(site: Site, alice: Any) -> None:
    with contextlib.ExitStack() as stack:
        clients = [stack.enter_context(live_client(server, alice)) for server in site.both]
        for client in clients:
            assert answer(client.post("/chatkit/", json=LISTING)) == (200, EMPTY_PAGE)
        alice.set_password("changed")
        alice.save()
        for client in clients:
            assert answer(client.post("/chatkit/", json=LISTING)) == UNAUTHENTICATED


def test_a_host_not_in_allowed_hosts_is_400(site: Site, alice: Any) -> None:
    start = len(site.lean.log())
    with live_client(site.lean, alice) as client:
        response = client.post(
            "/chatkit/", json=new_thread("echo hi"), headers={"Host": "evil.example"}
        )
    assert answer(response) == (
        400,
        {
            "error": "invalid_host",
            "message": "Invalid HTTP_HOST header: 'evil.example'. "
            "You may need to add 'evil.example' to ALLOWED_HOSTS.",
        },
    )
    assert not Thread.objects.exists()
    assert log_lines(site.lean, DJANGO_REQUEST_LINE, 1, start) == [("Bad Request", "/chatkit/")]


def test_the_token_endpoint_and_a_scoped_endpoint(site: Site, alice: Any) -> None:
    """``get_context()`` (``tests.support.token_site``'s ``TokenChatKitView``) and ``scope``
    passed to ``as_view()`` on the lean path."""
    with httpx.Client(base_url=site.lean.base_url, timeout=TIMEOUT) as app:
        assert answer(app.post("/api/chatkit/", json=LISTING)) == UNAUTHENTICATED
        auth = {"Authorization": f"Bearer {token_signer.sign(str(alice.pk))}"}
        response = app.post("/api/chatkit/", json=new_thread("echo from the app"), headers=auth)
        assert response.status_code == 200
        assert THROUGH_DJANGO not in response.headers
        api_thread = parse_sse(response.content)[0]["thread"]["id"]
    with live_client(site.lean, alice) as client:
        response = client.post("/support/chatkit/", json=new_thread("echo help"))
        assert THROUGH_DJANGO not in response.headers
        support_thread = parse_sse(response.content)[0]["thread"]["id"]
        listed = client.post("/support/chatkit/", json=LISTING).json()["data"]
        assert [thread["id"] for thread in listed] == [support_thread]
        assert answer(client.post("/chatkit/", json=LISTING)) == (200, EMPTY_PAGE)
    scopes = dict(Thread.objects.values_list("chatkit_id", "scope"))
    assert scopes == {api_thread: "api", support_thread: "support"}
    assert set(Thread.objects.values_list("user_id", flat=True)) == {alice.pk}


# what the skipped middleware did ------------------------------------------------------


def answered_text(response: httpx.Response) -> str:
    assert response.status_code == 200, response.text
    return "".join(
        event["update"]["delta"] for event in parse_sse(response.content) if is_delta(event)
    )


def test_the_language_of_the_request(site: Site, alice: Any) -> None:
    """LocaleMiddleware is installed: ``Accept-Language`` reaches the context."""
    for server in site.both:
        with live_client(server, alice) as client:
            french = {"Accept-Language": "fr-CH, fr;q=0.9"}
            assert answered_text(client.post("/chatkit/", json=new_thread("language"))) == "en"
            response = client.post("/chatkit/", json=new_thread("language"), headers=french)
            assert answered_text(response) == "fr", server.name


def test_websockets_through_the_lean_application(site: Site, alice: Any) -> None:
    """The router wraps tests.support.asgi's ProtocolTypeRouter: its sockets still work."""
    with open_socket(site.lean, alice) as socket:
        socket.send('{"type": "ping"}')
        assert receive(socket) == {"type": "pong"}


# the same answers and log lines on both paths -------------------------------------------

TOO_MANY_FIELDS = "&".join(f"f{i}=x" for i in range(1001)).encode()
BAD_REQUESTS: list[tuple[str, dict[str, Any]]] = [
    ("malformed json", {"content": b'{"type": "threads.list",'}),
    ("invalid fields", {"json": {"type": "items.list", "params": {"limit": "many"}}}),
    ("unknown type", {"json": {"type": "threads.explode", "params": {}}}),
    ("not an object", {"content": b"[1, 2]"}),
    ("missing thread", {"json": {"type": "threads.get_by_id", "params": {"thread_id": "thr_x"}}}),
    ("too large", {"json": {**LISTING, "metadata": {"padding": "x" * (2 * 1024 * 1024)}}}),
    (
        "too many form fields",
        {
            "content": TOO_MANY_FIELDS,
            "headers": {"Content-Type": "application/x-www-form-urlencoded"},
        },
    ),
    ("fine", {"json": LISTING}),
]


def test_request_errors_and_log_lines_are_the_same_on_both_paths(site: Site, alice: Any) -> None:
    seen = {}
    for server in site.both:
        start = len(server.log())
        answers = []
        with live_client(server, alice) as client:
            for _, request in BAD_REQUESTS:
                request = {"headers": {"Content-Type": "application/json"}, **request}
                answers.append(answer(client.post("/chatkit/", **request)))
        with live_client(server) as anonymous:
            answers.append(answer(anonymous.post("/chatkit/", json=LISTING)))
        count = len(BAD_REQUESTS) + 1
        seen[server.name] = (
            answers,
            request_log_lines(server, count, start),
            log_lines(server, DJANGO_REQUEST_LINE, count - 1, start),  # all but "fine"
        )
    django, lean = seen.values()
    assert django[0] == lean[0]  # the answers
    assert django[1] == lean[1]  # the request log lines' fields
    assert django[2] == lean[2]  # django.request's lines
    assert [status for status, _ in lean[0]] == [400, 400, 400, 400, 404, 413, 400, 200, 401]


def test_request_finished_is_sent_after_the_response(site: Site, alice: Any) -> None:
    finished = re.compile(r"^(request_finished)$", re.MULTILINE)
    with live_client(site.lean, alice) as client:
        start = len(site.lean.log())
        assert answer(client.post("/chatkit/", json=LISTING)) == (200, EMPTY_PAGE)
        log_lines(site.lean, finished, 1, start)
        start = len(site.lean.log())
        assert answered_text(client.post("/chatkit/", json=new_thread("echo streamed"))) == (
            "streamed "
        )
        log_lines(site.lean, finished, 1, start)


def test_the_router_resolves_the_path_without_the_script_prefix(settings: Any) -> None:
    """Mounted under a prefix (the ASGI ``root_path`` or ``FORCE_SCRIPT_NAME``), the
    router resolves what Django resolves: the path without it."""
    scope = {"type": "http", "path": "/app/chatkit/", "root_path": "/app"}
    assert path_info(scope) == "/chatkit/"
    assert lean_match(path_info(scope)) is not None
    assert lean_match(path_info({**scope, "root_path": ""})) is None  # /app/chatkit/
    settings.FORCE_SCRIPT_NAME = "/site"
    assert path_info({"type": "http", "path": "/site/chatkit/"}) == "/chatkit/"
