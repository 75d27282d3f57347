"""Transports of the terminal client: how a request reaches a ChatKit server.

* :class:`InProcessTransport` hands requests to the project's server in this process
  (what ``respond()`` yields is serialized and parsed exactly as over HTTP);
* :class:`HttpTransport` posts them to any deployed endpoint, with a Django session
  login and the CSRF header.

Both call ``on_event`` with each Server-Sent Event as a dict (:class:`SSEParser`).
"""

from __future__ import annotations

import asyncio
import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from html.parser import HTMLParser
from http.cookiejar import CookieJar
from typing import Any, Protocol

from asgiref.sync import sync_to_async
from chatkit.server import ChatKitServer, NonStreamingResult
from chatkit.store import NotFoundError
from django.db import connections
from pydantic import ValidationError

from django_chatkit.exceptions import ChatKitError
from django_chatkit.server import parse_request, process_parsed
from django_chatkit.views.preflight import preflight

EventHandler = Callable[[dict[str, Any]], None]


class TextOutput(Protocol):
    def write(self, text: str, /) -> Any: ...
    def flush(self) -> Any: ...


class ChatError(Exception):
    """A request the server refused (the message is shown to the user)."""


class EndpointError(ChatError):
    """The endpoint answered an HTTP error: its ``status`` and JSON ``body`` (or ``{}``)."""

    def __init__(self, message: str, status: int, body: dict[str, Any]) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class LoginError(ChatError):
    """Logging in failed; the message says why and what to do."""


# Errors of a connection: refused, reset, timed out, a broken HTTP answer.
CONNECTION_ERRORS = (OSError, http.client.HTTPException)


class SSEParser:
    """Incremental Server-Sent Events parser: one JSON object per ``data:`` frame.

    Comment lines (the endpoint's keep-alives) yield no event; ``comments`` keeps them, in
    order, for a caller that wants to see them.
    """

    def __init__(self) -> None:
        self.buffer = b""
        self.data: list[bytes] = []
        self.comments: list[bytes] = []

    def feed(self, chunk: bytes) -> list[dict[str, Any]]:
        self.buffer += chunk
        *lines, self.buffer = self.buffer.split(b"\n")
        events = []
        for raw in lines:
            line = raw.rstrip(b"\r")
            if not line:
                if self.data:
                    events.append(json.loads(b"\n".join(self.data)))
                    self.data = []
            elif line.startswith(b"data:"):
                self.data.append(line[5:].removeprefix(b" "))
            elif line.startswith(b":"):
                self.comments.append(line)
            # other fields (event:, id:, retry:) are unused
        return events


class InProcessTransport:
    """Requests go to ``server.process()`` in this process, as the view would send them."""

    def __init__(self, server: ChatKitServer[Any], context: Any) -> None:
        self.server = server
        self.context = context
        self.runner = asyncio.Runner()

    def describe(self) -> str:
        server_class = type(self.server)
        return f"{server_class.__module__}.{server_class.__qualname__} (in-process)"

    def send(self, body: dict[str, Any], on_event: EventHandler) -> dict[str, Any] | None:
        return self.runner.run(self._send(body, on_event))

    async def _send(self, body: dict[str, Any], on_event: EventHandler) -> dict[str, Any] | None:
        payload = json.dumps(body).encode()
        try:
            request = parse_request(payload)
            await preflight(self.server, request, self.context)
            result = await process_parsed(self.server, request, payload, self.context)
            if isinstance(result, NonStreamingResult):
                return json.loads(result.json)
            parser = SSEParser()
            async for chunk in result:
                for event in parser.feed(chunk):
                    on_event(event)
            return None
        except (NotFoundError, ChatKitError, ValidationError, ValueError) as exc:
            raise ChatError(str(exc)) from exc
        finally:
            # ORM calls made by tools ran in asgiref's executor thread: free its connection.
            await sync_to_async(connections.close_all)()

    def cancel(self, thread_id: str) -> bool:
        """Nothing to send: the answer ran in this process, and Ctrl-C made asyncio's
        runner cancel it (the SDK saved the partial answer and its "cancelled" note)."""
        return True

    def close(self) -> None:
        self.runner.close()


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class LoginForm:
    """The first form of a page with a password field, as a browser would submit it."""

    action: str
    fields: dict[str, str]  # hidden inputs (CSRF token, next) with their values
    username_field: str
    password_field: str


ERROR_CLASSES = {"errorlist", "errornote"}


