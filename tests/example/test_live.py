"""The example project's agent, offline, end to end through a real daphne server.

agents (``OfflineModel`` -> ``Runner.run_streamed``) -> ``stream_agent_response`` ->
ChatKit events -> ``DjangoStore`` -> SSE over loopback TCP -> this test. Nothing is mocked
and nothing leaves the machine. The terminal client's ``--url`` mode is tested against
the same server.
"""

from __future__ import annotations

import time
from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from django_chatkit.testing.responses import chunks
from example_project.models import Todo
from example_project.offline import LONG_STORY
from tests.support.browser import launch_chromium
from tests.support.live import (
    LiveServer,
    live_client,
    server_env,
    start_server,
    stop_server,
)
from tests.support.protocol import add_message, is_delta, new_thread, sse_events

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def demo_server(django_db_setup, tmp_path_factory):
    directory = tmp_path_factory.mktemp("live-example")
    (directory / "media").mkdir()
    env = server_env(directory / "media")
    env["DJANGO_SETTINGS_MODULE"] = "tests.settings.example"
    server = start_server("daphne", env, directory / "server.log")
    try:
        yield server
    finally:
        stop_server(server)


def turn(client, body: dict[str, Any]) -> list[dict[str, Any]]:
    with client.stream("POST", "/chatkit/", json=body) as response:
        assert response.status_code == 200, response.read()
        assert response.headers["content-type"] == "text/event-stream"
        return list(sse_events(response))


def done_items(events, kind: str) -> list[dict[str, Any]]:
    return [
        e["item"] for e in events if e["type"] == "thread.item.done" and e["item"]["type"] == kind
    ]


def answer(events) -> str:
    """The one assistant message of a turn, checked against the deltas that built it."""
    (message,) = done_items(events, "assistant_message")
    text = message["content"][0]["text"]
    deltas = [e["update"]["delta"] for e in events if is_delta(e)]
    assert "".join(deltas) == text
    return text


def index(events, predicate) -> int:
    return next(i for i, event in enumerate(events) if predicate(event))


