"""``{% load django_chatkit %}{% chatkit %}``: the exact HTML it renders."""

from __future__ import annotations

import re

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpResponse
from django.middleware.csrf import CsrfViewMiddleware
from django.template import Context, Template
from django.test import RequestFactory, override_settings

from django_chatkit.templatetags.django_chatkit import (
    STATIC_CHECK,
    cancel_url_template,
    chatkit_html,
)

ERROR = (
    '<p class="django-chatkit-error" role="alert" hidden>The chat interface could not be '
    "loaded: its script comes from {host}, which this browser cannot reach (offline, or "
    "blocked by an extension or a Content Security Policy). The chat server itself works: "
    "try it from a terminal with <code>python manage.py chatkit_chat</code></p>"
)
STATIC_ERROR = (
    '<p class="django-chatkit-static-error" role="alert" hidden>The chat could not start: '
    "its script /static/django_chatkit/chatkit.js did not load. The site does not serve its "
    "static files: in development, run manage.py runserver with DEBUG = True; in "
    "production, run manage.py collectstatic and serve STATIC_ROOT (WhiteNoise or the web "
    "server).</p>"
)


def expected(config: str, *, element_id="chatkit", script, host, nonce="") -> str:
    attr = f' nonce="{nonce}"' if nonce else ""
    return (
        f'<div id="{element_id}" class="django-chatkit" '
        f'data-django-chatkit="{config.replace(chr(34), "&quot;")}">'
        '<p class="django-chatkit-loading">Loading the chat…</p>'
        f"{ERROR.format(host=host)}{STATIC_ERROR}</div>\n"
        f"<script{attr}>{STATIC_CHECK}</script>\n"
        f'<script src="{script}" async data-django-chatkit-script{attr}></script>\n'
        '<script src="/static/django_chatkit/chatkit.js" defer data-django-chatkit-glue'
        f"{attr}></script>"
    )


def render(template: str, **context) -> str:
    return Template("{% load django_chatkit %}" + template).render(Context(context))


def without_token(html: str) -> tuple[str, str]:
    """``html`` with its CSRF token replaced by ``TOKEN``, and the token."""
    token = re.search(r"&quot;token&quot;:&quot;([A-Za-z0-9]+)&quot;", html).group(1)
    return html.replace(token, "TOKEN"), token


def csrf_accepts(cookie: str, token: str) -> bool:
    """Whether Django's CSRF protection accepts ``token`` sent with ``cookie``."""
    request = RequestFactory().post("/chatkit/", HTTP_X_CSRFTOKEN=token)
    request.COOKIES["csrftoken"] = cookie
    middleware = CsrfViewMiddleware(lambda request: HttpResponse())
    middleware.process_request(request)
    return middleware.process_view(request, lambda request: None, (), {}) is None


def test_pure_function_html():
    html = chatkit_html(
        {"api": {"url": "/c/"}, "note": "<&'>"},
        element_id="help-chat",
        script_url="https://cdn.example.com/chatkit.js",
        glue_url="/static/django_chatkit/chatkit.js",
    )
    assert html == expected(
        '{"api":{"url":"/c/"},"note":"&lt;&amp;&#x27;&gt;"}',
        element_id="help-chat",
        script="https://cdn.example.com/chatkit.js",
        host="cdn.example.com",
    )


def test_pure_function_nonce_on_every_script():
    html = chatkit_html(
        {},
        script_url="https://cdn.example.com/chatkit.js",
        glue_url="/static/django_chatkit/chatkit.js",
        nonce='n"1',
    )
    assert html == expected(
        "{}", script="https://cdn.example.com/chatkit.js", host="cdn.example.com", nonce="n&quot;1"
    )


def test_tag_defaults(rf):
    request = rf.get("/")
    html, token = without_token(render("{% chatkit %}", request=request))
    assert html == expected(
        '{"api":{"url":"/chatkit/","domainKey":"local-dev","uploadStrategy":'
        '{"type":"direct","uploadUrl":"http://testserver/chatkit/attachments/upload/"}},'
        '"csrf":{"headerName":"X-CSRFTOKEN","token":"TOKEN"},'
        '"stop":{"url":"/chatkit/threads/__thread_id__/cancel/","placeholder":"__thread_id__"},'
        '"options":{}}',
        script="https://cdn.platform.openai.com/deployments/chatkit/chatkit.js",
        host="cdn.platform.openai.com",
    )
    # The embedded token is a real one, and the response will set the cookie it pairs with.
    assert request.META["CSRF_COOKIE_NEEDS_UPDATE"] is True
    assert csrf_accepts(request.META["CSRF_COOKIE"], token)
    assert not csrf_accepts(request.META["CSRF_COOKIE"], "x" * 32)


@override_settings(
    CHATKIT_DOMAIN_KEY="domain_pk_123",
    CHATKIT_SCRIPT_URL="https://cdn.example.com/ck.js",
    CHATKIT_UPLOAD_STRATEGY="two_phase",
    CSRF_HEADER_NAME="HTTP_X_MY_CSRF",
)
def test_tag_settings_arguments_and_options(rf):
    html, _ = without_token(
        render(
            '{% chatkit url="/support/chatkit/" element_id="support" options=opts '
            'cancel_url="/support/chatkit/threads/__thread_id__/cancel/" %}',
            request=rf.get("/"),
            opts={"history": {"enabled": False}, "theme": {"colorScheme": "dark"}},
        )
    )
    assert html == expected(
        '{"api":{"url":"/support/chatkit/","domainKey":"domain_pk_123","uploadStrategy":'
        '{"type":"two_phase"}},"csrf":{"headerName":"X-MY-CSRF","token":"TOKEN"},'
        '"stop":{"url":"/support/chatkit/threads/__thread_id__/cancel/",'
        '"placeholder":"__thread_id__"},"options":{"history":{"enabled":false},"theme":{"colorScheme":"dark"}}}',
        element_id="support",
        script="https://cdn.example.com/ck.js",
        host="cdn.example.com",
    )


@override_settings(CHATKIT_UPLOAD_STRATEGY="two_phase")
def test_tag_nonce_from_django_csp(rf):
    request = rf.get("/")
    request.csp_nonce = "abc123"  # as django-csp's middleware sets it
    html, _ = without_token(render("{% chatkit %}", request=request))
    assert html.count(' nonce="abc123"') == 3
    assert html.endswith(
        '<script src="/static/django_chatkit/chatkit.js" defer data-django-chatkit-glue '
        'nonce="abc123"></script>'
    )


@override_settings(CHATKIT_UPLOAD_STRATEGY="two_phase")
def test_tag_nonce_from_context(rf):
    # Django 6's django.template.context_processors.csp puts it in the context.
    html, _ = without_token(render("{% chatkit %}", request=rf.get("/"), csp_nonce="ctx9"))
    assert html.count(' nonce="ctx9"') == 3


@pytest.mark.urls("tests.support.urls_without_chatkit")
def test_no_cancel_url_where_the_project_routes_none():
    # chatkit.js then sends no cancel: Stop only aborts the fetch.
    assert cancel_url_template() is None


def test_tag_without_request_is_a_clear_error():
    with pytest.raises(ImproperlyConfigured, match="needs the request in the template context"):
        render("{% chatkit %}")
