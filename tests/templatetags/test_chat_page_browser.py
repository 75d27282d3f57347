"""The ``{% chatkit %}`` page in headless Chromium when one of its scripts does not load.

The page is served by a live Django server. It must never stay on "Loading the chat…":
when ``django_chatkit/chatkit.js`` is not served (a 404: the site serves no static
files), the container says so and what to fix; when OpenAI's CDN is unreachable (as on
this offline machine), it says that instead; with both scripts the component mounts.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import include, path
from playwright.sync_api import Page, Route, sync_playwright

from tests.support.browser import launch_chromium

CDN = "https://cdn.platform.openai.com/**"
# A stand-in for OpenAI's component, which this offline machine cannot download.
FAKE_CHATKIT = (
    'customElements.define("openai-chatkit", class extends HTMLElement { setOptions() {} });'
)
STATIC_ERROR = (
    "The chat could not start: its script {url} did not load. The site does not serve its "
    "static files: in development, run manage.py runserver with DEBUG = True; in "
    "production, run manage.py collectstatic and serve STATIC_ROOT (WhiteNoise or the web "
    "server)."
)
CDN_ERROR = (
    "The chat interface could not be loaded: its script comes from cdn.platform.openai.com, "
    "which this browser cannot reach (offline, or blocked by an extension or a Content "
    "Security Policy). The chat server itself works: try it from a terminal with python "
    "manage.py chatkit_chat"
)
PAGE = engines["django"].from_string(
    '{% load django_chatkit %}<!doctype html><div style="height: 400px">{% chatkit %}</div>'
)


def chat_page(request: HttpRequest) -> HttpResponse:
    return HttpResponse(PAGE.render(request=request))


urlpatterns = [
    path("", chat_page),
    path("chatkit/", include("django_chatkit.urls")),
]


def serve_component(route: Route) -> None:
    route.fulfill(content_type="text/javascript", body=FAKE_CHATKIT)


@pytest.fixture
def browser_page(live_server) -> Iterator[Page]:
    # Started after the live server and its database: Playwright's sync API runs an event
    # loop in this thread, where Django's database setup refuses to run.
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            yield browser.new_page()
        finally:
            browser.close()


def visible_messages(page: Page) -> list[str]:
    return [element.inner_text() for element in page.query_selector_all("[role=alert]:visible")]


def wait_for_message(page: Page, url: str) -> list[str]:
    page.goto(url)
    page.wait_for_selector(".django-chatkit [role=alert]:visible", timeout=15_000)
    assert not page.is_visible(".django-chatkit-loading")
    return visible_messages(page)


@pytest.mark.urls(__name__)
@pytest.mark.parametrize("component", ["unreachable", "served"])
def test_chatkit_js_not_served(live_server, settings, browser_page: Page, component) -> None:
    # A STATIC_URL the live server does not serve: chatkit.js is a real 404.
    settings.STATIC_URL = "/unserved-static/"
    if component == "served":
        browser_page.route(CDN, serve_component)
    else:
        browser_page.route(CDN, lambda route: route.abort())
    statuses: dict[str, int] = {}
    browser_page.on("response", lambda response: statuses.update({response.url: response.status}))
    messages = wait_for_message(browser_page, live_server.url + "/")
    assert statuses[live_server.url + "/unserved-static/django_chatkit/chatkit.js"] == 404
    assert messages == [STATIC_ERROR.format(url="/unserved-static/django_chatkit/chatkit.js")]
    assert browser_page.query_selector("openai-chatkit") is None


@pytest.mark.urls(__name__)
def test_component_unreachable(live_server, browser_page: Page) -> None:
    browser_page.route(CDN, lambda route: route.abort())
    assert wait_for_message(browser_page, live_server.url + "/") == [CDN_ERROR]


@pytest.mark.urls(__name__)
def test_both_scripts_load(live_server, browser_page: Page) -> None:
    browser_page.route(CDN, serve_component)
    browser_page.goto(live_server.url + "/")
    browser_page.wait_for_selector("openai-chatkit", state="attached", timeout=15_000)
    # The page has loaded (the inline check has run): no message, no spinner.
    browser_page.wait_for_load_state("load")
    assert browser_page.get_attribute(".django-chatkit", "data-django-chatkit-state") == "mounted"
    assert visible_messages(browser_page) == []
    assert not browser_page.is_visible(".django-chatkit-loading")
