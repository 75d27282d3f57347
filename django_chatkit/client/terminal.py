"""A ChatKit client for the terminal, used by ``manage.py chatkit_chat``.

It speaks the same protocol as the ChatKit web component — JSON requests, Server-Sent
Events back — through a transport of :mod:`django_chatkit.client.transports`.
:class:`TerminalChat` prints what streams back: assistant text as it arrives, and one
line for each widget, progress update, tool call, title change or error. Ctrl-C during
an answer stops it (the transport's ``cancel()``, what the browser's Stop sends).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from django_chatkit.client.transports import (
    ChatError,
    HttpTransport,
    InProcessTransport,
    TextOutput,
)


def _texts(node: Any) -> Iterator[str]:
    """The words a widget shows, in order (titles, texts, badges, field values)."""
    if isinstance(node, list):
        for child in node:
            yield from _texts(child)
        return
    if not isinstance(node, dict):
        return
    kind = node.get("type")
    if kind in ("Title", "Text", "Caption", "Markdown", "Label") and node.get("value"):
        yield str(node["value"])
    elif kind == "Badge" and node.get("label"):
        yield str(node["label"])
    elif kind in ("Input", "Textarea", "Select", "DatePicker") and node.get("name"):
        yield f"{node['name']}={json.dumps(node.get('defaultValue', ''), ensure_ascii=False)}"
    elif kind == "Checkbox" and node.get("name"):
        yield f"[{'x' if node.get('defaultChecked') else ' '}] {node.get('label') or node['name']}"
    elif kind == "Button" and node.get("label"):
        yield f"({node['label']})"
    yield from _texts(node.get("children"))


def _fields(node: Any) -> dict[str, Any]:
    """Form field names and their current values, as a Form would submit them."""
    found: dict[str, Any] = {}
    if isinstance(node, list):
        for child in node:
            found.update(_fields(child))
    elif isinstance(node, dict):
        if node.get("type") == "Checkbox" and node.get("name"):
            found[node["name"]] = bool(node.get("defaultChecked"))
        elif node.get("type") in ("Input", "Textarea", "Select", "DatePicker") and node.get("name"):
            found[node["name"]] = node.get("defaultValue", "")
        found.update(_fields(node.get("children")))
    return found


def _actions(node: Any) -> Iterator[dict[str, Any]]:
    if isinstance(node, list):
        for child in node:
            yield from _actions(child)
    elif isinstance(node, dict):
        for key in ("onSubmitAction", "onClickAction", "onChangeAction", "onSelectAction"):
            if isinstance(node.get(key), dict):
                yield node[key]
        for key in ("confirm", "cancel"):
            if isinstance(node.get(key), dict) and isinstance(node[key].get("action"), dict):
                yield node[key]["action"]
        yield from _actions(node.get("children"))


@dataclass
class WidgetInfo:
    item_id: str
    actions: dict[str, Any]  # action type -> its payload
    fields: dict[str, Any]


def describe_widget(widget: dict[str, Any]) -> str:
    words = " · ".join(_texts(widget))
    actions = ", ".join(
        f"{action.get('type')} {json.dumps(action.get('payload'), ensure_ascii=False)}"
        for action in _actions(widget)
    )
    return f"{widget.get('type', 'Widget')}: {words}" + (
        f" — actions: {actions} (send one with /action TYPE [JSON])" if actions else ""
    )


class TerminalChat:
    """Sends messages, prints the events that stream back, and keeps the current thread."""

    def __init__(
        self,
        transport: InProcessTransport | HttpTransport,
        out: TextOutput,
        *,
        client_tool_result: Any = None,
    ) -> None:
        self.transport = transport
        self.out = out  # written to as is: text streams in without line endings
        self.client_tool_result = {"ok": True} if client_tool_result is None else client_tool_result
        self.thread_id: str | None = None
        self.title: str | None = None
        self.widgets: list[WidgetInfo] = []
        self.streaming: set[str] = set()
        self.pending_client_tool: dict[str, Any] | None = None

    # -- output --------------------------------------------------------------------

    def write(self, text: str = "", ending: str = "\n") -> None:
        self.out.write(text + ending)
        self.out.flush()

    def end_stream_line(self) -> None:
        if self.streaming:
            self.streaming.clear()
            self.write()

    def show_item(self, item: dict[str, Any], *, history: bool = False) -> None:
        kind = item.get("type")
        if kind == "user_message":
            if history:
                text = "".join(part.get("text", "") for part in item.get("content", []))
                self.write(f"you> {text}")
        elif kind == "assistant_message":
            text = "".join(part.get("text", "") for part in item.get("content", []))
            self.write(f"assistant> {text}")
        elif kind == "widget":
            self.remember_widget(item)
            self.write(f"  [widget {item['id']}] {describe_widget(item.get('widget', {}))}")
        elif kind == "client_tool_call":
            arguments = json.dumps(item.get("arguments"), ensure_ascii=False)
            status = item.get("status")
            line = f"  [client tool] {item.get('name')} {arguments} ({status})"
            if status == "completed":
                line += f" -> {json.dumps(item.get('output'), ensure_ascii=False)}"
            self.write(line)
            if status == "pending" and not history:
                self.pending_client_tool = item
        elif kind == "task":
            task = item.get("task", {})
            self.write(f"  [task] {task.get('title') or task.get('content') or ''}")
        elif kind == "workflow":
            tasks = item.get("workflow", {}).get("tasks", [])
            summary = "; ".join(t.get("title") or t.get("content") or "" for t in tasks)
            self.write(f"  [workflow] {summary}")
        elif kind not in ("end_of_turn",):
            self.write(f"  [{kind}]")

    def remember_widget(self, item: dict[str, Any]) -> None:
        widget = item.get("widget", {})
        actions = {str(action.get("type")): action.get("payload") for action in _actions(widget)}
        self.widgets = [info for info in self.widgets if info.item_id != item["id"]]
        self.widgets.append(WidgetInfo(item["id"], actions, _fields(widget)))

    def on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "thread.created":
            self.thread_id = event["thread"]["id"]
            self.write(f"  [thread {self.thread_id}]")
        elif kind == "thread.updated":
            title = event["thread"].get("title")
            if title and title != self.title:
                self.end_stream_line()
                self.write(f"  [title] {title}")
            self.title = title
        elif kind == "thread.item.added":
            item = event["item"]
            if item.get("type") == "assistant_message":
                self.end_stream_line()
                self.streaming.add(item["id"])
                text = "".join(part.get("text", "") for part in item.get("content", []))
                self.write(f"assistant> {text}", ending="")
        elif kind == "thread.item.updated":
            update = event.get("update", {})
            if update.get("type") == "assistant_message.content_part.text_delta":
                self.write(update.get("delta", ""), ending="")
            elif update.get("type") == "widget.root.updated":
                self.end_stream_line()
                self.write(f"  [widget updated] {describe_widget(update.get('widget', {}))}")
        elif kind == "thread.item.done":
            item = event["item"]
            if item["id"] in self.streaming:
                self.streaming.discard(item["id"])
                self.write()
            else:
                self.end_stream_line()
                self.show_item(item)
        elif kind == "thread.item.replaced":
            self.end_stream_line()
            item = event["item"]
            if item.get("type") == "widget":
                self.remember_widget(item)
                self.write(
                    f"  [widget updated {item['id']}] {describe_widget(item.get('widget', {}))}"
                )
        elif kind == "thread.item.removed":
            self.write(f"  [removed {event.get('item_id')}]")
        elif kind == "progress_update":
            self.end_stream_line()
            self.write(f"  … {event.get('text', '')}")
        elif kind == "notice":
            self.end_stream_line()
            self.write(f"  [{event.get('level', 'notice')}] {event.get('message', '')}")
        elif kind == "client_effect":
            self.end_stream_line()
            self.write(f"  [client effect] {event.get('name')} {json.dumps(event.get('data'))}")
        elif kind == "error":
            self.end_stream_line()
            self.write(f"  [error] {event.get('message') or event.get('code')}")

    # -- requests ------------------------------------------------------------------

    def stream(self, body: dict[str, Any]) -> None:
        """Send a streaming request and print its answer. Ctrl-C meanwhile stops the
        answer (see :meth:`stop`) and returns to the prompt."""
        try:
            while True:
                try:
                    self.transport.send(body, self.on_event)
                finally:
                    self.end_stream_line()
                if self.pending_client_tool is None or not self.thread_id:
                    return
                call, self.pending_client_tool = self.pending_client_tool, None
                result = json.dumps(self.client_tool_result, ensure_ascii=False)
                self.write(f"  [client tool] answering {call.get('name')} with {result}")
                body = {
                    "type": "threads.add_client_tool_output",
                    "params": {"thread_id": self.thread_id, "result": self.client_tool_result},
                }
        except KeyboardInterrupt:
            self.pending_client_tool = None
            self.stop()

    def stop(self) -> None:
        """Ctrl-C during an answer: stop reading it and ask the server to cancel it, as
        the browser's Stop button does (a durable answer outlives the closed
        connection). Another Ctrl-C leaves the chat."""
        if self.thread_id is not None:  # else the thread was not even created
            try:
                self.transport.cancel(self.thread_id)
            except ChatError as exc:
                self.write(f"  [stopped; the cancel failed: {exc}]")
                return
        self.write("  [stopped]")

    def say(self, text: str) -> None:
        message = {
            "content": [{"type": "input_text", "text": text}],
            "attachments": [],
            "inference_options": {},
        }
        if self.thread_id is None:
            self.stream({"type": "threads.create", "params": {"input": message}})
        else:
            self.stream(
                {
                    "type": "threads.add_user_message",
                    "params": {"thread_id": self.thread_id, "input": message},
                }
            )

    def action(self, action_type: str, payload: dict[str, Any]) -> None:
        if self.thread_id is None:
            raise ChatError("No thread yet: send a message or /open one first.")
        sender = next(
            (info for info in reversed(self.widgets) if action_type in info.actions), None
        )
        merged: dict[str, Any] = {}
        if sender is not None:
            merged.update(sender.actions[action_type] or {})
            merged.update(sender.fields)
        merged.update(payload)
        self.stream(
            {
                "type": "threads.custom_action",
                "params": {
                    "thread_id": self.thread_id,
                    "item_id": sender.item_id if sender else None,
                    "action": {"type": action_type, "payload": merged},
                },
            }
        )

    def list_threads(self, limit: int = 20) -> None:
        page = (
            self.transport.send(
                {"type": "threads.list", "params": {"limit": limit, "order": "desc"}}, self.on_event
            )
            or {}
        )
        threads = page.get("data", [])
        if not threads:
            self.write("  (no threads yet)")
        for thread in threads:
            created = str(thread.get("created_at", ""))[:16].replace("T", " ")
            marker = "*" if thread["id"] == self.thread_id else " "
            self.write(f" {marker}{thread['id']}  {created}  {thread.get('title') or '(untitled)'}")

    def open(self, thread_id: str) -> None:
        thread = (
            self.transport.send(
                {"type": "threads.get_by_id", "params": {"thread_id": thread_id}}, self.on_event
            )
            or {}
        )
        self.thread_id = thread["id"]
        self.title = thread.get("title")
        self.widgets = []
        self.write(f"  [thread {self.thread_id}] {self.title or '(untitled)'}")
        items = thread.get("items", {})
        for item in items.get("data", []):
            self.show_item(item, history=True)
        if items.get("has_more"):
            self.write("  (older items not shown)")

    def new(self) -> None:
        self.thread_id = None
        self.title = None
        self.widgets = []
        self.write("  [new thread: it starts with your next message]")
