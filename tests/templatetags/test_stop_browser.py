"""Stop on the ``{% chatkit %}`` page in headless Chromium, with durable answers on.

ChatKit's Stop button aborts the ``AbortSignal`` it passed to the page's fetch; with
durable answers that alone would let the answer run on, so the tag's fetch
(``chatkit.js``) POSTs the thread's cancel URL. A stand-in for OpenAI's component (which
cannot load offline) calls that fetch the way ChatKit does: a POST of JSON with a signal
from an ``AbortController``, aborted mid-answer. The example project's daphne server
answers "tell me a long story" over two seconds (``tests.settings.durable_example``).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

import pytest
from django.contrib.staticfiles import finders
from django.db import connection
from django.test import Client
from playwright.sync_api import Page, Request, sync_playwright

from django_chatkit.models import RunningResponse, Thread, ThreadItem
from example_project.offline import LONG_STORY
from tests.support.browser import launch_chromium
from tests.support.consistency import CANCEL_MARKER
from tests.support.live import LiveServer, module_server

pytestmark = pytest.mark.django_db(transaction=True)
T = TypeVar("T")

FAKE_CHATKIT = """
customElements.define("openai-chatkit", class extends HTMLElement {
  setOptions(options) { this.options = options; }
});
"""
# What ChatKit does on Stop, as a page function: POST the request with an abort signal,
# read the stream until ``readUntil`` appears in it (or not at all), then abort.
SEND_AND_STOP = """async ({body, readUntil}) => {
  const options = document.querySelector("openai-chatkit").options;
  const controller = new AbortController();
  const pending = options.api.fetch(options.api.url, {
    method: "POST",
    headers: {"Content-Type": "application/json"},
    body: JSON.stringify(body),
    signal: controller.signal,
  });
  if (readUntil === null) {
    controller.abort();
    try { await pending; return "resolved"; } catch (error) { return error.name; }
  }
  const reader = (await pending).body.getReader();
  const decoder = new TextDecoder();
  let seen = "";
  while (!seen.includes(readUntil)) {
    const part = await reader.read();
    if (part.done) { return "the answer ended before Stop"; }
    seen += decoder.decode(part.value, {stream: true});
  }
  controller.abort();
  try { await reader.read(); return "read on"; } catch (error) { return error.name; }
}"""
STORY = "Please tell me a long story."


@pytest.fixture(scope="module")
def durable_server(django_db_setup, tmp_path_factory) -> Iterator[LiveServer]:
    """The example project's daphne server with durable answers on."""
    settings_module = "tests.settings.durable_example"
    with module_server(tmp_path_factory, "daphne", settings_module, lean=False) as server:
        yield server


@pytest.fixture
def page(durable_server: LiveServer, staff: Any) -> Iterator[Page]:
    client = Client()
    client.force_login(staff)
    session = client.cookies["sessionid"].value

    def serve_static(route: Any) -> None:
        path = finders.find(route.request.url.split("/static/", 1)[1])
        route.fulfill(path=path, content_type="text/javascript" if path.endswith(".js") else None)

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = browser.new_context()
            context.add_cookies(
                [{"name": "sessionid", "value": session, "url": durable_server.base_url}]
            )
            page = context.new_page()
            page.route("**/static/**", serve_static)
            page.route(
                "https://cdn.platform.openai.com/**",
                lambda route: route.fulfill(content_type="text/javascript", body=FAKE_CHATKIT),
            )
            page.goto(durable_server.base_url + "/")
            page.wait_for_selector("openai-chatkit", state="attached", timeout=15_000)
            yield page
        finally:
            browser.close()


def wait_until(page: Page, predicate: Callable[[], bool], timeout: float = 10.0) -> None:
    """Poll ``predicate`` until it holds (at most ``timeout`` s), letting Playwright
    dispatch the page's events meanwhile."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        page.wait_for_timeout(50)


def query(function: Callable[[], T]) -> T:
    """``function()`` in a thread of its own: Playwright's sync API runs an event loop in
    the test's thread, where Django refuses database queries."""

    def run() -> T:
        try:
            return function()
        finally:
            connection.close()

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(run).result()


