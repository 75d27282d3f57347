"""ChatKit request bodies, requests through Django's test client, and the events of SSE
bodies and streams, read by the terminal client's parser
(:class:`django_chatkit.client.transports.SSEParser`): the endpoint tests' one parser."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
from django.conf import settings
from django.test import AsyncClient
from django.utils.crypto import get_random_string

from django_chatkit.client.transports import SSEParser

URL = "/chatkit/"


def user_input(text: str, attachments: list[str] | None = None) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": attachments or [],
        "inference_options": {},
    }


def new_thread(text: str, attachments: list[str] | None = None) -> dict[str, Any]:
    """A ``threads.create`` request whose first message is ``text``."""
    return {"type": "threads.create", "params": {"input": user_input(text, attachments)}}


def add_message(thread_id: str, text: str) -> dict[str, Any]:
    """A ``threads.add_user_message`` request."""
    return {
        "type": "threads.add_user_message",
        "params": {"thread_id": thread_id, "input": user_input(text)},
    }


def parse_sse(body: bytes) -> list[dict[str, Any]]:
    """The events of a complete SSE body, which must be framed as the endpoint frames
    them: each event one ``data: <json>`` line and a blank line; no comment, no other
    field, nothing cut off."""
    assert body.endswith(b"\n\n"), body[-80:]
    lines = body.split(b"\n")
    assert all(line.startswith(b"data: ") for line in lines[:-1:2]), body[:200]
    assert not any(lines[1::2]), body[:200]
    parser = SSEParser()
    events = parser.feed(body)
    assert len(events) == len(lines) // 2 and not parser.buffer and not parser.data
    return events


async def result_events(result: AsyncIterator[bytes]) -> list[dict[str, Any]]:
    """The events of a ``StreamingResult`` (``server.process()`` of a streaming request),
    one complete frame per chunk."""
    events = []
    async for chunk in result:
        [event] = parse_sse(chunk)
        events.append(event)
    return events


def sse_events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """The events of a streamed ``httpx`` response as they arrive. Fails on a comment (a
    keep-alive where none is due: see tests/views/test_keepalive.py for those) and if the
    stream ends in the middle of a frame."""
    parser = SSEParser()
    for chunk in response.iter_raw():
        yield from parser.feed(chunk)
        assert not parser.comments, parser.comments
    assert not parser.buffer and not parser.data, f"the stream was cut off: {parser.buffer[:80]!r}"


async def post(client: AsyncClient, body: Any, url: str = URL, **extra: Any) -> Any:
    """POST ``body`` (a request dict, or raw bytes) as JSON to the endpoint at ``url``."""
    data = body if isinstance(body, bytes) else json.dumps(body)
    return await client.post(url, data=data, content_type="application/json", **extra)


async def stream(client: AsyncClient, body: Any, url: str = URL, **extra: Any) -> list[Any]:
    """POST a streaming request; the events, once the stream has ended."""
    response = await post(client, body, url, **extra)
    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "text/event-stream"
    return parse_sse(b"".join([chunk async for chunk in response.streaming_content]))


def is_delta(event: dict[str, Any], text: str | None = None) -> bool:
    """Whether ``event`` adds ``text`` (any text if ``None``) to an assistant message."""
    update = event.get("update", {})
    return (
        event["type"] == "thread.item.updated"
        and update.get("type") == "assistant_message.content_part.text_delta"
        and (text is None or update["delta"] == text)
    )


def http_scope(body: bytes, headers: dict[str, str]) -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/chatkit/",
        "raw_path": b"/chatkit/",
        "query_string": b"",
        "root_path": "",
        "headers": [
            (b"host", b"testserver"),
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            *((name.lower().encode(), value.encode()) for name, value in headers.items()),
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
    }


def session_http_scope(client: Any, body: bytes) -> dict[str, Any]:
    """An ASGI scope POSTing ``body`` to the endpoint with ``client``'s session cookie and a
    CSRF token (for tests that drive Django's ASGI handler themselves)."""
    token = get_random_string(32)
    session = client.cookies[settings.SESSION_COOKIE_NAME].value
    return http_scope(
        body,
        {
            "Cookie": f"{settings.SESSION_COOKIE_NAME}={session}; "
            f"{settings.CSRF_COOKIE_NAME}={token}",
            "X-CSRFToken": token,
        },
    )
