"""Usage in headless Chromium: the overview's chart as a person sees it (its screenshot
is the one in docs/usage.rst), and the widget showing a ``quota_exceeded`` refusal.

``CHATKIT_UPDATE_DOCS_SCREENSHOTS=1`` also writes the chart's screenshot to
``docs/_static/usage-overview.png``; it always lands in ``test-output/usage/``.
"""

from __future__ import annotations

import json
import os
import shutil
from datetime import timedelta
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.test import Client
from django.urls import include, path
from django.utils import timezone
from playwright.sync_api import sync_playwright

from django_chatkit.managers import Owner
from django_chatkit.usage import UsageCounts, save_usage
from tests.support import ROOT
from tests.support.browser import launch_chromium
from tests.support.factories import OUTPUT, make_user
from tests.support.protocol import new_thread

SCREENSHOT_DIR = OUTPUT.parent / "usage"
DOCS_SCREENSHOT = ROOT / "docs" / "_static" / "usage-overview.png"
FAKE_CHATKIT = (
    'customElements.define("openai-chatkit", class extends HTMLElement {'
    " setOptions(options) { window.chatkitOptions = options; } });"
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


def session_cookie(live_server: Any, user: Any) -> dict[str, str]:
    """A session cookie of ``user`` for the browser (made before Playwright starts: its
    event loop in this thread keeps the ORM out)."""
    client = Client()
    client.force_login(user)
    value = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    return {"name": django_settings.SESSION_COOKIE_NAME, "value": value, "url": live_server.url}


def a_month_of_usage() -> None:
    """Thirty days of three users' answers, some in the "support" scope."""
    now = timezone.now()
    users = [make_user(name) for name in ("ada", "grace", "linus")]
    for day in range(30):
        for rank, user in enumerate(users):
            tokens = (3 - rank) * (2000 + 150 * ((day * 7 + rank * 3) % 11))
            counts = UsageCounts(2, tokens * 3 // 4, tokens // 4, tokens // 4)
            scope = "support" if rank == 2 else ""
            when = now - timedelta(days=day)
            save_usage(Owner(user.pk, scope), None, "gpt-4.1-mini", counts, 3.0, now=when)


@pytest.mark.django_db(transaction=True)
def test_the_usage_chart_reads_at_a_glance(live_server: Any) -> None:
    a_month_of_usage()
    cookie = session_cookie(live_server, make_user("staff", superuser=True))
    SCREENSHOT_DIR.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = browser.new_context(viewport={"width": 1100, "height": 800})
            context.add_cookies([cookie])
            page = context.new_page()
            page.add_init_script("localStorage.setItem('django.admin.navSidebarIsOpen', 'false')")
            page.goto(f"{live_server.url}/admin/django_chatkit/dailyusage/")
            chart = page.locator("svg.ck-usage-chart")
            chart.wait_for()
            box = chart.bounding_box()
            assert box is not None and box["width"] > 600 and box["height"] > 150
            heights = page.eval_on_selector_all(
                "g.ck-day", "days => days.map(d => d.getBoundingClientRect().height)"
            )
            assert len(heights) == 30 and min(heights) > 10  # every day has a visible bar
            names = page.locator(".ck-top-name").all_inner_texts()
            assert names == ["ada", "grace", "linus"]
            widths = page.eval_on_selector_all(
                ".ck-top-bar span", "bars => bars.map(b => b.getBoundingClientRect().width)"
            )
            assert widths[0] > widths[1] > widths[2] > 0
            page.screenshot(path=str(SCREENSHOT_DIR / "overview.png"), full_page=True)

            page.select_option("#ck-scope", "support")
            page.wait_for_url("**scope=support")
            assert page.locator(".ck-top-name").all_inner_texts() == ["linus"]
        finally:
            browser.close()
    if os.environ.get("CHATKIT_UPDATE_DOCS_SCREENSHOTS"):
        DOCS_SCREENSHOT.parent.mkdir(exist_ok=True)
        shutil.copyfile(SCREENSHOT_DIR / "overview.png", DOCS_SCREENSHOT)


@pytest.mark.urls(__name__)
@pytest.mark.django_db(transaction=True)
def test_the_widget_shows_the_quota_message(live_server: Any, settings: Any) -> None:
    settings.CHATKIT_USAGE_LIMITS = {"tokens_per_day": 100}
    user = make_user("spender")
    save_usage(Owner(user.pk), None, "m", UsageCounts(1, 100))
    cookie = session_cookie(live_server, user)
    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = browser.new_context()
            context.add_cookies([cookie])
            page = context.new_page()
            page.route(
                "https://cdn.platform.openai.com/**",
                lambda route: route.fulfill(content_type="text/javascript", body=FAKE_CHATKIT),
            )
            page.goto(live_server.url + "/")
            page.wait_for_function("window.chatkitOptions !== undefined")
            # What the component does for a new message: a POST through the tag's fetch.
            answer = page.evaluate(
                """async (body) => {
                    const options = window.chatkitOptions;
                    const response = await options.api.fetch(options.api.url, {
                        method: "POST", body, headers: {"Content-Type": "application/json"}});
                    return {status: response.status, type: response.headers.get("Content-Type"),
                            retry: response.headers.get("Retry-After"),
                            text: await response.text()};
                }""",
                json.dumps(new_thread("hello")),
            )
        finally:
            browser.close()
    assert answer["status"] == 200 and answer["type"] == "text/event-stream"
    assert int(answer["retry"]) > 0
    assert answer["text"].startswith("data: ") and answer["text"].endswith("\n\n")
    event = json.loads(answer["text"].removeprefix("data: "))
    assert event["type"] == "error" and event["allow_retry"] is False
    assert event["message"].startswith("You have used 100 of your 100 tokens today.")