def cancels(page: Page) -> list[Request]:
    """The cancel requests the page sends from now on (with their answers)."""
    sent: list[Request] = []
    page.on("requestfinished", lambda r: sent.append(r) if "/cancel/" in r.url else None)
    return sent


def stopped(page: Page, thread: Thread) -> list[str]:
    """The thread's item types once its answer stopped (the row gone, the note saved)."""
    texts = lambda: query(lambda: list(thread.items.values_list("type", "text")))  # noqa: E731
    wait_until(
        page, lambda: not running(thread) and ("sdk_hidden_context", CANCEL_MARKER) in texts()
    )
    return [kind for kind, _ in texts()]


def running(thread: Thread) -> bool:
    return query(RunningResponse.objects.filter(thread=thread).exists)


def only_thread(page: Page, user: Any) -> Thread:
    wait_until(page, lambda: query(Thread.objects.filter(user=user).exists))
    return query(lambda: Thread.objects.get(user=user))


def assert_cancel_sent(page: Page, sent: list[Request], thread: Thread) -> None:
    """The page POSTed the thread's cancel URL once, with its CSRF token, and the server
    cancelled the answer."""
    wait_until(page, lambda: len(sent) >= 1)
    (cancel,) = sent
    assert cancel.method == "POST"
    assert cancel.url.endswith(f"/chatkit/threads/{thread.chatkit_id}/cancel/")
    assert cancel.headers["x-csrftoken"] == csrf_token(page)
    response = cancel.response()
    assert response is not None
    assert (response.status, response.json()) == (200, {"cancelled": True})


def csrf_token(page: Page) -> str:
    return page.evaluate(
        "JSON.parse(document.querySelector('[data-django-chatkit]')"
        ".getAttribute('data-django-chatkit')).csrf.token"
    )


def test_stop_on_a_new_thread_cancels_it_by_the_id_of_its_first_frame(
    page: Page, staff: Any
) -> None:
    sent = cancels(page)
    body = {"type": "threads.create", "params": {"input": user_input(STORY)}}
    # Stop after the first words of the story: ChatKit's reader fails at once.
    assert page.evaluate(SEND_AND_STOP, {"body": body, "readUntil": "Once upon"}) == "AbortError"
    thread = only_thread(page, staff)
    assert_cancel_sent(page, sent, thread)
    assert stopped(page, thread) == ["user_message", "assistant_message", "sdk_hidden_context"]
    answer = query(lambda: ThreadItem.objects.get(thread=thread, type="assistant_message").text)
    assert answer.startswith("Once upon") and len(answer) < len(LONG_STORY)
    assert LONG_STORY.startswith(answer.rstrip())  # what had streamed, once


def test_stop_before_the_first_frame_is_sent_once_the_thread_is_known(
    page: Page, staff: Any
) -> None:
    sent = cancels(page)
    body = {"type": "threads.create", "params": {"input": user_input(STORY)}}
    # Aborted before the response started: the fetch rejects, and the page reads on
    # (for nobody) until thread.created names the thread to cancel.
    assert page.evaluate(SEND_AND_STOP, {"body": body, "readUntil": None}) == "AbortError"
    thread = only_thread(page, staff)
    assert_cancel_sent(page, sent, thread)
    assert stopped(page, thread)[-1] == "sdk_hidden_context"


def test_stop_on_an_existing_thread_and_the_answers_it_does_not_stop(
    page: Page, staff: Any
) -> None:
    sent = cancels(page)
    first = {"type": "threads.create", "params": {"input": user_input("hello")}}
    # An answer read to its end, whose signal is aborted afterwards: no cancel.
    assert page.evaluate(SEND_AND_STOP, {"body": first, "readUntil": "offline demo"}) in (
        "AbortError",
        "read on",
    )
    thread = only_thread(page, staff)
    wait_until(page, lambda: not running(thread))
    sent.clear()
    # Stop on a thread the request names: its params.thread_id.
    body = {
        "type": "threads.add_user_message",
        "params": {"thread_id": thread.chatkit_id, "input": user_input(STORY)},
    }
    assert page.evaluate(SEND_AND_STOP, {"body": body, "readUntil": "Once upon"}) == "AbortError"
    assert_cancel_sent(page, sent, thread)
    assert stopped(page, thread)[-2:] == ["assistant_message", "sdk_hidden_context"]


def user_input(text: str) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }
