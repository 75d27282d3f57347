"""``{% load django_chatkit %}``: embed the ChatKit chat UI in a template.

``{% chatkit %}`` renders a container for OpenAI's ``<openai-chatkit>`` web component,
the component's script (from ``CHATKIT_SCRIPT_URL``) and a small script of ours
(``django_chatkit/chatkit.js``) that mounts the component pointed at this site's
endpoint, with a ``fetch`` that sends the CSRF token, ``CHATKIT_DOMAIN_KEY`` and the
attachment upload strategy (``CHATKIT_UPLOAD_STRATEGY``). When ChatKit aborts a streaming
fetch (its Stop button), the fetch POSTs the thread's cancel URL (``django_chatkit:cancel``),
so that a durable answer (``CHATKIT_DURABLE_RESPONSES``) stops too. Scripts carry the request's
CSP nonce when there is one. The container never waits forever: when the component's
script cannot load, it says so and points to the terminal client (``manage.py
chatkit_chat``); when ``chatkit.js`` itself did not load (static files not served), a
small inline script after the container says that, with what to fix.

Arguments, all optional::

    {% chatkit url="/support/chatkit/" element_id="support-chat" options=chatkit_options %}

``url`` is the endpoint (default: ``django_chatkit:endpoint``), ``cancel_url`` the URL
that stops a thread's answer, with ``__thread_id__`` where the thread id goes (default:
``django_chatkit:cancel``; none when it does not reverse: Stop then only aborts the
fetch), ``element_id`` the
container's id, ``options`` a JSON-serializable dict merged into the component's
options (``theme``, ``startScreen``, ``history``, ...). Page scripts can change the
options before the component starts by listening to ``django-chatkit:configure`` (for
functions such as ``onClientTool``), and get the element from ``django-chatkit:ready``.

With ``CHATKIT_LIVE_URL`` set, a third script (``django_chatkit/live.js``) keeps the live
updates WebSocket open and calls the component's ``fetchUpdates()`` when the server
pushes to the thread it shows (see :mod:`django_chatkit.live.updates`).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from django import template
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest
from django.middleware.csrf import get_token
from django.templatetags.static import static
from django.urls import NoReverseMatch, reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext

from django_chatkit.attachments.backend import upload_strategy
from django_chatkit.conf import conf

register = template.Library()

GLUE_SCRIPT = "django_chatkit/chatkit.js"
LIVE_SCRIPT = "django_chatkit/live.js"
# Where the thread id goes in the cancel URL chatkit.js is given.
THREAD_ID_PLACEHOLDER = "__thread_id__"

# Runs right after its container (no interpolation: the container is the previous
# element). chatkit.js marks every container it finds; a container still unmarked when
# the page has loaded, or when chatkit.js fails to load, shows the static-files message.
STATIC_CHECK = mark_safe(
    "(function(c){function f(){if(!c.dataset.djangoChatkitState){"
    'c.querySelector(".django-chatkit-loading").hidden=true;'
    'c.querySelector(".django-chatkit-static-error").hidden=false;}}'
    'document.addEventListener("error",function(e){'
    'if(e.target.hasAttribute&&e.target.hasAttribute("data-django-chatkit-glue"))f();},true);'
    'addEventListener("load",f);})(document.currentScript.previousElementSibling);'
)


def csrf_header_name() -> str:
    """The request header Django reads the CSRF token from (``X-CSRFTOKEN`` by default)."""
    name = settings.CSRF_HEADER_NAME
    return name.removeprefix("HTTP_").replace("_", "-")


def csp_nonce(context: template.Context) -> str | None:
    """The request's CSP nonce: Django 6's, or django-csp's ``request.csp_nonce``."""
    nonce = context.get("csp_nonce")  # django.template.context_processors.csp (Django 6)
    request = context.get("request")
    if not nonce and request is not None:
        try:
            from django.middleware.csp import get_nonce  # type: ignore[import-not-found, unused-ignore]
        except ImportError:  # Django < 6
            pass
        else:
            nonce = get_nonce(request)
        nonce = nonce or getattr(request, "csp_nonce", None)  # django-csp
    return str(nonce) if nonce else None


