"""SDK objects for the store tests: a thread, messages, a file attachment, a widget
template whose output carries props the SDK's named classes do not know."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from chatkit import types as ck
from chatkit.widgets import WidgetTemplate

# The SDK stamps naive local time (datetime.now()); tests do the same.
T0 = datetime(2024, 3, 1, 12, 0, 0)


def thread_meta(thread_id: str = "thr_1", created_at: datetime = T0, **fields: Any):
    return ck.ThreadMetadata(id=thread_id, created_at=created_at, **fields)


def message(
    item_id: str, thread_id: str = "thr_1", created_at: datetime = T0, text: str = "hello"
) -> ck.AssistantMessageItem:
    return ck.AssistantMessageItem(
        id=item_id,
        thread_id=thread_id,
        created_at=created_at,
        content=[ck.AssistantMessageContent(text=text)],
    )


def file_attachment(attachment_id: str = "atc_1", thread_id: str | None = None):
    return ck.FileAttachment(
        id=attachment_id,
        name="report.pdf",
        mime_type="application/pdf",
        thread_id=thread_id,
        metadata={"server_only": {"bucket": "b1", "sha": "abc"}},
    )


WIDGET_TEMPLATE = WidgetTemplate(
    {
        "version": "1.0",
        "name": "order",
        "template": json.dumps(
            {
                "type": "Card",
                "size": "md",
                "futureCardProp": {"kept": True},
                "children": [
                    {"type": "Text", "value": "{{ name }}", "futureTextProp": 3},
                    {
                        "type": "Button",
                        "label": "Buy",
                        "onClickAction": {"type": "buy", "payload": {"sku": "A-1"}},
                    },
                    {"type": "NotYetInvented", "value": "x"},
                ],
            }
        ),
    }
)
