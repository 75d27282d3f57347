"""Turning stored thread items into a readable, escaped transcript for the admin.

Items are read from their JSON payload as plain dicts (not validated by the SDK), so
an item written by another SDK version, or a partial one, still renders. Everything
that reaches the page is escaped: by the templates' autoescaping, by
:func:`django.utils.html.format_html` here, or by :func:`render_markdown`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import gettext as _

from django_chatkit.admin.markdown import render_markdown
from django_chatkit.admin.widgets import WidgetRenderer, image_src, link_or_text, pretty_json

#: How each item type is labelled and grouped ("role" is a CSS hook).
ITEM_TYPES: dict[str, tuple[str, str]] = {
    "user_message": ("user", "User message"),
    "assistant_message": ("assistant", "Assistant message"),
    "widget": ("assistant", "Widget"),
    "client_tool_call": ("tool", "Client tool call"),
    "workflow": ("assistant", "Workflow"),
    "task": ("assistant", "Task"),
    "generated_image": ("assistant", "Generated image"),
    "structured_input": ("assistant", "Structured input"),
    "hidden_context_item": ("hidden", "Hidden context"),
    "sdk_hidden_context": ("hidden", "Hidden context (SDK)"),
    "end_of_turn": ("marker", "End of turn"),
}


@dataclass
class AttachmentView:
    """An attachment as the transcript shows it."""

    id: str
    name: str
    mime_type: str
    type: str
    size: int | None = None
    preview_url: str | None = None
    download_url: str | None = None
    admin_url: str | None = None
    missing: bool = False


@dataclass
class FeedbackView:
    kind: str
    user: str
    updated_at: datetime


@dataclass
class Entry:
    """One transcript entry: the item's data plus what the templates need."""

    pk: int
    chatkit_id: str
    type: str
    created_at: datetime
    data: dict[str, Any]
    raw_json: str
    role: str
    label: str
    hidden: bool
    templates: list[str]
    feedback: list[FeedbackView] = field(default_factory=list)
    attachments: list[AttachmentView] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)


