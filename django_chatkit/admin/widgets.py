"""Widgets as escaped HTML for the admin transcript: every ChatKit component, no script.

A widget is read from its stored JSON as plain dicts, so a component this SDK version does
not know still renders (generically). Text goes through :func:`format_html` or the
markdown renderer; URLs through :func:`~django_chatkit.admin.markdown.safe_url`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from django.utils.html import format_html, format_html_join
from django.utils.safestring import SafeString, mark_safe

from django_chatkit.admin.markdown import safe_url

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
