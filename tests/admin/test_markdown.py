"""The admin's escape-first Markdown subset and widget rendering, on exact HTML."""

from __future__ import annotations

import pytest

from django_chatkit.admin.markdown import render_markdown, safe_url
from django_chatkit.admin.widgets import WidgetRenderer, image_src

LINK = 'rel="noopener noreferrer nofollow" target="_blank"'


@pytest.mark.parametrize(
    "text, html",
    [
        ("", ""),
        ("plain & <b>", "<p>plain &amp; &lt;b&gt;</p>"),
        ("one\ntwo\n\nthree", "<p>one<br>two</p><p>three</p>"),
        ("a\r\nb", "<p>a<br>b</p>"),
        ("nul\x00byte", "<p>nul\ufffdbyte</p>"),
        ("# Title #", "<h3>Title</h3>"),
        ("###### Six", "<h6>Six</h6>"),
        ("#", "<h3></h3>"),
        (
            "**bold** __too__ *it* _it_ ~~gone~~",
            (
                "<p><strong>bold</strong> <strong>too</strong> <em>it</em> <em>it</em> "
                "<del>gone</del></p>"
            ),
        ),
        ("snake_case_name and 2*3*4", "<p>snake_case_name and 2*3*4</p>"),
        ("`a <b> *c*`", "<p><code>a &lt;b&gt; *c*</code></p>"),
        (
            "```js\nlet a = '<b>';\n```\nafter",
            (
                '<pre><code class="language-js">let a = &#x27;&lt;b&gt;&#x27;;</code></pre>'
                "<p>after</p>"
            ),
        ),
        ("```\nnever closed", "<pre><code>never closed</code></pre>"),
        (
            "    indented <code>\n    more\n\nnext",
            ("<pre><code>indented &lt;code&gt;\nmore</code></pre><p>next</p>"),
        ),
        ("---", "<hr>"),
        (
            "> quoted\n> > nested",
            ("<blockquote><p>quoted</p><blockquote><p>nested</p></blockquote></blockquote>"),
        ),
        ("- a\n- b\n  continued\n* c", "<ul><li>a</li><li>b<br>continued</li><li>c</li></ul>"),
        ("3. three\n4) four", '<ol start="3"><li>three</li><li>four</li></ol>'),
        ("1. one\nnot an item", "<ol><li>one</li></ol><p>not an item</p>"),
        (
            "| a | b |\n|:--|--:|\n| 1 | <i> |\n| x \\| y |",
            (
                "<table><thead><tr><th>a</th><th>b</th></tr></thead><tbody>"
                "<tr><td>1</td><td>&lt;i&gt;</td></tr><tr><td>x \\| y</td></tr></tbody></table>"
            ),
        ),
        (
            "[site](https://example.com/a_b?x=1&y=2)",
            (f'<p><a href="https://example.com/a_b?x=1&amp;y=2" {LINK}>site</a></p>'),
        ),
        ('[t](/path "title")', f'<p><a href="/path" {LINK}>t</a></p>'),
        (
            "[**b** `c`](#frag)",
            f'<p><a href="#frag" {LINK}><strong>b</strong> <code>c</code></a></p>',
        ),
        (
            "<https://e.com/?a=1&b=2>",
            (f'<p><a href="https://e.com/?a=1&amp;b=2" {LINK}>https://e.com/?a=1&amp;b=2</a></p>'),
        ),
        (
            "![cat](https://e.com/cat.png)",
            (f'<p><a href="https://e.com/cat.png" {LINK}>[image: cat]</a></p>'),
        ),
        ("mail [me](mailto:a@b.c)", f'<p>mail <a href="mailto:a@b.c" {LINK}>me</a></p>'),
    ],
)
def test_markdown_subset(text, html):
    assert render_markdown(text) == html


@pytest.mark.parametrize(
    "text",
    [
        "<script>alert(1)</script>",
        "[x](javascript:alert(1))",
        "[x](JaVaScRiPt:alert(1))",
        "[x](java\tscript:alert(1))",
        "[x](data:text/html;base64,PHNjcmlwdD4=)",
        "[x](vbscript:msgbox)",
        "[x](//evil.example/)",
        '[x](" onmouseover="alert(1))',
        '[x](https://ok.example/"><script>alert(1)</script>)',
        "![x](javascript:alert(1))",
        "<javascript:alert(1)>",
        "`</code><script>alert(1)</script>`",
        "```\n</code></pre><script>alert(1)</script>\n```",
        "| <script>alert(1)</script> |\n|---|\n| <img src=x onerror=alert(1)> |",
        "# <img src=x onerror=alert(1)>",
        "> <svg onload=alert(1)>",
        "- <iframe src=javascript:alert(1)>",
        "**<b onclick=alert(1)>x</b>**",
    ],
)
def test_markdown_never_lets_markup_or_script_through(text):
    html = render_markdown(text)
    for bad in ("<script", "<img", "<svg", "<iframe", "<b ", 'href="javascript', 'onerror="'):
        assert bad not in html.lower(), html
    assert 'href="data:' not in html and 'href="//' not in html and 'href="vbscript' not in html


