"""Real rows for the admin, command, feedback and live-update tests: users, threads, every
item type, attachments, feedback."""

from __future__ import annotations

import base64
import json
import struct
import zlib
from datetime import datetime, timedelta
from typing import Any

from asgiref.sync import sync_to_async
from chatkit import types as ck
from chatkit.widgets import DynamicWidgetRoot
from django.contrib.auth.models import Permission, User
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.db import connection
from django.utils import timezone

from django_chatkit.ids import new_id
from django_chatkit.models import Attachment, Feedback, Thread, ThreadItem
from tests.support import ROOT

OUTPUT = ROOT / "test-output" / "admin"

#: Script in every text field a user or a model controls: it must never run.
XSS = '<script>alert("xss")</script><img src=x onerror=alert(1)>'
XSS_ESCAPED = (
    "&lt;script&gt;alert(&quot;xss&quot;)&lt;/script&gt;&lt;img src=x onerror=alert(1)&gt;"
)


def png_bytes(size: int = 48) -> bytes:
    """A valid PNG with a diagonal colour gradient (no imaging library needed)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00"
        + b"".join(
            bytes((65 + (x * 150) // size, 118 + (y * 100) // size, 144 + (x * y) % 100))
            for x in range(size)
        )
        for y in range(size)
    )
    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def make_user(
    username: str, *, staff: bool = False, superuser: bool = False, perms: tuple[str, ...] = ()
) -> User:
    user = User.objects.create_user(
        username,
        email=f"{username}@example.com",
        password="pw",
        is_staff=staff or superuser,
        is_superuser=superuser,
    )
    for codename in perms:
        user.user_permissions.add(
            Permission.objects.get(content_type__app_label="django_chatkit", codename=codename)
        )
    return user


def make_thread(
    user: Any,
    title: str = "",
    *,
    status: str = "active",
    created: datetime | None = None,
    updated: datetime | None = None,
) -> Thread:
    created = created or datetime.now()
    thread = Thread(user=user)
    thread.set_metadata(ck.ThreadMetadata(id=new_id("thr"), title=title, created_at=created))
    if status != "active":
        thread.set_status(status, "moderated")
    thread.updated_at = updated or timezone.now()
    thread.save()
    return thread


def add_items(thread: Thread, items: list[ck.ThreadItem]) -> list[ThreadItem]:
    rows = []
    for item in items:
        row = ThreadItem(thread=thread)
        row.set_item(item)
        rows.append(row)
    return ThreadItem.objects.bulk_create(rows)


def make_attachment(
    user: Any,
    thread: Thread | None,
    name: str,
    mime_type: str = "image/png",
    data: bytes | None = None,
) -> Attachment:
    data = png_bytes() if data is None else data
    attachment_id = new_id("atc")
    file_name = storages["default"].save(f"chatkit-test/{attachment_id}", ContentFile(data))
    if mime_type.startswith("image/"):
        sdk: ck.Attachment = ck.ImageAttachment(
            id=attachment_id,
            name=name,
            mime_type=mime_type,
            preview_url="https://chat.example.com/preview",
            thread_id=thread.chatkit_id if thread else None,
        )
    else:
        sdk = ck.FileAttachment(
            id=attachment_id,
            name=name,
            mime_type=mime_type,
            thread_id=thread.chatkit_id if thread else None,
        )
    row = Attachment(
        user=user, thread=thread, size=len(data), file_name=file_name, upload_state="complete"
    )
    row.set_attachment(sdk)
    row.save()
    return row


def mixed_items(thread: Thread, text: str = "", attachments: list[Attachment] = ()) -> list[Any]:
    """One item of every type the SDK has, each carrying ``text`` where text goes."""
    start = datetime.now() - timedelta(minutes=30)
    tid = thread.chatkit_id
    counter = iter(range(1000))

    def base(prefix: str) -> dict[str, Any]:
        return {
            "id": new_id(prefix),
            "thread_id": tid,
            "created_at": start + timedelta(seconds=next(counter)),
        }

    widget = DynamicWidgetRoot.model_validate(
        {
            "type": "Card",
            "children": [
                {"type": "Title", "value": f"Order summary {text}"},
                {"type": "Text", "value": f"Two items {text}"},
                {"type": "Markdown", "value": f"**Total**: 42 EUR {text}"},
                {"type": "Image", "src": "javascript:alert(1)", "alt": f"logo {text}"},
                {
                    "type": "Row",
                    "children": [
                        {"type": "Badge", "label": f"paid {text}"},
                        {
                            "type": "Button",
                            "label": f"Track parcel {text}",
                            "onClickAction": {"type": "track_parcel", "payload": {"id": 7}},
                        },
                    ],
                },
                {
                    "type": "Select",
                    "name": "size",
                    "options": [
                        {"value": "s", "label": f"Small {text}"},
                        {"value": "m", "label": "Medium"},
                    ],
                },
                {
                    "type": "Chart",
                    "data": [{"month": "Jan", "sales": 3}, {"month": "Feb", "sales": 5}],
                    "series": [{"type": "bar", "label": "Sales", "dataKey": "sales"}],
                    "xAxis": "month",
                },
            ],
        }
    )
    return [
        ck.UserMessageItem(
            **base("msg"),
            content=[
                ck.UserMessageTextContent(text=f"Where is my order? {text}"),
                ck.UserMessageTagContent(
                    id="order-7", text=f"order-7 {text}", data={"note": text}, group="orders"
                ),
            ],
            attachments=[a.to_chatkit() for a in attachments],
            quoted_text=f"Your order shipped {text}",
            inference_options=ck.InferenceOptions(
                model="gpt-test", tool_choice=ck.ToolChoice(id="lookup")
            ),
        ),
        ck.HiddenContextItem(**base("hcx"), content={"crm_note": f"VIP customer {text}"}),
        ck.SDKHiddenContextItem(**base("shcx"), content=f"The user cancelled {text}"),
        ck.WorkflowItem(
            **base("wf"),
            workflow=ck.Workflow(
                type="reasoning",
                summary=ck.CustomSummary(title=f"Looked up the order {text}"),
                tasks=[
                    ck.ThoughtTask(title="Thinking", content=f"Check the *carrier* {text}"),
                    ck.SearchTask(
                        title_query="parcel 7",
                        queries=[f"parcel 7 status {text}"],
                        sources=[
                            ck.URLSource(url="https://carrier.example/7", title=f"Carrier {text}")
                        ],
                        status_indicator="complete",
                    ),
                    ck.FileTask(
                        title="Policies",
                        sources=[ck.FileSource(filename="refunds.pdf", title=f"Refunds {text}")],
                    ),
                    ck.CustomTask(title=f"Custom step {text}", content="done"),
                ],
            ),
        ),
        ck.TaskItem(**base("tsk"), task=ck.CustomTask(title=f"Standalone task {text}")),
        ck.ClientToolCallItem(
            **base("tc"),
            status="completed",
            call_id="call_1",
            name=f"get_location {text}",
            arguments={"precision": "city", "note": text},
            output={"city": f"Lyon {text}"},
        ),
        ck.AssistantMessageItem(
            **base("msg"),
            content=[
                ck.AssistantMessageContent(
                    text=(
                        f"Your parcel is **in transit** {text}\n\n"
                        "- carrier: `ACME`\n- eta: *tomorrow*\n\n"
                        "[track it](https://carrier.example/7) or [bad](javascript:alert(1))"
                    ),
                    annotations=[
                        ck.Annotation(
                            source=ck.URLSource(
                                url="javascript:alert(1)", title=f"Tracking page {text}"
                            ),
                            index=10,
                        ),
                        ck.Annotation(
                            source=ck.FileSource(filename="policy.pdf", title=f"Policy {text}")
                        ),
                        ck.Annotation(
                            source=ck.EntitySource(id="order-7", title=f"Order 7 {text}")
                        ),
                    ],
                )
            ],
        ),
        ck.WidgetItem(**base("msg"), widget=widget, copy_text=f"Order summary: 42 EUR {text}"),
        ck.GeneratedImageItem(
            **base("img"),
            image=ck.GeneratedImage(
                id="img1", url="data:image/png;base64," + base64.b64encode(png_bytes(96)).decode()
            ),
        ),
        ck.StructuredInputItem(
            **base("si"),
            status="answered",
            inputs=[
                ck.StructuredInputMultipleChoice(
                    id="q1",
                    question=f"Deliver where? {text}",
                    options=[
                        ck.StructuredInputMultipleChoiceOption(value=f"Home {text}"),
                        ck.StructuredInputMultipleChoiceOption(value="Locker"),
                    ],
                    answer=ck.StructuredInputAnswer(values=[f"Home {text}"]),
                ),
                ck.StructuredInputFreeform(
                    id="q2", question="Anything else?", description=f"optional {text}"
                ),
            ],
        ),
        ck.EndOfTurnItem(**base("eot")),
    ]


def add_feedback(user: Any, rows: list[ThreadItem], kind: str) -> None:
    Feedback.objects.bulk_create(
        Feedback(user=user, thread_id=row.thread_id, item_chatkit_id=row.chatkit_id, kind=kind)
        for row in rows
    )


def record_counts(name: str, value: dict[str, int]) -> None:
    """Keep the measured query counts (shown when the issue is resolved)."""
    OUTPUT.mkdir(parents=True, exist_ok=True)
    path_ = OUTPUT / "query-counts.json"
    data = json.loads(path_.read_text()) if path_.exists() else {}
    data[f"{connection.vendor}:{name}"] = value
    path_.write_text(json.dumps(data, indent=2, sort_keys=True))


def feedback_request(thread_id: str, item_ids: list[str], kind: str) -> bytes:
    return json.dumps(
        {
            "type": "items.feedback",
            "params": {"thread_id": thread_id, "item_ids": item_ids, "kind": kind},
        }
    ).encode()


@sync_to_async
def feedback_setup():
    """alice's thread of every item type, another of hers, bob's: (alice, bob, thread, its
    rows, the other thread's rows, bob's thread, its rows)."""
    alice, bob = make_user("alice"), make_user("bob")
    thread = make_thread(alice, "mine")
    rows = add_items(thread, mixed_items(thread))
    other = make_thread(alice, "another of mine")
    other_rows = add_items(other, mixed_items(other)[:2])
    bobs = make_thread(bob, "bob's")
    bob_rows = add_items(bobs, mixed_items(bobs)[:2])
    return alice, bob, thread, rows, other_rows, bobs, bob_rows
