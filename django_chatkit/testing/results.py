"""What a ChatKit endpoint answered one request, as the SDK's own types.

:class:`ChatKitResult` holds the HTTP status of the answer and either its JSON body or
the Server-Sent Events of a stream, each parsed into the SDK's ``ThreadStreamEvent``
union (``chatkit.types``), plus the helpers a test reads: the thread, the items the
stream finished, the assistant's text, widgets, progress updates, a pending client tool
call and the error event. A refusal (any answer but 2xx) keeps its status and the
``{"error": code, "message": text}`` of django_chatkit's views.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from chatkit import types as ck
from pydantic import TypeAdapter

#: Parses one ``data:`` frame of a ChatKit stream.
STREAM_EVENT: TypeAdapter[ck.ThreadStreamEvent] = TypeAdapter(ck.ThreadStreamEvent)

E = TypeVar("E")


class ChatKitRefused(Exception):
    """The endpoint refused a request: ``status`` (401, 404...), the JSON ``code`` and
    ``message`` of the answer (``None`` if it had none) and the whole ``body``."""

    def __init__(self, op: str, status: int, body: Any) -> None:
        self.op = op
        self.status = status
        self.body = body
        self.code = body.get("error") if isinstance(body, dict) else None
        self.message = body.get("message") if isinstance(body, dict) else None
        detail = ": ".join(str(part) for part in (self.code, self.message) if part)
        super().__init__(
            f"{op} was refused with HTTP {status}" + (f" ({detail})" if detail else "")
        )


@dataclass
class ChatKitResult:
    """The answer to one request: a stream's ``events``, or a JSON ``body``."""

    op: str  # the request's type, e.g. "threads.create"
    status: int
    headers: Mapping[str, str] = field(default_factory=dict)
    body: Any = None  # the JSON answer (non-streaming requests and refusals)
    events: list[ck.ThreadStreamEvent] = field(default_factory=list)
    streamed: bool = False  # the answer was text/event-stream
    hung_up: bool = False  # the client hung up before the stream ended (stop_after)
    request_thread_id: str | None = None  # the thread the request named, if any

    # -- the HTTP answer -----------------------------------------------------------

    @property
    def ok(self) -> bool:
        return 200 <= self.status < 300

    @property
    def error_code(self) -> str | None:
        """The ``error`` of a refusal's JSON (``"not_found"``...), ``None`` if accepted."""
        if self.ok or not isinstance(self.body, dict):
            return None
        return self.body.get("error")

    @property
    def error_message(self) -> str | None:
        if self.ok or not isinstance(self.body, dict):
            return None
        return self.body.get("message")

    def raise_for_status(self) -> ChatKitResult:
        """``self`` if the request was accepted, else raise :class:`ChatKitRefused`."""
        if not self.ok:
            raise ChatKitRefused(self.op, self.status, self.body)
        return self

    # -- the stream ----------------------------------------------------------------

    def events_of(self, *types: type[E]) -> list[E]:
        """The stream's events of the given classes, in order."""
        self.raise_for_status()
        return [event for event in self.events if isinstance(event, types)]

    @property
    def thread(self) -> ck.Thread | None:
        """The thread as the stream last sent it (``thread.created``, ``thread.updated``)."""
        sent: list[ck.ThreadCreatedEvent | ck.ThreadUpdatedEvent]
        sent = self.events_of(ck.ThreadCreatedEvent, ck.ThreadUpdatedEvent)
        return sent[-1].thread if sent else None

    @property
    def thread_id(self) -> str | None:
        """The id of the thread: the one created, or the one the request named."""
        thread = self.thread
        return thread.id if thread is not None else self.request_thread_id

    @property
    def items(self) -> list[ck.ThreadItem]:
        """The items this stream finished (``thread.item.done``) or replaced, in the order
        they first appeared, as they ended: replacements applied, removed items left out."""
        finished: dict[str, ck.ThreadItem] = {}
        changes: list[
            ck.ThreadItemDoneEvent | ck.ThreadItemReplacedEvent | ck.ThreadItemRemovedEvent
        ]
        changes = self.events_of(
            ck.ThreadItemDoneEvent, ck.ThreadItemReplacedEvent, ck.ThreadItemRemovedEvent
        )
        for event in changes:
            if isinstance(event, ck.ThreadItemRemovedEvent):
                finished.pop(event.item_id, None)
            else:
                finished[event.item.id] = event.item
        return list(finished.values())

    def items_of(self, *types: type[E]) -> list[E]:
        """The finished :attr:`items` of the given classes."""
        return [item for item in self.items if isinstance(item, types)]

    @property
    def user_message(self) -> ck.UserMessageItem | None:
        """The user's message this request added (``None`` if it added none)."""
        messages = self.items_of(ck.UserMessageItem)
        return messages[-1] if messages else None

    @property
    def assistant_messages(self) -> list[ck.AssistantMessageItem]:
        return self.items_of(ck.AssistantMessageItem)

    @property
    def text(self) -> str:
        """The assistant's text: each finished assistant message's text, separated by a
        blank line (``""`` if the stream finished none)."""
        return "\n\n".join(
            "".join(part.text for part in message.content) for message in self.assistant_messages
        )

    @property
    def deltas(self) -> list[str]:
        """The pieces the assistant's text was streamed in, in order."""
        return [
            event.update.delta
            for event in self.events_of(ck.ThreadItemUpdatedEvent)
            if isinstance(event.update, ck.AssistantMessageContentPartTextDelta)
        ]

    @property
    def widgets(self) -> list[ck.WidgetItem]:
        """The widget items, as they ended (``.widget`` is the root, ``.id`` the sender
        to name in :meth:`~django_chatkit.testing.ChatKitClient.custom_action`)."""
        return self.items_of(ck.WidgetItem)

    @property
    def progress_updates(self) -> list[ck.ProgressUpdateEvent]:
        return self.events_of(ck.ProgressUpdateEvent)

    @property
    def client_tool_call(self) -> ck.ClientToolCallItem | None:
        """The client tool call the stream left pending (answer it with
        ``add_client_tool_output``), or ``None``."""
        pending = [
            call for call in self.items_of(ck.ClientToolCallItem) if call.status == "pending"
        ]
        return pending[-1] if pending else None

    @property
    def error(self) -> ck.ErrorEvent | None:
        """The stream's ``error`` event, if it sent one."""
        errors = self.events_of(ck.ErrorEvent)
        return errors[-1] if errors else None

    @property
    def notices(self) -> list[ck.NoticeEvent]:
        return self.events_of(ck.NoticeEvent)

    @property
    def client_effects(self) -> list[ck.ClientEffectEvent]:
        return self.events_of(ck.ClientEffectEvent)

    def __repr__(self) -> str:
        if not self.ok:
            return f"<ChatKitResult {self.op} {self.status} {self.error_code}>"
        if not self.streamed:
            return f"<ChatKitResult {self.op} {self.status}>"
        kinds = ", ".join(event.type for event in self.events[:8])
        more = ", ..." if len(self.events) > 8 else ""
        return f"<ChatKitResult {self.op} {self.status} [{kinds}{more}]>"