def test_safe_url():
    assert safe_url("https://a.example/x") and safe_url("/admin/") and safe_url("#top")
    for url in ("javascript:x", "//a.example", "https://a b", "ftp://a", "https://a\x01"):
        assert safe_url(url) is None


def test_image_src_allows_raster_data_and_optionally_remote_images():
    png = "data:image/png;base64,iVBORw0KGgo="
    assert image_src(png, load_remote=False) == png
    assert image_src("data:image/svg+xml;base64,PHN2Zz4=", load_remote=True) is None
    assert image_src("https://e.com/x.png", load_remote=False) is None
    assert image_src("https://e.com/x.png", load_remote=True) == "https://e.com/x.png"
    assert image_src("javascript:alert(1)", load_remote=True) is None
    assert image_src(None, load_remote=True) is None


def render_widget(node, load_remote_images=False) -> str:
    return str(WidgetRenderer(render_markdown, load_remote_images).render(node))


def test_widget_components():
    html = render_widget(
        {
            "type": "ListView",
            "status": {"text": "3 results <b>"},
            "children": [
                {
                    "type": "ListViewItem",
                    "onClickAction": {"type": "open"},
                    "children": [
                        {"type": "Caption", "value": "cap"},
                        {"type": "Label", "value": "lab"},
                        {"type": "Icon", "name": "star"},
                        {"type": "Divider"},
                        {"type": "Spacer"},
                        {"type": "Transition", "children": {"type": "Text", "value": "inner"}},
                        {"type": "Image", "src": "https://e.com/i.png", "alt": "pic"},
                        {"type": "Button", "iconStart": "plus"},
                        {"type": "Checkbox", "name": "agree", "label": "I agree"},
                        {"type": "Input", "name": "email", "placeholder": "you@"},
                        {
                            "type": "RadioGroup",
                            "name": "r",
                            "options": [{"label": "A", "value": "a"}, "raw"],
                            "onChangeAction": {"type": "picked"},
                        },
                        {"type": "Chart", "data": [{"x": 1, "y": 2}], "series": []},
                        {"type": "CustomThing", "color": "red", "count": 2, "nested": {"no": 1}},
                        "a bare string",
                    ],
                }
            ],
        }
    )
    assert '<div class="ck-w-status">3 results &lt;b&gt;</div>' in html
    assert '<span class="ck-w-action">→ open</span>' in html
    assert '<small class="ck-w-text">cap</small>' in html
    assert '<span class="ck-w-text">lab</span>' in html
    assert '<span class="ck-w-icon">star</span>' in html and "<hr>" in html
    assert '<p class="ck-w-text">inner</p>' in html
    assert f'pic <a href="https://e.com/i.png" {LINK}>https://e.com/i.png</a>' in html
    assert '<span class="ck-w-button">[plus]</span>' in html
    assert '<span class="ck-w-prop">agree</span> I agree' in html
    assert '<span class="ck-w-prop">email</span> you@' in html
    assert "<li>A</li><li>raw</li>" in html and "→ picked" in html
    assert "<th>x</th><th>y</th>" in html and "<td>1</td><td>2</td>" in html
    assert (
        '<span class="ck-w-prop">color: red</span><span class="ck-w-prop">count: 2</span>' in html
    )
    assert "nested" not in html
    assert '<span class="ck-w-value">a bare string</span>' in html


def test_widget_card_footer_remote_image_and_depth_limit():
    html = render_widget(
        {
            "type": "Card",
            "confirm": {"label": "Buy", "action": {"type": "buy"}},
            "cancel": {"label": "No"},
            "children": [{"type": "Image", "src": "https://e.com/i.png"}],
        },
        load_remote_images=True,
    )
    assert '[Buy]</span> <span class="ck-w-action">→ buy</span>' in html
    assert "[No]</span>" in html
    assert '<img class="ck-w-img" src="https://e.com/i.png" alt=""' in html
    deep: dict = {"type": "Text", "value": "bottom"}
    for _ in range(40):
        deep = {"type": "Box", "children": [deep]}
    html = render_widget(deep)
    assert "bottom" not in html and "…" in html
    assert render_widget(None) == '<span class="ck-w-value">None</span>'