def test_offline_agent_end_to_end(demo_server: LiveServer, staff) -> None:
    with live_client(demo_server, staff) as client:
        # 1. A tool call that writes a row and streams a widget; text in several deltas.
        events = turn(client, new_thread("Add a to-do: buy oat milk"))
        assert events[0]["type"] == "thread.created"
        thread_id = events[0]["thread"]["id"]
        todo = Todo.objects.get(user=staff)
        assert (todo.title, todo.done) == ("buy oat milk", False)
        (widget_item,) = done_items(events, "widget")
        form = widget_item["widget"]["children"][0]
        assert form["onSubmitAction"] == {"type": "todo.save", "payload": {"id": todo.pk}}
        assert widget_item["copy_text"] == f"To-do #{todo.pk}: buy oat milk (open)"
        assert len([e for e in events if is_delta(e)]) >= 3
        assert answer(events) == (
            f"Done! Added to-do #{todo.pk} “buy oat milk”. "
            "Edit it in the form above and press Save."
        )
        assert index(events, lambda e: e.get("item") == widget_item) < index(events, is_delta)
        # The title is written after the first turn, and is the stream's last event.
        assert events[-1]["type"] == "thread.updated"
        assert events[-1]["thread"]["title"] == "Add a to-do: buy oat milk"

        # 2. A slow tool reports progress before the answer; the title is not rewritten.
        events = turn(client, add_message(thread_id, "Show my to-do report"))
        progress = [e["text"] for e in events if e["type"] == "progress_update"]
        assert progress == ["Counting your to-dos…", "Checking what is done…"]
        assert index(events, lambda e: e["type"] == "progress_update") < index(events, is_delta)
        assert answer(events) == "Here is your report: 1 to-do, 0 done. Still open: “buy oat milk”."
        assert not [e for e in events if e["type"] == "thread.updated"]

        # 3. The widget's form action round trip: the row, the widget and a reply change.
        form_values = {"id": todo.pk, "title": "buy oat milk and bread", "done": True}
        events = turn(
            client,
            {
                "type": "threads.custom_action",
                "params": {
                    "thread_id": thread_id,
                    "item_id": widget_item["id"],
                    "action": {"type": "todo.save", "payload": form_values},
                },
            },
        )
        todo.refresh_from_db()
        assert (todo.title, todo.done) == ("buy oat milk and bread", True)
        (replaced,) = [e["item"] for e in events if e["type"] == "thread.item.replaced"]
        assert replaced["id"] == widget_item["id"]
        header, title_input, checkbox, footer = replaced["widget"]["children"][0]["children"]
        assert header["children"][1]["label"] == "Done"
        assert title_input["defaultValue"] == "buy oat milk and bread"
        assert checkbox["defaultChecked"] is True
        assert footer["children"][0]["value"] == "Saved"
        (saved,) = done_items(events, "assistant_message")
        assert (
            saved["content"][0]["text"]
            == f"Saved. To-do #{todo.pk}: buy oat milk and bread (done)."
        )
        assert not done_items(events, "hidden_context_item")  # stored, never sent

        # 4. A second chat turn sees the history the server sent the model.
        events = turn(client, add_message(thread_id, "What did I ask before?"))
        reply = answer(events)
        assert reply.startswith("You said “What did I ask before?”. I remember 2 earlier messages")
        assert "the last one was “Show my to-do report”" in reply

        # 5. A client tool call: the run stops, the client answers, the agent resumes.
        events = turn(client, add_message(thread_id, "Switch to dark mode"))
        (call,) = done_items(events, "client_tool_call")
        assert (call["name"], call["arguments"], call["status"]) == (
            "switch_theme",
            {"theme": "dark"},
            "pending",
        )
        assert not done_items(events, "assistant_message")
        events = turn(
            client,
            {
                "type": "threads.add_client_tool_output",
                "params": {"thread_id": thread_id, "result": {"theme": "dark"}},
            },
        )
        assert (
            answer(events) == 'Switched to the dark theme. The browser answered {"theme": "dark"}.'
        )

        # 6. What the store kept, as the client loads it back.
        thread = client.post(
            "/chatkit/", json={"type": "threads.get_by_id", "params": {"thread_id": thread_id}}
        ).json()
    assert thread["title"] == "Add a to-do: buy oat milk"
    items = thread["items"]["data"]
    assert [item["type"] for item in items] == [
        "user_message",
        "widget",
        "assistant_message",
        "user_message",
        "assistant_message",
        "assistant_message",  # "Saved." from the action
        "user_message",
        "assistant_message",
        "user_message",
        "client_tool_call",
        "assistant_message",
    ]
    assert items[1]["widget"] == replaced["widget"]
    assert (items[9]["status"], items[9]["output"]) == ("completed", {"theme": "dark"})


def test_the_long_story_streams_slowly(demo_server: LiveServer, staff) -> None:
    """ "tell me a long story" (any casing, inside a longer message): many small deltas
    spread over DEMO_STORY_SECONDS (1 s in tests.settings.example, 10 s in the demo)."""
    arrived: list[float] = []
    events = []
    with live_client(demo_server, staff) as client:
        body = new_thread("Hi! Please TELL me a long Story, about the sea.")
        with client.stream("POST", "/chatkit/", json=body) as response:
            assert response.status_code == 200
            for event in sse_events(response):
                events.append(event)
                if is_delta(event):
                    arrived.append(time.monotonic())
    assert answer(events) == LONG_STORY
    assert len(arrived) == len(chunks(LONG_STORY, 3)) > 100
    assert arrived[-1] - arrived[0] >= 0.9  # each delta waits 1 s / 118 before it goes out


def test_terminal_client_against_a_deployed_endpoint(demo_server: LiveServer, staff) -> None:
    out = StringIO()
    call_command(
        "chatkit_chat",
        url=demo_server.url,
        user="alice",
        password="pw",  # logs in where the 401 says: the example's LOGIN_URL, admin:login
        message=["Add a to-do: call the plumber", "/threads"],
        stdout=out,
    )
    output = out.getvalue()
    todo = Todo.objects.get(user=staff)
    assert f"Logged in as alice at {demo_server.base_url}/admin/login/." in output
    assert f"Chatting with {demo_server.url}." in output
    assert (
        f"assistant> Done! Added to-do #{todo.pk} “call the plumber”. "
        "Edit it in the form above and press Save.\n"
    ) in output
    assert "  [title] Add a to-do: call the plumber\n" in output
    assert "Add a to-do: call the plumber\n" in output.split("you> /threads")[1]


