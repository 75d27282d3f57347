"""``manage.py chatkit_chat --url`` against live daphne and uvicorn servers of a project
with no ``/accounts/login/`` (``tests.settings``, Django's default ``LOGIN_URL``): it logs
in where the endpoint's 401 says, accepts a relative ``--login-url``, and every failure is
a ``CommandError`` that says what to do."""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.test import AsyncClient, override_settings

from django_chatkit.client.transports import parse_login_form
from tests.support.live import HOST, LiveServer

pytestmark = pytest.mark.django_db(transaction=True)

STAFF_ONLY = (
    "the page says “Please enter the correct username and password for a staff account. "
    "Note that both fields may be case-sensitive.”. Check --user and --password (the "
    "admin's login page only admits staff)."
)


def chat(server: LiveServer, **options: Any) -> str:
    out = StringIO()
    call_command("chatkit_chat", url=server.url, stdout=out, **options)
    return out.getvalue()


def refused(server: LiveServer, **options: Any) -> str:
    with pytest.raises(CommandError) as failure:
        chat(server, message=["echo never sent"], **options)
    return str(failure.value)


@override_settings(LOGIN_URL="/not-where-the-server-says/")  # this process' own setting
def test_logs_in_where_the_401_says_and_reports_a_missing_login_page(
    asgi_server: LiveServer, staff: Any
) -> None:
    assert refused(asgi_server, user="alice", password="pw") == (
        f"There is no login page at {asgi_server.base_url}/accounts/login/ (HTTP 404). "
        "Pass --login-url with the site's login page (a path such as /accounts/login/ is "
        "resolved against --url), or set LOGIN_URL on the server to it."
    )


def test_a_relative_login_url_is_resolved_against_the_endpoint(
    asgi_server: LiveServer, staff: Any
) -> None:
    output = chat(
        asgi_server,
        user="alice",
        password="pw",
        login_url="/admin/login/",
        message=["echo hello over HTTP", "/threads"],
    )
    assert f"Logged in as alice at {asgi_server.base_url}/admin/login/.\n" in output
    assert f"Chatting with {asgi_server.url}." in output
    assert "assistant> hello over HTTP \n" in output
    assert re.search(r"you> /threads\n \*thr_\w+ ", output)


def test_a_wrong_password_and_a_user_the_page_refuses(
    asgi_server: LiveServer, staff: Any, django_user_model: Any
) -> None:
    login = f"{asgi_server.base_url}/admin/login/"
    message = refused(asgi_server, user="alice", password="wrong", login_url="/admin/login/")
    assert message == f"Logging in as 'alice' at {login} failed: {STAFF_ONLY}"
    django_user_model.objects.create_user("bob", password="pw")  # not staff
    message = refused(asgi_server, user="bob", password="pw", login_url=login)
    assert message == f"Logging in as 'bob' at {login} failed: {STAFF_ONLY}"


def test_a_page_that_is_not_a_login_form(asgi_server: LiveServer, staff: Any) -> None:
    with plain_page("<html><body><p>Welcome!</p></body></html>") as url:
        message = refused(asgi_server, user="alice", password="pw", login_url=url)
    assert message == (
        f"{url} is not a login form (it has no password field). Pass --login-url with the "
        "site's login page, e.g. --login-url /accounts/login/."
    )
    # A page that refuses to be read: the endpoint itself (POST only).
    message = refused(asgi_server, user="alice", password="pw", login_url="/chatkit/")
    assert message == (
        f"The login page {asgi_server.url} answers HTTP 405 Method Not Allowed: pass "
        "--login-url with a page that shows the login form."
    )


def test_no_login_and_not_an_endpoint(asgi_server: LiveServer) -> None:
    assert refused(asgi_server) == (
        f"{asgi_server.url} needs a login (it says to log in at "
        f"{asgi_server.base_url}/accounts/login/): pass --user NAME --password PASSWORD, or "
        "--header with the credentials the endpoint accepts."
    )
    with pytest.raises(CommandError) as failure:
        call_command("chatkit_chat", url=f"{asgi_server.base_url}/nowhere/", stdout=StringIO())
    assert str(failure.value) == (
        f"{asgi_server.base_url}/nowhere/ is not a ChatKit endpoint (HTTP 404: Not Found). "
        "Pass the URL where the project includes django_chatkit.urls, e.g. "
        "--url https://host/chatkit/."
    )


@pytest.mark.parametrize(
    ("login_url", "answer"),
    [("admin:login", "/admin/login/"), ("/sign-in/", "/sign-in/"), ("no-such-page", None)],
)
async def test_the_401_answer_says_where_to_log_in(login_url: str, answer: str | None) -> None:
    with override_settings(LOGIN_URL=login_url):
        response = await AsyncClient().post(
            "/chatkit/", {"type": "threads.list", "params": {}}, content_type="application/json"
        )
    assert response.status_code == 401
    assert response.json().get("login_url") == answer


def test_login_forms_are_read_as_a_browser_submits_them() -> None:
    form = parse_login_form(
        '<form method="post" action="?next=/x/"><input type="hidden" name="csrfmiddlewaretoken"'
        ' value="tok"><input type="email" name="login"><input type="password" name="secret">'
        '<input type="hidden" name="next" value="/x/"><input type="submit"></form>'
    )
    assert form is not None
    assert form.action == "?next=/x/"
    assert form.fields == {"csrfmiddlewaretoken": "tok", "next": "/x/"}
    assert (form.username_field, form.password_field) == ("login", "secret")
    assert parse_login_form('<form><input name="q"></form>') is None


class _PlainPage(BaseHTTPRequestHandler):
    body = b""

    def do_GET(self) -> None:
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(self.body)))
        self.end_headers()
        self.wfile.write(self.body)

    def log_message(self, *args: Any) -> None:
        pass


@contextmanager
def plain_page(html: str) -> Iterator[str]:
    """A real HTTP server on loopback that answers every GET with ``html``."""
    handler = type("Page", (_PlainPage,), {"body": html.encode()})
    server = ThreadingHTTPServer((HOST, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}/welcome/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
