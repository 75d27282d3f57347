"""A small, escape-first Markdown renderer for showing model output to staff.

Every character of the input reaches the output through :func:`html.escape`; the only
markup is the fixed set of tags emitted here. Link targets are escaped as well and must
start with ``http:``, ``https:``, ``mailto:``, ``/`` or ``#`` (anything else, e.g.
``javascript:``, is shown as text). Images are shown as links, never loaded.

The subset: paragraphs and line breaks, ATX headings, fenced and indented code,
block quotes, bullet and numbered lists, GitHub-style pipe tables, horizontal rules,
``code``, **bold**, *italic*, ~~strikethrough~~, ``[links](url)``, ``<autolinks>``.
"""

from __future__ import annotations

import html
import re

from django.utils.safestring import SafeString, mark_safe

_SAFE_URL = re.compile(r"^(?:https?://|mailto:|/(?!/)|#)[^\s\x00-\x1f\x7f]*$", re.IGNORECASE)

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})\s*([\w+-]*)")
_HEADING = re.compile(r"^ {0,3}(#{1,6})(?:\s+(.*?))?\s*#*\s*$")
_RULE = re.compile(r"^ {0,3}(?:(?:-\s*){3,}|(?:\*\s*){3,}|(?:_\s*){3,})$")
_QUOTE = re.compile(r"^ {0,3}> ?(.*)$")
_BULLET = re.compile(r"^\s*[-*+]\s+(.*)$")
_NUMBER = re.compile(r"^\s*(\d{1,9})[.)]\s+(.*)$")
_TABLE_SEP = re.compile(r"^\s*\|?\s*:?-+:?\s*(?:\|\s*:?-+:?\s*)*\|?\s*$")

_CODE_SPAN = re.compile(r"(`+)(.+?)\1", re.DOTALL)
_IMAGE = re.compile(r"!\[([^\]]*)\]\(\s*([^)\s]+)(?:\s+&quot;.*?&quot;)?\s*\)")
_LINK = re.compile(r"\[([^\]]+)\]\(\s*([^)\s]+)(?:\s+&quot;.*?&quot;)?\s*\)")
_AUTOLINK = re.compile(r"&lt;((?:https?://|mailto:)[^\s&]*(?:&amp;[^\s&]*)*)&gt;", re.IGNORECASE)
_BOLD = re.compile(r"(\*\*|__)(?=\S)(.+?)(?<=\S)\1")
_ITALIC = re.compile(r"(?<![\w*])\*(?=\S)(.+?)(?<=\S)\*(?!\*)|(?<![\w_])_(?=\S)(.+?)(?<=\S)_(?!\w)")
_STRIKE = re.compile(r"~~(?=\S)(.+?)(?<=\S)~~")
_TOKEN = re.compile(r"\x00(\d+)\x00")


def safe_url(url: str) -> str | None:
    """``url`` if it is an allowed link target (http(s), mailto, relative), else ``None``."""
    return url if _SAFE_URL.match(url) else None


def _link(href_escaped: str, label_html: str) -> str | None:
    if safe_url(html.unescape(href_escaped)) is None:
        return None
    return (
        f'<a href="{href_escaped}" rel="noopener noreferrer nofollow" '
        f'target="_blank">{label_html}</a>'
    )


def render_inline(text: str) -> str:
    """Inline Markdown of ``text`` as HTML (escaped; safe to embed)."""
    tokens: list[str] = []

    def stash(fragment: str) -> str:
        tokens.append(fragment)
        return f"\x00{len(tokens) - 1}\x00"

    def emphasis(value: str) -> str:
        value = _BOLD.sub(lambda m: f"<strong>{m.group(2)}</strong>", value)
        value = _ITALIC.sub(lambda m: f"<em>{m.group(1) or m.group(2)}</em>", value)
        return _STRIKE.sub(lambda m: f"<del>{m.group(1)}</del>", value)

    def image(match: re.Match[str]) -> str:
        label = f"[image: {match.group(1) or match.group(2)}]"
        return stash(_link(match.group(2), label) or match.group(0))

    def link(match: re.Match[str]) -> str:
        return stash(_link(match.group(2), emphasis(match.group(1))) or match.group(0))

    def autolink(match: re.Match[str]) -> str:
        return stash(_link(match.group(1), match.group(1)) or match.group(0))

    out = []
    position = 0
    for match in _CODE_SPAN.finditer(text):
        out.append(html.escape(text[position : match.start()]))
        out.append(stash(f"<code>{html.escape(match.group(2).strip())}</code>"))
        position = match.end()
    out.append(html.escape(text[position:]))
    value = "".join(out)
    value = _IMAGE.sub(image, value)
    value = _LINK.sub(link, value)
    value = _AUTOLINK.sub(autolink, value)
    value = emphasis(value)
    # Tokens may nest (a link stashed around a code span): resolve until none is left.
    while _TOKEN.search(value):
        value = _TOKEN.sub(lambda m: tokens[int(m.group(1))], value)
    return value


