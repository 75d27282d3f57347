"""django_chatkit.testing's client through Django's test client: every method (the
scenarios of tests/testing_scenarios.py), the async twin, logins and the database guard."""

from __future__ import annotations

import inspect
from typing import Any

import pytest
from chatkit import types as ck
from django.test import AsyncClient, Client, override_settings

from django_chatkit.testing import (
    AsyncChatKitClient,
    ChatKitClient,
    LoginFailed,
    assert_answered,
    assert_refused,
    refused,
)
from tests.support import testing_scenarios
from tests.support.testing_scenarios import PNG, SCENARIOS, World

pytestmark = pytest.mark.django_db(transaction=True)

alice, bob = testing_scenarios.alice, testing_scenarios.bob  # fixtures


@pytest.fixture(autouse=True)
def _toolkit_server() -> Any:
    with override_settings(
        CHATKIT_SERVER="tests.support.testing_server.ToolkitServer",
        ROOT_URLCONF="example_project.urls",
        DEMO_SLOW_TOOL_SECONDS=0,
    ):
        yield


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda scenario: scenario.__name__)
def test_every_method_through_the_test_client(scenario: Any, alice: Any, bob: Any) -> None:
    client = ChatKitClient()
    client.force_login(alice)
    scenario(World(client, alice, bob, ChatKitClient, live=False))


def test_the_sync_client_has_every_method_of_the_async_one() -> None:
    public = {
        name
        for name, member in inspect.getmembers(AsyncChatKitClient)
        if not name.startswith("_") and inspect.iscoroutinefunction(member)
    }
    assert public <= set(dir(ChatKitClient))
    for name in public:
        assert getattr(ChatKitClient, name).__doc__ == getattr(AsyncChatKitClient, name).__doc__


async def test_the_async_client(alice: Any, bob: Any) -> None:
    client = AsyncChatKitClient()
    await client.force_login(alice)
    result = assert_answered(await client.create_thread("Add a to-do: water the plants"))
    assert result.widgets and result.text.startswith("Done! Added to-do #")
    thread = result.thread
    assert thread is not None
    report = await client.add_user_message(thread, "Show my to-do report")
    assert len(report.progress_updates) == 2
    tool = await client.add_user_message(thread, "Switch to light mode")
    assert tool.client_tool_call is not None
    answered = await client.add_client_tool_output(thread, {"theme": "light"})
    assert answered.text.startswith("Switched to the light theme.")
    (widget,) = result.widgets
    todo_id = widget.widget.children[0].onSubmitAction.payload["id"]
    saved = await client.custom_action(
        thread, "todo.save", widget, payload={"id": todo_id, "title": "x"}
    )
    assert saved.text.startswith("Saved.")
    synced = await client.sync_custom_action(thread, {"type": "peek", "payload": None}, widget)
    assert synced.updated_item is not None
    retried = await client.retry(thread, result.user_message)
    assert retried.assistant_messages

    # Five events: the message, stream options, the answer added, its part, one delta.
    stopped = await client.add_user_message(thread, "A long answer, please", stop_after=5)
    assert stopped.hung_up and len(stopped.events) == 5 and len(stopped.deltas) == 1
    items = await client.list_items(thread, order="asc")
    assert items.data[-1].type == "assistant_message"  # the partial answer, saved
    assert [t.id for t in (await client.list_threads()).data] == [thread.id]
    assert (await client.update(thread, title="Plants")).title == "Plants"
    assert (await client.get_thread(thread.id)).title == "Plants"
    await client.feedback(thread, items.data[-1], "negative")
    attachment = await client.upload(PNG, name="dot.png")
    created = await client.create_attachment("a.txt", 3, "text/plain")
    await client.upload(b"abc", attachment=created, name="a.txt")
    await client.delete_attachment(attachment)
    assert (await client.transcribe(b"abcd", "audio/ogg")).text == "4 bytes of audio/ogg"
    asked = await client.create_thread("ask")
    (question,) = asked.items_of(ck.StructuredInputItem)
    chosen = await client.add_structured_input(asked.thread_id, question, {"color": ["red"]})
    assert chosen.text == "You chose red."
    await client.delete(thread)
    with refused(404, "not_found"):
        await client.get_thread(thread.id)

    other = AsyncChatKitClient()
    await other.force_login(bob)
    assert_refused(await other.add_user_message(asked.thread_id, "hi"), 404, "not_found")
    assert (await other.send({"type": "threads.list", "params": {}})).body["data"] == []
    await other.logout()
    assert_refused(await other.create_thread("hi"), 401, "not_authenticated")


def test_login_with_a_password(alice: Any) -> None:
    client = ChatKitClient()
    with pytest.raises(LoginFailed, match="Logging in as 'alice' failed"):
        client.login("alice", "wrong")
    client.login("alice", "alice-pw")
    assert client.create_thread("Hello").ok


def test_a_django_client_lends_its_login(client: Client, alice: Any) -> None:
    client.force_login(alice)
    chat = ChatKitClient(client)
    assert chat.create_thread("Hello").ok
    client.logout()
    assert chat.create_thread("Hello").status == 401
    async_chat = AsyncChatKitClient(AsyncClient())
    assert async_chat.endpoint == "/chatkit/"


def test_csrf_is_sent_as_the_web_component_sends_it(alice: Any) -> None:
    strict = Client(enforce_csrf_checks=True)
    strict.force_login(alice)
    assert ChatKitClient(strict).create_thread("Hello").ok
    assert strict.post("/chatkit/", {}, content_type="application/json").status_code == 403


def test_another_endpoint_path(alice: Any) -> None:
    client = ChatKitClient(path="/no-such-endpoint/")
    client.force_login(alice)
    result = client.send({"type": "threads.list", "params": {}})
    assert (result.status, result.body, result.streamed) == (404, None, False)
    assert repr(result) == "<ChatKitResult threads.list 404 None>"


@pytest.mark.django_db(transaction=False)
def test_a_test_transaction_is_refused_with_a_reason(django_user_model: Any) -> None:
    user = django_user_model.objects.create_user("carol")
    client = ChatKitClient()
    with pytest.raises(RuntimeError, match="ChatKitClient needs committed data"):
        client.force_login(user)
