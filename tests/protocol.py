"""ChatKit request bodies and SSE parsing shared by the endpoint tests."""

from __future__ import annotations

import json
from typing import Any


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
