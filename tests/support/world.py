"""One user's complete ChatKit data, built through the real endpoint and stores, and a
byte-exact snapshot of everything a user owns: for the authorization matrix and the
hostile-input tests, which need an item of every kind an operation can target."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from asgiref.sync import sync_to_async
from chatkit import types as ck
from django.core.files.storage import storages
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import AsyncClient

from django_chatkit.context import ChatKitContext
from django_chatkit.ids import new_id
from django_chatkit.models import Attachment, Feedback, Thread, ThreadItem
from django_chatkit.store import DjangoStore
from tests.support.attachments import png
from tests.support.protocol import URL, post, stream, user_input

WIDGET = {"type": "Card", "children": [{"type": "Text", "id": "t1", "value": "Order 7"}]}


@dataclass
class World:
    """Ids of what ``user`` owns: a thread of every shape and attachments."""

    user: Any
    client: AsyncClient
    thread: str  # user message (with an image attachment), assistant answer, widget
    user_message: str
    answer: str
    widget: str
    tool_thread: str  # ends with a pending client tool call
    form_thread: str  # ends with a pending structured input
    form: str
    spare_thread: str  # a plain exchange, there to be deleted
    image: str  # uploaded, sent in the first message of `thread`
    loose: str  # uploaded, in no message yet
    pending: str  # two-phase: registered, bytes not uploaded
    pending_upload_url: str
    image_url: str  # the signed preview URL of `image`


async def upload(client: AsyncClient, name: str) -> str:
    """Upload a small PNG through the direct upload view; its attachment id."""
    image = SimpleUploadedFile(name, png(2, 2), content_type="image/png")
    response = await client.post(URL + "attachments/upload/", {"file": image})
    assert response.status_code == 200, response.content
    return response.json()["id"]


async def new_chat(client: AsyncClient, text: str, attachments: list[str] | None = None) -> Any:
    events = await stream(
        client, {"type": "threads.create", "params": {"input": user_input(text, attachments)}}
    )
    thread_id = events[0]["thread"]["id"]
    done = [e["item"] for e in events if e["type"] == "thread.item.done"]
    return thread_id, done


async def build_world(user: Any) -> World:
    client = AsyncClient()
    await client.aforce_login(user)
    context = ChatKitContext(user=user)
    store = DjangoStore()

    image = await upload(client, "photo.png")
    loose = await upload(client, "loose.png")
    thread, done = await new_chat(client, "echo hello world", [image])
    user_message = next(i["id"] for i in done if i["type"] == "user_message")
    answer = next(i["id"] for i in done if i["type"] == "assistant_message")
    widget = ck.WidgetItem.model_validate(
        {
            "id": new_id("msg"),
            "thread_id": thread,
            "created_at": datetime.now(),
            "widget": WIDGET,
            "copy_text": "Order 7",
        }
    )
    await store.add_thread_item(thread, widget, context)
    response = await post(
        client,
        {
            "type": "items.feedback",
            "params": {"thread_id": thread, "item_ids": [answer], "kind": "positive"},
        },
    )
    assert response.status_code == 200, response.content

    tool_thread, _ = await new_chat(client, "echo use a tool")
    tool_call = ck.ClientToolCallItem(
        id=new_id("tc"),
        thread_id=tool_thread,
        created_at=datetime.now(),
        call_id="call_1",
        name="get_location",
        arguments={"precise": True},
    )
    await store.add_thread_item(tool_thread, tool_call, context)

    form_thread, _ = await new_chat(client, "echo ask me")
    form = ck.StructuredInputItem(
        id=new_id("si"),
        thread_id=form_thread,
        created_at=datetime.now(),
        inputs=[
            ck.StructuredInputMultipleChoice(
                id="q1",
                question="Where?",
                options=[ck.StructuredInputMultipleChoiceOption(value="Home")],
            ),
            ck.StructuredInputFreeform(id="q2", question="Why?"),
        ],
    )
    await store.add_thread_item(form_thread, form, context)

    spare_thread, _ = await new_chat(client, "echo spare")

    response = await post(
        client,
        {
            "type": "attachments.create",
            "params": {"name": "later.txt", "size": 5, "mime_type": "text/plain"},
        },
    )
    assert response.status_code == 200, response.content
    pending = response.json()

    response = await post(client, {"type": "items.list", "params": {"thread_id": thread}})
    [first] = [i for i in response.json()["data"] if i["id"] == user_message]
    image_url = first["attachments"][0]["preview_url"]
    return World(
        user=user,
        client=client,
        thread=thread,
        user_message=user_message,
        answer=answer,
        widget=widget.id,
        tool_thread=tool_thread,
        form_thread=form_thread,
        form=form.id,
        spare_thread=spare_thread,
        image=image,
        loose=loose,
        pending=pending["id"],
        pending_upload_url=pending["upload_descriptor"]["url"],
        image_url=image_url,
    )


def _snapshot(user_id: int) -> dict[str, Any]:
    def rows(queryset: Any) -> list[dict[str, Any]]:
        return list(queryset.order_by("pk").values())

    attachments = rows(Attachment.objects.filter(user_id=user_id))
    files = {}
    for row in attachments:
        if row["file_name"]:
            with storages[row["storage"]].open(row["file_name"], "rb") as handle:
                files[row["file_name"]] = handle.read()
    return {
        "threads": rows(Thread.objects.filter(user_id=user_id)),
        "items": rows(ThreadItem.objects.filter(thread__user_id=user_id)),
        "attachments": attachments,
        "feedback": rows(Feedback.objects.filter(user_id=user_id)),
        "files": files,
    }


async def snapshot(user: Any) -> dict[str, Any]:
    """Every row (all columns) and every stored byte ``user`` owns."""
    return await sync_to_async(_snapshot)(user.pk)