def cancel_url_template() -> str | None:
    """``django_chatkit:cancel`` with :data:`THREAD_ID_PLACEHOLDER` for the thread id, or
    ``None`` where the project does not route it."""
    try:
        return reverse("django_chatkit:cancel", kwargs={"thread_id": THREAD_ID_PLACEHOLDER})
    except NoReverseMatch:
        return None


def chatkit_config(
    request: HttpRequest,
    *,
    url: str | None = None,
    cancel_url: str | None = None,
    options: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """What ``chatkit.js`` needs to mount the component, as a JSON-serializable dict."""
    stop_url = cancel_url or cancel_url_template()
    return {
        "api": {
            "url": url or reverse("django_chatkit:endpoint"),
            "domainKey": conf.CHATKIT_DOMAIN_KEY,
            "uploadStrategy": upload_strategy(request),
        },
        "csrf": {
            "headerName": csrf_header_name(),
            # get_token() also makes sure the response sets the CSRF cookie.
            "token": get_token(request),
        },
        "stop": {"url": stop_url, "placeholder": THREAD_ID_PLACEHOLDER} if stop_url else None,
        "options": options or {},
    }


def chatkit_html(
    config: dict[str, Any],
    *,
    element_id: str = "chatkit",
    script_url: str,
    glue_url: str,
    nonce: str | None = None,
    live_url: str | None = None,
    live_script_url: str | None = None,
) -> SafeString:
    """The container and scripts of the ChatKit UI (see the module docstring)."""
    nonce_attr = format_html(' nonce="{}"', nonce) if nonce else ""
    live = ""
    if live_url and live_script_url:
        live = format_html(
            '\n<script src="{}" defer data-django-chatkit-live="{}"{}></script>',
            live_script_url,
            live_url,
            nonce_attr,
        )
    cdn_host = urlsplit(script_url).netloc or script_url
    return format_html(
        '<div id="{id}" class="django-chatkit" data-django-chatkit="{config}">'
        '<p class="django-chatkit-loading">{loading}</p>'
        '<p class="django-chatkit-error" role="alert" hidden>{failed} {fallback} '
        "<code>python manage.py chatkit_chat</code></p>"
        '<p class="django-chatkit-static-error" role="alert" hidden>{static_failed}</p>'
        "</div>\n"
        "<script{nonce}>{static_check}</script>\n"
        '<script src="{script_url}" async data-django-chatkit-script{nonce}></script>\n'
        '<script src="{glue_url}" defer data-django-chatkit-glue{nonce}></script>{live}',
        id=element_id,
        config=json.dumps(config, separators=(",", ":")),
        loading=gettext("Loading the chat…"),
        failed=gettext(
            "The chat interface could not be loaded: its script comes from %(host)s, "
            "which this browser cannot reach (offline, or blocked by an extension or a "
            "Content Security Policy)."
        )
        % {"host": cdn_host},
        fallback=gettext("The chat server itself works: try it from a terminal with"),
        static_failed=gettext(
            "The chat could not start: its script %(url)s did not load. The site does not "
            "serve its static files: in development, run manage.py runserver with DEBUG = "
            "True; in production, run manage.py collectstatic and serve STATIC_ROOT "
            "(WhiteNoise or the web server)."
        )
        % {"url": glue_url},
        static_check=STATIC_CHECK,
        script_url=script_url,
        glue_url=glue_url,
        nonce=nonce_attr,
        live=live,
    )


@register.simple_tag(takes_context=True)
def chatkit(
    context: template.Context,
    url: str | None = None,
    element_id: str = "chatkit",
    options: dict[str, Any] | None = None,
    cancel_url: str | None = None,
) -> SafeString:
    """Embed the ChatKit UI, talking to this site's ChatKit endpoint."""
    request = context.get("request")
    if request is None:
        raise ImproperlyConfigured(
            "{% chatkit %} needs the request in the template context: render with a "
            "RequestContext (e.g. render(request, ...)) and enable the "
            "'django.template.context_processors.request' context processor."
        )
    return chatkit_html(
        chatkit_config(request, url=url, cancel_url=cancel_url, options=options),
        element_id=element_id,
        script_url=conf.CHATKIT_SCRIPT_URL,
        glue_url=static(GLUE_SCRIPT),
        nonce=csp_nonce(context),
        live_url=conf.CHATKIT_LIVE_URL,
        live_script_url=static(LIVE_SCRIPT),
    )