class _LoginFormParser(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []
        self.current: dict[str, Any] | None = None
        self.errors: list[str] = []
        self.error_tag: str | None = None  # inside an error message of this tag
        self.error_depth = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = {name: value or "" for name, value in attrs}
        if tag == "form":
            self.current = {"action": attributes.get("action", ""), "inputs": []}
            self.forms.append(self.current)
        elif tag == "input" and self.current is not None:
            self.current["inputs"].append(attributes)
        if self.error_tag is None:
            # {{ form.non_field_errors }} (ul.errorlist), the admin's p.errornote
            if ERROR_CLASSES & set(attributes.get("class", "").split()):
                self.error_tag, self.error_depth = tag, 1
        elif tag == self.error_tag:
            self.error_depth += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "form":
            self.current = None
        elif tag == self.error_tag:
            self.error_depth -= 1
            if not self.error_depth:
                self.error_tag = None

    def handle_data(self, data: str) -> None:
        if self.error_tag is not None and data.strip():
            self.errors.append(data.strip())


def parse_login_form(page: str) -> LoginForm | None:
    """The login form of ``page`` (a Django ``LoginView`` or the admin's), or ``None``."""
    parser = _LoginFormParser()
    parser.feed(page)
    for form in parser.forms:
        inputs = form["inputs"]
        password = next((i for i in inputs if i.get("type", "").lower() == "password"), None)
        if password is None or not password.get("name"):
            continue
        named = [i for i in inputs if i.get("name")]
        hidden = {i["name"]: i.get("value", "") for i in named if i.get("type") == "hidden"}
        text = [i["name"] for i in named if i.get("type", "text").lower() in ("text", "email")]
        username = "username" if any(i["name"] == "username" for i in named) else None
        return LoginForm(
            action=form["action"],
            fields=hidden,
            username_field=username or (text[0] if text else "username"),
            password_field=password["name"],
        )
    return None


def form_errors(page: str) -> list[str]:
    """The texts of a page's Django ``errorlist``s (why a login form refused)."""
    parser = _LoginFormParser()
    parser.feed(page)
    return parser.errors


@dataclass
class HttpTransport:
    """Requests go to a ChatKit endpoint over HTTP, with a session cookie and CSRF header."""

    url: str
    headers: dict[str, str] = field(default_factory=dict)
    csrf_cookie_name: str = "csrftoken"
    csrf_header_name: str = "X-CSRFToken"
    timeout: float = 300.0
    cookies: CookieJar = field(default_factory=CookieJar)

    def __post_init__(self) -> None:
        self.opener = urllib.request.build_opener(urllib.request.HTTPCookieProcessor(self.cookies))

    def describe(self) -> str:
        return self.url

    def _cookie(self, name: str) -> str | None:
        return next((cookie.value for cookie in self.cookies if cookie.name == name), None)

    def probe(self) -> None:
        """Ask for one thread: ``EndpointError`` (401 when a login is needed) or ``ChatError``
        (unreachable, not a ChatKit endpoint) when chatting would fail."""
        self.send({"type": "threads.list", "params": {"limit": 1, "order": "desc"}}, _ignore)

    def login(self, login_url: str, username: str, password: str) -> str:
        """Log in through the login form at ``login_url`` as a browser would (Django's
        ``LoginView`` or the admin's), keeping the session cookie.

        Returns the URL of the login page (after redirects). Raises ``LoginError`` with a
        sentence that says what to do.
        """
        try:
            with self.opener.open(login_url, timeout=self.timeout) as response:
                page_url = response.geturl()
                page = response.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            exc.close()
            if exc.code == 404:
                raise LoginError(
                    f"There is no login page at {login_url} (HTTP 404). Pass --login-url "
                    "with the site's login page (a path such as /accounts/login/ is "
                    "resolved against --url), or set LOGIN_URL on the server to it."
                ) from exc
            raise LoginError(
                f"The login page {login_url} answers HTTP {exc.code} {exc.reason}: pass "
                "--login-url with a page that shows the login form."
            ) from exc
        except CONNECTION_ERRORS as exc:
            raise LoginError(
                f"Cannot reach the login page {login_url}: {_reason(exc)}. Check --login-url "
                "and that the server is running."
            ) from exc
        form = parse_login_form(page)
        if form is None:
            raise LoginError(
                f"{page_url} is not a login form (it has no password field). Pass "
                "--login-url with the site's login page, e.g. --login-url /accounts/login/."
            )
        data = {
            **form.fields,
            form.username_field: username,
            form.password_field: password,
        }
        if "csrfmiddlewaretoken" not in data and self._cookie(self.csrf_cookie_name):
            data["csrfmiddlewaretoken"] = self._cookie(self.csrf_cookie_name) or ""
        target = urllib.parse.urljoin(page_url, form.action or page_url)
        request = urllib.request.Request(
            target, data=urllib.parse.urlencode(data).encode(), headers={"Referer": page_url}
        )
        # A successful login redirects; where to does not matter (and may not exist).
        no_redirects = urllib.request.build_opener(
            urllib.request.HTTPCookieProcessor(self.cookies), _NoRedirects()
        )
        try:
            with no_redirects.open(request, timeout=self.timeout) as response:
                answer = response.read().decode(errors="replace")
        except urllib.error.HTTPError as exc:
            detail = _detail(exc)
            if exc.code in (301, 302, 303, 307, 308):
                return page_url
            raise LoginError(
                f"Logging in as {username!r} at {page_url} failed: the form was refused "
                f"with HTTP {exc.code} {exc.reason}{detail}."
            ) from exc
        except CONNECTION_ERRORS as exc:
            raise LoginError(f"Cannot reach the login page {target}: {_reason(exc)}.") from exc
        reasons = " ".join(form_errors(answer))
        raise LoginError(
            f"Logging in as {username!r} at {page_url} failed: "
            + (f"the page says “{reasons}”" if reasons else "the page showed its form again")
            + ". Check --user and --password (the admin's login page only admits staff)."
        )

    def _headers(self) -> dict[str, str]:
        headers = {
            "Content-Type": "application/json",
            "Accept": "text/event-stream, application/json",
            "Referer": self.url,
            **self.headers,
        }
        token = self._cookie(self.csrf_cookie_name)
        if token:
            headers[self.csrf_header_name] = token
        return headers

    def send(self, body: dict[str, Any], on_event: EventHandler) -> dict[str, Any] | None:
        request = urllib.request.Request(
            self.url, data=json.dumps(body).encode(), headers=self._headers()
        )
        try:
            response = self.opener.open(request, timeout=self.timeout)
        except urllib.error.HTTPError as exc:
            raise _endpoint_error(exc) from exc
        except CONNECTION_ERRORS as exc:
            raise ChatError(f"Cannot reach {self.url}: {_reason(exc)}") from exc
        try:
            with response:
                if response.headers.get_content_type() == "text/event-stream":
                    parser = SSEParser()
                    for line in iter(response.readline, b""):
                        for event in parser.feed(line):
                            on_event(event)
                    return None
                answer = json.loads(response.read() or b"{}")
        except CONNECTION_ERRORS as exc:
            raise ChatError(f"The connection to {self.url} broke: {_reason(exc)}") from exc
        except ValueError as exc:
            raise ChatError(f"{self.url} did not answer ChatKit's JSON: {exc}") from exc
        if not isinstance(answer, dict):
            raise ChatError(f"{self.url} did not answer ChatKit's JSON.")
        return answer

    def cancel_url(self, thread_id: str) -> str:
        """The endpoint's cancel URL for ``thread_id`` (``threads/<id>/cancel/`` beside it)."""
        quoted = urllib.parse.quote(thread_id, safe="")
        return f"{self.url.rstrip('/')}/threads/{quoted}/cancel/"

    def cancel(self, thread_id: str) -> bool:
        """Stop the answer running in ``thread_id`` (what the browser's Stop sends):
        whether the server cancelled one. Durable answers need it, since a closed
        connection does not stop them; without, it answers ``False``."""
        request = urllib.request.Request(
            self.cancel_url(thread_id), data=b"", headers=self._headers(), method="POST"
        )
        try:
            with self.opener.open(request, timeout=self.timeout) as response:
                answer = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            raise _endpoint_error(exc) from exc
        except CONNECTION_ERRORS as exc:
            raise ChatError(f"Cannot reach {self.url}: {_reason(exc)}") from exc
        except ValueError as exc:
            raise ChatError(f"{self.url} did not answer the cancel with JSON: {exc}") from exc
        return isinstance(answer, dict) and answer.get("cancelled") is True

    def close(self) -> None:
        pass


def _ignore(event: dict[str, Any]) -> None:
    pass


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    return str(reason if reason is not None else exc) or type(exc).__name__


def _error_body(exc: urllib.error.HTTPError) -> dict[str, Any]:
    """The JSON object of an error answer (``{}`` if it is not one); closes the answer."""
    try:
        body = json.loads(exc.read())
    except (ValueError, *CONNECTION_ERRORS):
        return {}
    finally:
        exc.close()
    return body if isinstance(body, dict) else {}


def _detail(exc: urllib.error.HTTPError) -> str:
    body = _error_body(exc)
    message = body.get("message") or body.get("error")
    return f" ({message})" if message else ""


def _endpoint_error(exc: urllib.error.HTTPError) -> EndpointError:
    body = _error_body(exc)
    message = body.get("message") or body.get("error") or exc.reason
    return EndpointError(f"HTTP {exc.code}: {message}", exc.code, body)
