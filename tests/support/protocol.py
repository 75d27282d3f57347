"""ChatKit request bodies and SSE parsing shared by the endpoint tests."""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.utils.crypto import get_random_string


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


def frame_event(frame: bytes) -> dict[str, Any]:
    """The ChatKit event of one ``data: <json>`` frame (fails on anything else)."""
    assert frame.startswith(b"data: "), frame[:80]
    assert b"\n" not in frame, frame[:80]
    return json.loads(frame[len(b"data: ") :])


def parse_sse(body: bytes) -> list[dict[str, Any]]:
    """The events of a complete SSE body; every frame must be ``data: <json>\\n\\n``."""
    assert body.endswith(b"\n\n"), body[-80:]
    return [frame_event(frame) for frame in body[:-2].split(b"\n\n")]


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