def _split_row(line: str) -> list[str]:
    line = line.strip()
    if line.startswith("|"):
        line = line[1:]
    if line.endswith("|") and not line.endswith("\\|"):
        line = line[:-1]
    return [cell.strip() for cell in re.split(r"(?<!\\)\|", line)]


def _render_blocks(lines: list[str], depth: int) -> list[str]:
    out: list[str] = []
    paragraph: list[str] = []
    i = 0

    def flush() -> None:
        if paragraph:
            out.append("<p>" + "<br>".join(render_inline(p) for p in paragraph) + "</p>")
            paragraph.clear()

    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        fence = _FENCE.match(line)
        if fence:
            flush()
            marker = fence.group(1)
            code = []
            i += 1
            while i < len(lines) and not lines[i].strip().startswith(marker):
                code.append(lines[i])
                i += 1
            i += 1  # the closing fence (or the end)
            language = fence.group(2)
            css = f' class="language-{html.escape(language)}"' if language else ""
            out.append(f"<pre><code{css}>{html.escape(chr(10).join(code))}</code></pre>")
            continue
        if not stripped:
            flush()
            i += 1
            continue
        if line.startswith("    ") and not paragraph:
            code = []
            while i < len(lines) and (lines[i].startswith("    ") or not lines[i].strip()):
                code.append(lines[i][4:])
                i += 1
            while code and not code[-1].strip():
                code.pop()
            out.append(f"<pre><code>{html.escape(chr(10).join(code))}</code></pre>")
            continue
        heading = _HEADING.match(line)
        if heading:
            flush()
            level = min(len(heading.group(1)) + 2, 6)
            out.append(f"<h{level}>{render_inline(heading.group(2) or '')}</h{level}>")
            i += 1
            continue
        if _RULE.match(line):
            flush()
            out.append("<hr>")
            i += 1
            continue
        if _QUOTE.match(line):
            flush()
            quoted = []
            while i < len(lines) and (quote := _QUOTE.match(lines[i])):
                quoted.append(quote.group(1))
                i += 1
            inner = (
                _render_blocks(quoted, depth + 1) if depth < 8 else [html.escape("\n".join(quoted))]
            )
            out.append("<blockquote>" + "".join(inner) + "</blockquote>")
            continue
        if _BULLET.match(line) or _NUMBER.match(line):
            flush()
            numbered = not _BULLET.match(line)
            pattern = _NUMBER if numbered else _BULLET
            entries: list[str] = []
            start = None
            while i < len(lines) and lines[i].strip():
                entry = pattern.match(lines[i])
                if entry:
                    if numbered and start is None:
                        start = int(entry.group(1))
                    entries.append(entry.group(entry.lastindex or 1))
                elif entries and (lines[i].startswith(" ") or lines[i].startswith("\t")):
                    entries[-1] += "\n" + lines[i].strip()
                else:
                    break
                i += 1
            items = "".join(
                "<li>" + "<br>".join(render_inline(p) for p in e.split("\n")) + "</li>"
                for e in entries
            )
            if numbered:
                attr = f' start="{start}"' if start not in (None, 1) else ""
                out.append(f"<ol{attr}>{items}</ol>")
            else:
                out.append(f"<ul>{items}</ul>")
            continue
        if "|" in line and i + 1 < len(lines) and _TABLE_SEP.match(lines[i + 1]) and not paragraph:
            header = _split_row(line)
            i += 2
            rows = []
            while i < len(lines) and "|" in lines[i] and lines[i].strip():
                rows.append(_split_row(lines[i]))
                i += 1
            head = "".join(f"<th>{render_inline(c)}</th>" for c in header)
            body = "".join(
                "<tr>" + "".join(f"<td>{render_inline(c)}</td>" for c in row) + "</tr>"
                for row in rows
            )
            out.append(f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>")
            continue
        paragraph.append(stripped)
        i += 1
    flush()
    return out


def render_markdown(text: str) -> SafeString:
    """Markdown ``text`` as safe HTML (see the module docstring for the subset)."""
    text = (text or "").replace("\x00", "\ufffd").replace("\r\n", "\n").replace("\r", "\n")
    return mark_safe("".join(_render_blocks(text.split("\n"), 0)))
