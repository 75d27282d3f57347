"""``ChatKitClient``: a project's tests talk to its ChatKit endpoint as ChatKit does.

One method per request of the ChatKit protocol, with the bodies the ChatKit web
component sends. A streaming request answers a
:class:`~django_chatkit.testing.results.ChatKitResult` (the SDK's typed events and
helpers to read them); the others answer the SDK's types
(``Thread``, ``Page``, ``Attachment``...) and raise
:class:`~django_chatkit.testing.results.ChatKitRefused` when the endpoint refuses.

:class:`AsyncChatKitClient` is the client for async tests; ``ChatKitClient``, its sync
twin (:mod:`django_chatkit.testing.sync`), runs each call to completion. Both go
through Django's test client (the default) or, made with ``live(url)``, to a running
server.

The endpoint's store queries the database from worker threads, and a live server from
its own process: what a test creates must be committed (pytest-django's
``transactional_db``, or ``django_db(transaction=True)``); the fixtures of
:mod:`django_chatkit.testing.plugin` see to it.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterable
from typing import Any, TypeVar

from chatkit import types as ck
from chatkit.actions import Action
from django.urls import NoReverseMatch, reverse
from pydantic import TypeAdapter

from django_chatkit.testing.bodies import (
    FileLike,
    StopAfter,
    action_body,
    json_dict,
    stop_predicate,
    thing_id,
    upload_of,
    user_input,
)
from django_chatkit.testing.results import ChatKitRefused, ChatKitResult
from django_chatkit.testing.transports import LiveTransport, LoginFailed, TestClientTransport

T = TypeVar("T")

_THREAD = TypeAdapter(ck.Thread)
_THREADS = TypeAdapter(ck.Page[ck.Thread])
_ITEMS = TypeAdapter(ck.Page[ck.ThreadItem])
_ATTACHMENT: TypeAdapter[ck.Attachment] = TypeAdapter(ck.Attachment)
_SYNC_ACTION = TypeAdapter(ck.SyncCustomActionResponse)
_TRANSCRIPTION = TypeAdapter(ck.TranscriptionResult)

__all__ = ["AsyncChatKitClient", "ChatKitRefused", "LoginFailed"]


class AsyncChatKitClient:
    """The ChatKit protocol against an endpoint, for async tests (every method awaits).

    ``AsyncChatKitClient()`` goes through Django's test client to the project's URLs
    (``client``: an ``AsyncClient`` or ``Client`` to use, e.g. one already logged in);
    ``path`` is the endpoint (default: ``reverse("django_chatkit:endpoint")``).
    ``AsyncChatKitClient.live(url)`` talks to the endpoint at ``url`` of a running server.
    """

    def __init__(self, client: Any = None, *, path: str | None = None) -> None:
        self._transport: TestClientTransport | LiveTransport = TestClientTransport(client)
        self._endpoint = path

    @classmethod
    def live(cls, url: str, *, timeout: float = 30.0) -> AsyncChatKitClient:
        """A client of the endpoint at ``url`` (``http://127.0.0.1:8000/chatkit/``)."""
        client = cls.__new__(cls)
        client._transport = LiveTransport(timeout)
        client._endpoint = url
        return client

    @property
    def endpoint(self) -> str:
        """The endpoint's path (Django's test client) or URL (a live server)."""
        if self._endpoint is None:
            try:
                self._endpoint = reverse("django_chatkit:endpoint")
            except NoReverseMatch:
                self._endpoint = "/chatkit/"
        return self._endpoint

    @property
    def is_live(self) -> bool:
        return isinstance(self._transport, LiveTransport)

    # -- logging in ----------------------------------------------------------------

    async def force_login(self, user: Any, backend: str | None = None) -> None:
        """Log in as ``user`` without a password (a session made as Django's test client
        makes it; a live server must share this test run's database)."""
        await self._transport.force_login(user, backend)

    async def login(self, username: str, password: str, *, login_url: str | None = None) -> None:
        """Log in with a password: Django's ``authenticate()`` through the test client, or
        the login form at ``login_url`` of a live server. Raises ``LoginFailed``."""
        await self._transport.login(username, password, login_url)

    async def logout(self) -> None:
        await self._transport.logout()

    # -- any request ---------------------------------------------------------------

    async def send(
        self, body: dict[str, Any] | str | bytes, *, stop_after: StopAfter = None
    ) -> ChatKitResult:
        """POST a request body (a dict, or raw JSON) to the endpoint; never raises on a
        refusal. ``stop_after`` (streams): hang up after that many events, after the first
        event of that class, or once the predicate is true (the Stop button)."""
        raw = (
            body
            if isinstance(body, bytes)
            else (body if isinstance(body, str) else json.dumps(body)).encode()
        )
        parsed: dict[str, Any] = body if isinstance(body, dict) else json_dict(raw)
        answer = await self._transport.request(
            "POST", self.endpoint, content=raw, stop=stop_predicate(stop_after)
        )
        params = parsed.get("params")
        if not isinstance(params, dict):
            params = {}
        return ChatKitResult(
            op=str(parsed.get("type", "?")),
            status=answer.status,
            headers=answer.headers,
            body=answer.body,
            events=answer.events,
            streamed=answer.streamed,
            hung_up=answer.hung_up,
            request_thread_id=params.get("thread_id"),
        )

    async def _stream(
        self, op: str, params: dict[str, Any], stop_after: StopAfter
    ) -> ChatKitResult:
        return await self.send({"type": op, "params": params}, stop_after=stop_after)

    async def _call(
        self, op: str, params: dict[str, Any], adapter: TypeAdapter[T] | None
    ) -> T | None:
        result = (await self.send({"type": op, "params": params})).raise_for_status()
        return adapter.validate_python(result.body) if adapter is not None else None

    # -- streaming requests --------------------------------------------------------

    async def create_thread(
        self,
        text: str = "",
        *,
        attachments: Iterable[str | ck.AttachmentBase] = (),
        quoted_text: str | None = None,
        tool_choice: str | None = None,
        model: str | None = None,
        content: list[dict[str, Any]] | None = None,
        stop_after: StopAfter = None,
    ) -> ChatKitResult:
        """``threads.create``: a new thread whose first message is ``text`` (or the
        ``content`` parts given), with ``attachments`` (ids or attachments)."""
        message = user_input(text, attachments, quoted_text, tool_choice, model, content)
        return await self._stream("threads.create", {"input": message}, stop_after)

    async def add_user_message(
        self,
        thread: str | ck.ThreadMetadata,
        text: str = "",
        *,
        attachments: Iterable[str | ck.AttachmentBase] = (),
        quoted_text: str | None = None,
        tool_choice: str | None = None,
        model: str | None = None,
        content: list[dict[str, Any]] | None = None,
        stop_after: StopAfter = None,
    ) -> ChatKitResult:
        """``threads.add_user_message``: the user writes ``text`` in ``thread``."""
        message = user_input(text, attachments, quoted_text, tool_choice, model, content)
        params = {"thread_id": thing_id(thread), "input": message}
        return await self._stream("threads.add_user_message", params, stop_after)

    async def add_client_tool_output(
        self, thread: str | ck.ThreadMetadata, result: Any, *, stop_after: StopAfter = None
    ) -> ChatKitResult:
        """``threads.add_client_tool_output``: the browser's answer to the pending client
        tool call; the agent goes on."""
        params = {"thread_id": thing_id(thread), "result": result}
        return await self._stream("threads.add_client_tool_output", params, stop_after)

    async def add_structured_input(
        self,
        thread: str | ck.ThreadMetadata,
        item: str | ck.StructuredInputItem,
        answers: dict[str, list[str]] | ck.StructuredInputSubmission,
        *,
        stop_after: StopAfter = None,
    ) -> ChatKitResult:
        """``threads.add_structured_input``: answers (input id -> values) to a pending
        structured input item."""
        if isinstance(answers, ck.StructuredInputSubmission):
            submission = answers.model_dump(mode="json")
        else:
            submission = {"answers": {key: {"values": values} for key, values in answers.items()}}
        params = {"thread_id": thing_id(thread), "item_id": thing_id(item), "input": submission}
        return await self._stream("threads.add_structured_input", params, stop_after)

    async def retry(
        self,
        thread: str | ck.ThreadMetadata,
        item: str | ck.UserMessageItem,
        *,
        stop_after: StopAfter = None,
    ) -> ChatKitResult:
        """``threads.retry_after_item``: answer the user message ``item`` again (what came
        after it is deleted)."""
        params = {"thread_id": thing_id(thread), "item_id": thing_id(item)}
        return await self._stream("threads.retry_after_item", params, stop_after)

    async def custom_action(
        self,
        thread: str | ck.ThreadMetadata,
        action: Action[str, Any] | dict[str, Any] | str,
        item: str | ck.WidgetItem | None = None,
        *,
        payload: Any = None,
        stop_after: StopAfter = None,
    ) -> ChatKitResult:
        """``threads.custom_action``: a widget's action (``{"type", "payload"}``, an
        ``Action``, or its type with ``payload=``), sent by the widget ``item``."""
        params: dict[str, Any] = {
            "thread_id": thing_id(thread),
            "action": action_body(action, payload),
        }
        if item is not None:
            params["item_id"] = thing_id(item)
        return await self._stream("threads.custom_action", params, stop_after)

    # -- other requests ------------------------------------------------------------

    async def sync_custom_action(
        self,
        thread: str | ck.ThreadMetadata,
        action: Action[str, Any] | dict[str, Any] | str,
        item: str | ck.WidgetItem | None = None,
        *,
        payload: Any = None,
    ) -> ck.SyncCustomActionResponse:
        """``threads.sync_custom_action``: an action answered with one updated item."""
        params: dict[str, Any] = {
            "thread_id": thing_id(thread),
            "action": action_body(action, payload),
        }
        if item is not None:
            params["item_id"] = thing_id(item)
        return await self._call("threads.sync_custom_action", params, _SYNC_ACTION)  # type: ignore[return-value]

    async def list_threads(
        self, *, limit: int | None = None, order: str = "desc", after: str | None = None
    ) -> ck.Page[ck.Thread]:
        """``threads.list``: a page of the user's threads (newest first by default)."""
        params = {"limit": limit, "order": order, "after": after}
        return await self._call("threads.list", params, _THREADS)  # type: ignore[return-value]

    async def get_thread(self, thread: str | ck.ThreadMetadata) -> ck.Thread:
        """``threads.get_by_id``: the thread with its items, as the client sees them."""
        return await self._call("threads.get_by_id", {"thread_id": thing_id(thread)}, _THREAD)  # type: ignore[return-value]

    async def list_items(
        self,
        thread: str | ck.ThreadMetadata,
        *,
        limit: int | None = None,
        order: str = "desc",
        after: str | None = None,
    ) -> ck.Page[ck.ThreadItem]:
        """``items.list``: a page of the thread's items (newest first by default)."""
        params = {"thread_id": thing_id(thread), "limit": limit, "order": order, "after": after}
        return await self._call("items.list", params, _ITEMS)  # type: ignore[return-value]

    async def update(self, thread: str | ck.ThreadMetadata, *, title: str) -> ck.Thread:
        """``threads.update``: rename the thread."""
        params = {"thread_id": thing_id(thread), "title": title}
        return await self._call("threads.update", params, _THREAD)  # type: ignore[return-value]

    async def delete(self, thread: str | ck.ThreadMetadata) -> None:
        """``threads.delete``."""
        await self._call("threads.delete", {"thread_id": thing_id(thread)}, None)

    async def feedback(
        self,
        thread: str | ck.ThreadMetadata,
        items: Iterable[str | ck.ThreadItemBase] | str | ck.ThreadItemBase,
        kind: str = "positive",
    ) -> None:
        """``items.feedback``: thumbs up (``"positive"``) or down on items."""
        chosen = [items] if isinstance(items, str | ck.ThreadItemBase) else list(items)
        params = {
            "thread_id": thing_id(thread),
            "item_ids": [thing_id(item) for item in chosen],
            "kind": kind,
        }
        await self._call("items.feedback", params, None)

    async def create_attachment(self, name: str, size: int, mime_type: str) -> ck.Attachment:
        """``attachments.create``: a two-phase upload's attachment, with its
        ``upload_descriptor`` (send the bytes with ``upload(file, attachment=...)``)."""
        params = {"name": name, "size": size, "mime_type": mime_type}
        return await self._call("attachments.create", params, _ATTACHMENT)  # type: ignore[return-value]

    async def delete_attachment(self, attachment: str | ck.AttachmentBase) -> None:
        """``attachments.delete``."""
        await self._call("attachments.delete", {"attachment_id": thing_id(attachment)}, None)

    async def transcribe(
        self, audio: bytes, mime_type: str = "audio/webm"
    ) -> ck.TranscriptionResult:
        """``input.transcribe``: speech to text (the server's ``transcribe()``)."""
        params = {"audio_base64": base64.b64encode(audio).decode(), "mime_type": mime_type}
        return await self._call("input.transcribe", params, _TRANSCRIPTION)  # type: ignore[return-value]

    async def upload(
        self,
        file: FileLike,
        *,
        name: str | None = None,
        mime_type: str | None = None,
        attachment: ck.AttachmentBase | None = None,
    ) -> ck.Attachment:
        """Upload a file (bytes, a path, or an open binary file): to the direct-upload
        view beside the endpoint, or, given the ``attachment`` of
        :meth:`create_attachment`, to its upload URL. Answers the attachment."""
        sent = upload_of(file, name, mime_type)
        if attachment is None:
            url, method = self.endpoint + "attachments/upload/", "POST"
        else:
            descriptor = attachment.upload_descriptor
            if descriptor is None:
                raise ValueError(f"Attachment {attachment.id} has no upload URL.")
            url, method = self._transport.local(str(descriptor.url)), descriptor.method
        answer = await self._transport.request(method, url, upload=sent)
        if not 200 <= answer.status < 300:
            raise ChatKitRefused("upload", answer.status, answer.body)
        return _ATTACHMENT.validate_python(answer.body)
