"""Turning stored thread items into a readable, escaped transcript for the admin.

Items are read from their JSON payload as plain dicts (not validated by the SDK), so
an item written by another SDK version, or a partial one, still renders. Everything
that reaches the page is escaped: by the templates' autoescaping, by
:func:`django.utils.html.format_html` here, or by :func:`render_markdown`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from django_chatkit.admin.markdown import render_markdown, safe_url

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

_RASTER_DATA_URL = re.compile(r"^data:image/(?:png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*$")


def pretty_json(value: Any) -> str:
    """Indented JSON for display (the template escapes it)."""
    return json.dumps(value, indent=2, ensure_ascii=False, sort_keys=False, default=str)


def image_src(url: Any, load_remote: bool) -> str | None:
    """``url`` if the admin may load it as an image: a raster ``data:`` URL, or an
    http(s) URL when ``load_remote`` is on. Never SVG, never ``javascript:``."""
    if not isinstance(url, str):
        return None
    if _RASTER_DATA_URL.match(url):
        return url
    if load_remote and re.match(r"^https?://", url, re.IGNORECASE) and safe_url(url):
        return url
    return None


def link_or_text(url: Any, label: Any = None) -> SafeString:
    """A link to ``url`` if it is a safe target, else the escaped text."""
    label = label if label not in (None, "") else url
    if isinstance(url, str) and safe_url(url):
        return format_html(
            '<a href="{}" rel="noopener noreferrer nofollow" target="_blank">{}</a>', url, label
        )
    return format_html("{}", label if label is not None else "")


# -- widgets ---------------------------------------------------------------------

_TEXT_COMPONENTS = {"Text": "p", "Title": "strong", "Caption": "small", "Label": "span"}
_CONTAINERS = {"Card", "ListView", "ListViewItem", "Box", "Row", "Col", "Form", "Basic"}
_HIDDEN_KEYS = {"type", "children", "key", "id"}


def _children(node: dict[str, Any]) -> list[Any]:
    children = node.get("children")
    if children is None:
        return []
    return children if isinstance(children, list) else [children]


def _action(config: Any) -> SafeString:
    if isinstance(config, dict) and config.get("type"):
        return format_html(' <span class="ck-w-action">→ {}</span>', config["type"])
    return SafeString("")


class WidgetRenderer:
    """Renders a widget tree as nested, labelled HTML boxes (no styles from the widget)."""

    max_depth = 30

    def __init__(self, markdown: Callable[[str], SafeString], load_remote_images: bool) -> None:
        self.markdown = markdown
        self.load_remote_images = load_remote_images

    def render(self, node: Any, depth: int = 0) -> SafeString:
        if not isinstance(node, dict):
            return format_html('<span class="ck-w-value">{}</span>', str(node))
        if depth > self.max_depth:
            return format_html('<span class="ck-w-value">{}</span>', "…")
        kind = str(node.get("type") or "?")
        method = getattr(self, f"render_{kind.lower()}", None)
        body = method(node, depth) if method else self.render_generic(node, depth)
        return format_html(
            '<div class="ck-w ck-w-{}"><span class="ck-w-type">{}</span>{}</div>',
            re.sub(r"[^a-z0-9-]", "", kind.lower()),
            kind,
            body,
        )

    def render_children(self, node: dict[str, Any], depth: int) -> SafeString:
        return format_html_join(
            "", "{}", ((self.render(child, depth + 1),) for child in _children(node))
        )

    def _status(self, node: dict[str, Any]) -> SafeString:
        status = node.get("status")
        if isinstance(status, dict) and status.get("text"):
            return format_html('<div class="ck-w-status">{}</div>', status["text"])
        return SafeString("")

    def render_generic(self, node: dict[str, Any], depth: int) -> SafeString:
        """Any other component: its scalar properties, then its children."""
        props = [
            (key, value)
            for key, value in node.items()
            if key not in _HIDDEN_KEYS and isinstance(value, (str, int, float, bool))
        ]
        listing = format_html_join(
            "", '<span class="ck-w-prop">{}: {}</span>', ((k, str(v)) for k, v in props)
        )
        return format_html("{}{}", listing, self.render_children(node, depth))

    def _container(self, node: dict[str, Any], depth: int) -> SafeString:
        footer = []
        for key in ("confirm", "cancel"):
            action = node.get(key)
            if isinstance(action, dict) and action.get("label"):
                footer.append(
                    format_html(
                        '<span class="ck-w-button">[{}]</span>{}',
                        action["label"],
                        _action(action.get("action")),
                    )
                )
        click = _action(node.get("onClickAction"))
        return format_html(
            "{}{}{}{}",
            self._status(node),
            click,
            self.render_children(node, depth),
            format_html_join("", "{}", ((f,) for f in footer)),
        )

    render_card = render_listview = render_listviewitem = _container
    render_box = render_row = render_col = render_form = render_basic = _container

    def render_transition(self, node: dict[str, Any], depth: int) -> SafeString:
        return self.render_children(node, depth)

    def _text(self, node: dict[str, Any], depth: int) -> SafeString:
        tag = _TEXT_COMPONENTS.get(str(node.get("type")), "span")
        value = node.get("value", "")
        return format_html('<{} class="ck-w-text">{}</{}>', tag, str(value), tag)

    render_text = render_title = render_caption = render_label = _text

    def render_markdown(self, node: dict[str, Any], depth: int) -> SafeString:
        return format_html('<div class="ck-md">{}</div>', self.markdown(str(node.get("value", ""))))

    def render_badge(self, node: dict[str, Any], depth: int) -> SafeString:
        return format_html('<span class="ck-w-badge">{}</span>', str(node.get("label", "")))

    def render_button(self, node: dict[str, Any], depth: int) -> SafeString:
        label = node.get("label") or node.get("iconStart") or node.get("iconEnd") or ""
        return format_html(
            '<span class="ck-w-button">[{}]</span>{}',
            str(label),
            _action(node.get("onClickAction")),
        )

    def render_image(self, node: dict[str, Any], depth: int) -> SafeString:
        src = image_src(node.get("src"), self.load_remote_images)
        alt = str(node.get("alt") or "")
        if src:
            return format_html(
                '<img class="ck-w-img" src="{}" alt="{}" referrerpolicy="no-referrer" '
                'loading="lazy">',
                src,
                alt,
            )
        return format_html("{} {}", alt, link_or_text(node.get("src")))

    def render_icon(self, node: dict[str, Any], depth: int) -> SafeString:
        return format_html('<span class="ck-w-icon">{}</span>', str(node.get("name", "")))

    def render_divider(self, node: dict[str, Any], depth: int) -> SafeString:
        return mark_safe("<hr>")

    def render_spacer(self, node: dict[str, Any], depth: int) -> SafeString:
        return SafeString("")

    def _field(self, node: dict[str, Any], depth: int) -> SafeString:
        details = [
            str(node[key])
            for key in ("label", "placeholder", "defaultValue", "defaultChecked")
            if node.get(key) not in (None, "")
        ]
        options = node.get("options")
        option_list = SafeString("")
        if isinstance(options, list):
            option_list = format_html(
                '<ul class="ck-w-options">{}</ul>',
                format_html_join(
                    "",
                    "<li>{}</li>",
                    (
                        (str(o.get("label") or o.get("value")) if isinstance(o, dict) else str(o),)
                        for o in options
                    ),
                ),
            )
        return format_html(
            '<span class="ck-w-prop">{}</span> {}{}{}',
            str(node.get("name", "")),
            " · ".join(details),
            _action(node.get("onChangeAction")),
            option_list,
        )

    render_input = render_textarea = render_select = render_datepicker = _field
    render_checkbox = render_radiogroup = _field

    def render_chart(self, node: dict[str, Any], depth: int) -> SafeString:
        rows = [row for row in node.get("data") or [] if isinstance(row, dict)]
        x_axis = node.get("xAxis")
        x_key = x_axis.get("dataKey") if isinstance(x_axis, dict) else x_axis
        series = [s for s in node.get("series") or [] if isinstance(s, dict)]
        keys = [k for k in [x_key, *(s.get("dataKey") for s in series)] if k]
        if not keys:
            keys = list(dict.fromkeys(k for row in rows for k in row))
        labels = {s.get("dataKey"): s.get("label") or s.get("dataKey") for s in series}
        head = format_html_join("", "<th>{}</th>", ((str(labels.get(k, k)),) for k in keys))
        body = format_html_join(
            "",
            "<tr>{}</tr>",
            (
                (format_html_join("", "<td>{}</td>", ((str(row.get(k, "")),) for k in keys)),)
                for row in rows
            ),
        )
        return format_html(
            '<table class="ck-w-chart"><thead><tr>{}</tr></thead><tbody>{}</tbody></table>',
            head,
            body,
        )


# -- items -----------------------------------------------------------------------


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
            answer = structured.get("answer") if isinstance(structured.get("answer"), dict) else {}
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
