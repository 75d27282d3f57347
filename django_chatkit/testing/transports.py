"""How the test client's requests reach an endpoint: Django's test client, or HTTP.

* :class:`TestClientTransport` sends them through Django's ``AsyncClient`` (the
  project's URLs, middleware and view, in this process);
* :class:`LiveTransport` sends them to a running server (``httpx``), for tests against
  daphne or uvicorn on loopback, or a deployed site.

Both log in (a session cookie), send a CSRF cookie and header as the ChatKit web
component does, and read a stream as Server-Sent Events (the terminal client's
:class:`~django_chatkit.client.transports.SSEParser`), each event parsed with the SDK's
types. Reading stops early, hanging up, when ``stop`` says so (the Stop button).
"""

from __future__ import annotations

import asyncio
import json
import urllib.parse
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from http.cookies import SimpleCookie
from typing import Any

import httpx
from chatkit import types as ck
from django.conf import settings
from django.core.files.uploadedfile import SimpleUploadedFile
from django.http.request import HttpHeaders
from django.test import AsyncClient
from django.utils.crypto import get_random_string

from django_chatkit.client.transports import SSEParser, form_errors, parse_login_form
from django_chatkit.testing.results import STREAM_EVENT

Stop = Callable[[ck.ThreadStreamEvent], bool]

#: How long, after hanging up, the test client waits for the work the request started
#: (the SDK saving a cancelled answer) before it gives up on it, in seconds.
HANG_UP_GRACE = 30.0


class LoginFailed(Exception):
    """Logging in failed (wrong credentials, no login form where one was expected)."""


@dataclass
class Answer:
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None
    events: list[ck.ThreadStreamEvent] = field(default_factory=list)
    streamed: bool = False
    hung_up: bool = False


@dataclass
class Upload:
    """A file to send: its name, bytes and MIME type."""

    name: str
    content: bytes
    mime_type: str


def _json_or_none(content: bytes) -> Any:
    try:
        return json.loads(content) if content else None
    except ValueError:
        return None


def _is_event_stream(headers: Mapping[str, str]) -> bool:
    return headers.get("Content-Type", "").split(";")[0].strip() == "text/event-stream"


async def read_events(
    chunks: AsyncIterator[bytes], stop: Stop | None
) -> tuple[list[ck.ThreadStreamEvent], bool]:
    """The events of a stream, until it ends or ``stop`` returns true (``True``: hung up)."""
    parser = SSEParser()
    events: list[ck.ThreadStreamEvent] = []
    async for chunk in chunks:
        for data in parser.feed(chunk):
            event = STREAM_EVENT.validate_python(data)
            events.append(event)
            if stop is not None and stop(event):
                return events, True
    return events, False


def csrf_header() -> str:
    """The CSRF header's name (``X-Csrftoken`` for Django's default setting)."""
    return HttpHeaders.parse_header_name(settings.CSRF_HEADER_NAME) or "X-CSRFToken"


class TestClientTransport:
    """Requests through Django's ``AsyncClient`` (a sync ``Client``'s cookies shared)."""

    __test__ = False  # not a test class, whatever pytest's naming rules say

    def __init__(self, client: Any = None) -> None:
        if client is None:
            client = AsyncClient()
        elif not isinstance(client, AsyncClient):  # django.test.Client: share its login
            shared = AsyncClient(enforce_csrf_checks=client.handler.enforce_csrf_checks)
            shared.cookies = client.cookies
            client = shared
        self.client = client
        self.csrf_token = get_random_string(32)

    def local(self, url: str) -> str:
        """A URL of the site as the test client takes it: its path and query."""
        parts = urllib.parse.urlsplit(url)
        return urllib.parse.urlunsplit(("", "", parts.path, parts.query, ""))

    def _headers(self) -> dict[str, str]:
        self.client.cookies[settings.CSRF_COOKIE_NAME] = self.csrf_token
        return {csrf_header(): self.csrf_token}

    async def request(
        self,
        method: str,
        url: str,
        *,
        content: bytes | None = None,
        content_type: str = "application/json",
        upload: Upload | None = None,
        stop: Stop | None = None,
    ) -> Answer:
        path = self.local(url)
        started = asyncio.all_tasks()
        if upload is not None and method == "POST":
            file = SimpleUploadedFile(upload.name, upload.content, upload.mime_type)
            response = await self.client.post(path, {"file": file}, headers=self._headers())
        else:
            data = upload.content if upload is not None else content
            if upload is not None:
                content_type = upload.mime_type
            response = await self.client.generic(
                method, path, data or b"", content_type=content_type, headers=self._headers()
            )
        headers = response.headers
        if not response.streaming:
            return Answer(response.status_code, headers, _json_or_none(response.content))
        chunks: Any = response.streaming_content  # an async iterator: the view is async
        try:
            events, hung_up = await read_events(chunks, stop)
        finally:
            # End the response as a server does when the client goes: the test client's
            # iterator (under the wrapper streaming_content made) closes the response.
            await chunks.aclose()
            underlying: Any = getattr(response, "_iterator", None)
            if hasattr(underlying, "aclose"):
                await underlying.aclose()
        if hung_up:
            # A server keeps running what the request started after the client went away
            # (the SDK saves the partial answer): wait for it, as a server would.
            stream = getattr(response, "event_stream", None)  # the endpoint's EventStream
            if stream is not None:
                # Its producer, up to the end of its cancellation handling. Not every task
                # the request started: stream_agent_response leaves one behind that never
                # ends (reading the context's event queue), which would cost the grace.
                running = {asyncio.ensure_future(stream.wait())}
            else:
                running = asyncio.all_tasks() - started - {asyncio.current_task()}
            if running:
                await asyncio.wait(running, timeout=HANG_UP_GRACE)
        return Answer(
            response.status_code, headers, None, events, _is_event_stream(headers), hung_up
        )

    async def force_login(self, user: Any, backend: str | None = None) -> None:
        await self.client.aforce_login(user, backend)

    async def login(self, username: str, password: str, login_url: str | None) -> None:
        if not await self.client.alogin(username=username, password=password):
            raise LoginFailed(f"Logging in as {username!r} failed: check the credentials.")

    async def logout(self) -> None:
        await self.client.alogout()