def test_terminal_client_reports_a_failed_login(demo_server: LiveServer, staff) -> None:
    with pytest.raises(CommandError, match=r"Logging in as 'alice' at .* failed"):
        call_command(
            "chatkit_chat",
            url=demo_server.url,
            user="alice",
            password="wrong",
            login_url=f"{demo_server.base_url}/admin/login/",
            message=["hello"],
            stdout=StringIO(),
        )


FAKE_CHATKIT = """
customElements.define("openai-chatkit", class extends HTMLElement {
  setOptions(options) { this.options = options; this.calls = (this.calls || 0) + 1; }
});
"""


def test_demo_page_in_a_browser(demo_server: LiveServer, staff) -> None:
    """The page's scripts: the failure message when OpenAI's CDN is unreachable, then
    (with a stand-in for the component) the CSRF-sending fetch and the client tool."""
    from django.contrib.staticfiles import finders
    from django.test import Client
    from playwright.sync_api import sync_playwright

    django_client = Client()
    django_client.force_login(staff)
    session = django_client.cookies["sessionid"].value

    def serve_static(route) -> None:
        path = finders.find(route.request.url.split("/static/", 1)[1])
        route.fulfill(path=path, content_type="text/javascript" if path.endswith(".js") else None)

    with sync_playwright() as playwright:
        browser = launch_chromium(playwright)
        try:
            context = browser.new_context()
            context.add_cookies(
                [{"name": "sessionid", "value": session, "url": demo_server.base_url}]
            )
            page = context.new_page()
            page.route("**/static/**", serve_static)
            page.route("https://cdn.platform.openai.com/**", lambda route: route.abort())
            page.goto(demo_server.base_url + "/")
            page.wait_for_selector(".django-chatkit-error", state="visible", timeout=15_000)
            assert page.inner_text(".django-chatkit-error") == (
                "The chat interface could not be loaded: its script comes from "
                "cdn.platform.openai.com, which this browser cannot reach (offline, or blocked "
                "by an extension or a Content Security Policy). The chat server itself works: "
                "try it from a terminal with python manage.py chatkit_chat"
            )
            assert not page.is_visible(".django-chatkit-loading")

            page.unroute("https://cdn.platform.openai.com/**")
            page.route(
                "https://cdn.platform.openai.com/**",
                lambda route: route.fulfill(content_type="text/javascript", body=FAKE_CHATKIT),
            )
            page.goto(demo_server.base_url + "/")
            page.wait_for_selector("openai-chatkit", state="attached")
            assert not page.is_visible(".django-chatkit-error")
            result = page.evaluate(
                """async () => {
                  const chatkit = document.querySelector("openai-chatkit");
                  const options = chatkit.options;
                  const response = await options.api.fetch("/chatkit/", {
                    method: "POST",
                    headers: {"Content-Type": "application/json"},
                    body: JSON.stringify({type: "threads.list", params: {}}),
                  });
                  const tool = await options.onClientTool(
                    {name: "switch_theme", params: {theme: "dark"}}
                  );
                  return {
                    status: response.status,
                    body: await response.json(),
                    url: options.api.url,
                    domainKey: options.api.domainKey,
                    upload: options.api.uploadStrategy.type,
                    history: options.history,
                    tool,
                    pageTheme: document.documentElement.dataset.theme,
                    chatTheme: chatkit.options.theme.colorScheme,
                    setOptionsCalls: chatkit.calls,
                  };
                }"""
            )
        finally:
            browser.close()
    # Session cookie and CSRF header reached the endpoint: a 200, not a 401/403.
    assert (result["status"], result["body"]) == (200, {"data": [], "has_more": False})
    assert (result["url"], result["domainKey"], result["upload"]) == (
        "/chatkit/",
        "local-dev",
        "direct",
    )
    assert result["history"] == {"enabled": True}
    assert result["tool"] == {"theme": "dark"}
    assert (result["pageTheme"], result["chatTheme"], result["setOptionsCalls"]) == (
        "dark",
        "dark",
        2,
    )


def test_terminal_client_says_where_to_log_in(demo_server: LiveServer) -> None:
    with pytest.raises(CommandError) as failure:
        call_command("chatkit_chat", url=demo_server.url, header=["X-Debug: 1"], message=["hi"])
    assert str(failure.value) == (
        f"{demo_server.url} needs a login (it says to log in at {demo_server.base_url}"
        "/admin/login/): pass --user NAME --password PASSWORD, or --header with the "
        "credentials the endpoint accepts."
    )
