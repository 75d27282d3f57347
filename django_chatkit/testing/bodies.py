"""The bodies of ChatKit requests, as the ChatKit web component sends them."""

from __future__ import annotations

import json
import mimetypes
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, Any

from chatkit import types as ck
from chatkit.actions import Action

from django_chatkit.testing.transports import Stop, Upload

StopAfter = int | type | Callable[[ck.ThreadStreamEvent], bool] | None
FileLike = bytes | str | os.PathLike[str] | IO[bytes]


def thing_id(thing: str | Any) -> str:
    """An id, or the ``id`` of a thread, item or attachment."""
    return thing if isinstance(thing, str) else thing.id


def stop_predicate(stop_after: StopAfter) -> Stop | None:
    """``stop_after`` as a predicate: a count of events, an event class, or a predicate."""
    if stop_after is None:
        return None
    if isinstance(stop_after, int):
        seen = 0

        def enough(event: ck.ThreadStreamEvent) -> bool:
            nonlocal seen
            seen += 1
            return seen >= stop_after

        return enough
    if isinstance(stop_after, type):
        return lambda event: isinstance(event, stop_after)
    return stop_after


def user_input(
    text: str,
    attachments: Iterable[str | ck.AttachmentBase],
    quoted_text: str | None,
    tool_choice: str | None,
    model: str | None,
    content: list[dict[str, Any]] | None,
) -> dict[str, Any]:
    options: dict[str, Any] = {}
    if tool_choice is not None:
        options["tool_choice"] = {"id": tool_choice}
    if model is not None:
        options["model"] = model
    body: dict[str, Any] = {
        "content": content if content is not None else [{"type": "input_text", "text": text}],
        "attachments": [thing_id(attachment) for attachment in attachments],
        "inference_options": options,
    }
    if quoted_text is not None:
        body["quoted_text"] = quoted_text
    return body


def action_body(action: Action[str, Any] | dict[str, Any] | str, payload: Any) -> dict[str, Any]:
    if isinstance(action, str):
        return {"type": action, "payload": payload}
    if isinstance(action, Action):
        return action.model_dump(mode="json")
    return dict(action)


def upload_of(file: FileLike, name: str | None, mime_type: str | None) -> Upload:
    if isinstance(file, bytes):
        content, name = file, name or "upload.bin"
    elif isinstance(file, str | os.PathLike):
        path = Path(file)
        content, name = path.read_bytes(), name or path.name
    else:
        content = file.read()
        name = name or os.path.basename(getattr(file, "name", "") or "upload.bin")
    mime_type = mime_type or mimetypes.guess_type(name)[0] or "application/octet-stream"
    return Upload(name, content, mime_type)


def json_dict(raw: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(raw)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