class LiveTransport:
    """Requests to a running server over HTTP (a new connection for each request).

    Cookies are kept by name, as the server last set them (a browser for one site does
    the same); the CSRF cookie is this client's own.
    """

    def __init__(self, timeout: float = 30.0) -> None:
        self.timeout = httpx.Timeout(timeout)
        self.cookies: dict[str, str] = {}
        self.csrf_token = get_random_string(32)

    def local(self, url: str) -> str:
        return url

    async def _remember(self, response: httpx.Response) -> None:
        for header in response.headers.get_list("set-cookie"):
            jar: SimpleCookie = SimpleCookie()
            jar.load(header)
            for name, morsel in jar.items():
                if morsel["max-age"] == "0" or _expired(morsel["expires"]):
                    self.cookies.pop(name, None)
                else:
                    self.cookies[name] = morsel.value

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(timeout=self.timeout, event_hooks={"response": [self._remember]})

    def _headers(self, referer: str) -> dict[str, str]:
        cookies = {**self.cookies, settings.CSRF_COOKIE_NAME: self.csrf_token}
        return {
            "Cookie": "; ".join(f"{name}={value}" for name, value in cookies.items()),
            csrf_header(): self.csrf_token,
            "Referer": referer,
        }

    async def request(
        self,
        method: str,
        url: str,
        *,
        content: bytes | None = None,
        content_type: str = "application/json",
        upload: Upload | None = None,
        stop: Stop | None = None,
    ) -> Answer:
        headers = self._headers(url)
        options: dict[str, Any] = {}
        if upload is not None and method == "POST":
            options["files"] = {"file": (upload.name, upload.content, upload.mime_type)}
        else:
            options["content"] = upload.content if upload is not None else content or b""
            headers["Content-Type"] = upload.mime_type if upload is not None else content_type
        async with (
            self._client() as http,
            http.stream(method, url, headers=headers, **options) as response,
        ):
            if not _is_event_stream(response.headers):
                body = _json_or_none(await response.aread())
                return Answer(response.status_code, response.headers, body)
            # Leaving the block closes the connection: the server sees the client go.
            events, hung_up = await read_events(response.aiter_raw(), stop)
        return Answer(response.status_code, response.headers, None, events, True, hung_up)

    async def force_login(self, user: Any, backend: str | None = None) -> None:
        """A session for ``user`` in the database the server shares with this process
        (Django's test-client login), its cookie sent from now on."""
        client = AsyncClient()
        await client.aforce_login(user, backend)
        self.cookies[settings.SESSION_COOKIE_NAME] = client.cookies[
            settings.SESSION_COOKIE_NAME
        ].value

    async def login(self, username: str, password: str, login_url: str | None) -> None:
        """Log in through the site's login form at ``login_url``, as a browser does."""
        if login_url is None:
            raise LoginFailed("Pass login_url: the page with the site's login form.")
        async with self._client() as http:
            page = await http.get(
                login_url, headers=self._headers(login_url), follow_redirects=True
            )
            form = parse_login_form(page.text) if page.status_code == 200 else None
            if form is None:
                raise LoginFailed(f"{page.url} shows no login form (HTTP {page.status_code}).")
            data = {**form.fields, form.username_field: username, form.password_field: password}
            data.setdefault("csrfmiddlewaretoken", self.csrf_token)
            target = urllib.parse.urljoin(str(page.url), form.action or str(page.url))
            answer = await http.post(target, data=data, headers=self._headers(str(page.url)))
        if not answer.is_redirect:
            reasons = " ".join(form_errors(answer.text)) or f"HTTP {answer.status_code}"
            raise LoginFailed(f"Logging in as {username!r} at {page.url} failed: {reasons}.")

    async def logout(self) -> None:
        self.cookies.clear()


def _expired(expires: str) -> bool:
    if not expires:
        return False
    try:
        return parsedate_to_datetime(expires) <= datetime.now(UTC)
    except (TypeError, ValueError):
        return False