class TranscriptBuilder:
    """Builds :class:`Entry` objects; the admin passes its overridable hooks in."""

    item_template = "admin/django_chatkit/items/{type}.html"
    default_item_template = "admin/django_chatkit/items/default.html"

    def __init__(
        self,
        markdown: Callable[[str], SafeString] = render_markdown,
        load_remote_images: bool = False,
    ) -> None:
        self.markdown = markdown
        self.load_remote_images = load_remote_images
        self.widgets = WidgetRenderer(markdown, load_remote_images)

    @staticmethod
    def attachment_ids(payloads: Iterable[dict[str, Any]]) -> set[str]:
        ids = set()
        for data in payloads:
            for attachment in data.get("attachments") or []:
                if isinstance(attachment, dict) and isinstance(attachment.get("id"), str):
                    ids.add(attachment["id"])
        return ids

    def entry(
        self,
        pk: int,
        chatkit_id: str,
        item_type: str,
        created_at: datetime,
        data: dict[str, Any],
        attachments: dict[str, AttachmentView],
        feedback: list[FeedbackView],
    ) -> Entry:
        role, label = ITEM_TYPES.get(item_type, ("other", item_type))
        safe_type = re.sub(r"[^a-z0-9_]", "", item_type.lower()) or "default"
        entry = Entry(
            pk=pk,
            chatkit_id=chatkit_id,
            type=item_type,
            created_at=created_at,
            data=data,
            raw_json=pretty_json(data),
            role=role,
            label=_(label),
            hidden=role == "hidden",
            templates=[self.item_template.format(type=safe_type), self.default_item_template],
            feedback=feedback,
        )
        prepare = getattr(self, f"prepare_{safe_type}", None)
        if prepare is not None and isinstance(data, dict):
            prepare(entry, attachments)
        return entry

    # one method per item type --------------------------------------------------

    def prepare_user_message(self, entry: Entry, attachments: dict[str, AttachmentView]) -> None:
        parts = []
        for part in entry.data.get("content") or []:
            if not isinstance(part, dict):
                continue
            if part.get("type") == "input_tag":
                parts.append(
                    {
                        "kind": "tag",
                        "text": part.get("text", ""),
                        "group": part.get("group"),
                        "data_json": pretty_json(part.get("data") or {}),
                    }
                )
            else:
                parts.append({"kind": "text", "text": part.get("text", "")})
        entry.extra["parts"] = parts
        for attachment in entry.data.get("attachments") or []:
            if not isinstance(attachment, dict):
                continue
            attachment_id = str(attachment.get("id", ""))
            known = attachments.get(attachment_id)
            entry.attachments.append(
                known
                or AttachmentView(
                    id=attachment_id,
                    name=str(attachment.get("name", "")),
                    mime_type=str(attachment.get("mime_type", "")),
                    type=str(attachment.get("type", "")),
                    missing=True,
                )
            )
        options = entry.data.get("inference_options") or {}
        tool_choice = options.get("tool_choice") if isinstance(options, dict) else None
        entry.extra["model"] = options.get("model") if isinstance(options, dict) else None
        entry.extra["tool_choice"] = (
            tool_choice.get("id") if isinstance(tool_choice, dict) else None
        )

    def _sources(self, annotations: Any) -> list[dict[str, Any]]:
        sources = []
        for number, annotation in enumerate(annotations or [], start=1):
            source = annotation.get("source") if isinstance(annotation, dict) else None
            if not isinstance(source, dict):
                continue
            kind = source.get("type")
            title = source.get("title") or source.get("filename") or source.get("url") or ""
            if kind == "url":
                target = link_or_text(source.get("url"), title)
            elif kind == "file":
                target = format_html("{} ({})", title, source.get("filename", ""))
            else:
                target = format_html(
                    "{} <code>{}</code>", title, source.get("id", source.get("label", ""))
                )
            sources.append(
                {
                    "number": number,
                    "kind": kind,
                    "link": target,
                    "description": source.get("description"),
                    "index": annotation.get("index"),
                }
            )
        return sources

    def prepare_assistant_message(
        self, entry: Entry, attachments: dict[str, AttachmentView]
    ) -> None:
        entry.extra["parts"] = [
            {
                "html": self.markdown(str(part.get("text", ""))),
                "sources": self._sources(part.get("annotations")),
            }
            for part in entry.data.get("content") or []
            if isinstance(part, dict)
        ]

    def prepare_widget(self, entry: Entry, attachments: dict[str, AttachmentView]) -> None:
        entry.extra["widget_html"] = self.widgets.render(entry.data.get("widget"))

    def prepare_client_tool_call(
        self, entry: Entry, attachments: dict[str, AttachmentView]
    ) -> None:
        entry.extra["arguments_json"] = pretty_json(entry.data.get("arguments"))
        has_output = entry.data.get("output") is not None
        entry.extra["output_json"] = pretty_json(entry.data["output"]) if has_output else None

    def _task(self, task: Any) -> dict[str, Any]:
        if not isinstance(task, dict):
            return {"type": "?", "title": str(task)}
        content = task.get("content")
        return {
            "type": task.get("type"),
            "title": task.get("title") or task.get("title_query"),
            "status": task.get("status_indicator"),
            "icon": task.get("icon"),
            "content_html": self.markdown(content) if isinstance(content, str) else None,
            "queries": [q for q in task.get("queries") or [] if isinstance(q, str)],
            "sources": self._sources(
                [{"source": s} for s in task.get("sources") or [] if isinstance(s, dict)]
            ),
        }

    def prepare_workflow(self, entry: Entry, attachments: dict[str, AttachmentView]) -> None:
        workflow = entry.data.get("workflow") or {}
        summary = workflow.get("summary") if isinstance(workflow, dict) else None
        summary_text: str | None
        if isinstance(summary, dict) and "duration" in summary:
            summary_text = _("Worked for %(seconds)s s") % {"seconds": summary["duration"]}
        elif isinstance(summary, dict):
            summary_text = summary.get("title")
        else:
            summary_text = None
        entry.extra["workflow_type"] = workflow.get("type") if isinstance(workflow, dict) else None
        entry.extra["summary"] = summary_text
        entry.extra["tasks"] = [
            self._task(task)
            for task in (workflow.get("tasks") if isinstance(workflow, dict) else None) or []
        ]

    def prepare_task(self, entry: Entry, attachments: dict[str, AttachmentView]) -> None:
        entry.extra["tasks"] = [self._task(entry.data.get("task"))]

    def prepare_generated_image(self, entry: Entry, attachments: dict[str, AttachmentView]) -> None:
        image = entry.data.get("image")
        url = image.get("url") if isinstance(image, dict) else None
        entry.extra["image_src"] = image_src(url, self.load_remote_images)
        entry.extra["image_link"] = link_or_text(url, _("image")) if url else None

    def prepare_structured_input(
        self, entry: Entry, attachments: dict[str, AttachmentView]
    ) -> None:
        inputs = []
        for structured in entry.data.get("inputs") or []:
            if not isinstance(structured, dict):
                continue
            answer = structured.get("answer")
            if not isinstance(answer, dict):
                answer = {}
            inputs.append(
                {
                    "type": structured.get("type"),
                    "question": structured.get("question", ""),
                    "description": structured.get("description"),
                    "multiple": structured.get("multiple", False),
                    "options": [
                        o.get("value")
                        for o in structured.get("options") or []
                        if isinstance(o, dict)
                    ],
                    "answered": bool(answer),
                    "values": [v for v in answer.get("values") or [] if isinstance(v, str)],
                    "skipped": answer.get("skipped", False),
                }
            )
        entry.extra["inputs"] = inputs

    def _hidden(self, entry: Entry, attachments: dict[str, AttachmentView]) -> None:
        content = entry.data.get("content")
        entry.extra["content_is_text"] = isinstance(content, str)
        entry.extra["content"] = content if isinstance(content, str) else pretty_json(content)

    prepare_hidden_context_item = prepare_sdk_hidden_context = _hidden
