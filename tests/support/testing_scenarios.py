"""What tests/testing/test_client.py and tests/testing/test_live.py check, once through
Django's test client and once against live servers: every method of ``ChatKitClient``
against ``tests.support.testing_server.ToolkitServer`` (the example project's agent, offline)."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from chatkit import types as ck

from django_chatkit.testing import (
    ChatKitClient,
    ChatKitRefused,
    assert_answered,
    assert_refused,
    refused,
)
from example_project.models import Todo

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00"
    b"\x00\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7"
    b"5\x81\x84\x00\x00\x00\x00IEND\xaeB`\x82"
)


@pytest.fixture
def alice(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("alice", password="alice-pw")


@pytest.fixture
def bob(django_user_model: Any) -> Any:
    return django_user_model.objects.create_user("bob", password="bob-pw")


@dataclass
class World:
    """A client logged in as ``alice``, and how to make others."""

    client: ChatKitClient
    alice: Any
    bob: Any
    new_client: Callable[[], ChatKitClient]  # not logged in
    live: bool

    def client_of(self, user: Any) -> ChatKitClient:
        client = self.new_client()
        client.force_login(user)
        return client


def eventually(check: Callable[[], bool], timeout: float = 20.0) -> None:
    """A live server finishes a cancelled stream on its own time: wait for it."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "the server did not get there in time"
        time.sleep(0.05)


def conversation(world: World) -> None:
    """A tool that writes a row and streams a widget; progress updates; the title."""
    result = assert_answered(world.client.create_thread("Add a to-do: buy milk"))
    todo = Todo.objects.get(user=world.alice)
    assert isinstance(result.events[0], ck.ThreadCreatedEvent)
    assert result.thread_id == result.events[0].thread.id
    assert result.thread is not None and result.thread.title == "Add a to-do: buy milk"
    assert isinstance(result.user_message, ck.UserMessageItem)
    assert result.user_message.content[0].text == "Add a to-do: buy milk"
    (widget,) = result.widgets
    assert widget.copy_text == f"To-do #{todo.pk}: buy milk (open)"
    assert (
        result.text
        == f"Done! Added to-do #{todo.pk} “buy milk”. Edit it in the form above and press Save."
    )
    assert "".join(result.deltas) == result.text and len(result.deltas) > 1
    assert [type(item) for item in result.items] == [
        ck.UserMessageItem,
        ck.WidgetItem,
        ck.AssistantMessageItem,
    ]
    assert result.client_tool_call is None and result.error is None
    assert result.status == 200 and result.headers["Content-Type"] == "text/event-stream"

    report = assert_answered(world.client.add_user_message(result.thread, "Show my to-do report"))
    assert [update.text for update in report.progress_updates] == [
        "Counting your to-dos…",
        "Checking what is done…",
    ]
    assert report.text == "Here is your report: 1 to-do, 0 done. Still open: “buy milk”."
    assert report.thread is None and report.thread_id == result.thread_id  # no thread event

    # The widget's Save button, then a sync action on the same widget.
    saved = world.client.custom_action(
        result.thread_id,
        {"type": "todo.save", "payload": {"id": todo.pk, "title": "buy oat milk", "done": True}},
        widget,
    )
    (replaced,) = saved.widgets
    assert replaced.id == widget.id
    assert replaced.copy_text == f"To-do #{todo.pk}: buy oat milk (done)"
    assert saved.text == f"Saved. To-do #{todo.pk}: buy oat milk (done)."
    by_type = world.client.custom_action(
        result.thread_id, "todo.save", widget, payload={"id": todo.pk, "title": "milk"}
    )
    assert by_type.text == f"Saved. To-do #{todo.pk}: milk (open)."
    synced = world.client.sync_custom_action(result.thread, "todo.peek", widget, payload=7)
    assert isinstance(synced.updated_item, ck.WidgetItem)
    assert synced.updated_item.copy_text == "todo.peek: 7"


def client_tool(world: World) -> None:
    """A client tool call stops the run; its output lets the agent go on."""
    result = world.client.create_thread("Switch to dark mode")
    call = result.client_tool_call
    assert call is not None
    assert (call.name, call.arguments, call.status) == (
        "switch_theme",
        {"theme": "dark"},
        "pending",
    )
    assert result.assistant_messages == [] and result.text == ""
    answered = world.client.add_client_tool_output(result.thread, {"theme": "dark"})
    assert answered.text == 'Switched to the dark theme. The browser answered {"theme": "dark"}.'
    assert answered.client_tool_call is None


def retry_and_threads(world: World) -> None:
    """retry, list_threads, get_thread, list_items (pages), update, feedback, delete."""
    client = world.client
    first = client.create_thread("Hello there")
    second = client.add_user_message(first.thread_id, "Second message")
    retried = client.retry(first.thread_id, second.user_message)
    assert retried.text.startswith("You said “Second message”. I remember 1 earlier message")
    assert retried.user_message is None  # the message is answered again, not sent again
    items = client.list_items(first.thread_id, order="asc").data
    assert [item.type for item in items] == [
        "user_message",
        "assistant_message",
        "user_message",
        "assistant_message",
    ]
    assert items[3].id == retried.assistant_messages[0].id

    page = client.list_items(first.thread_id, limit=3, order="asc")
    rest = client.list_items(first.thread_id, limit=3, order="asc", after=page.after)
    assert (page.has_more, [i.id for i in page.data + rest.data]) == (True, [i.id for i in items])

    other = client.create_thread("Another thread")
    threads = client.list_threads()
    assert [thread.id for thread in threads.data] == [other.thread_id, first.thread_id]
    assert [t.id for t in client.list_threads(limit=1, order="asc").data] == [first.thread_id]

    renamed = client.update(first.thread, title="Renamed")
    assert isinstance(renamed, ck.Thread) and renamed.title == "Renamed"
    thread = client.get_thread(first.thread_id)
    assert thread.title == "Renamed"
    assert [item.id for item in thread.items.data] == [item.id for item in items]

    assert client.feedback(first.thread_id, items[1], "positive") is None
    client.feedback(first.thread_id, [items[3].id], "negative")
    from django_chatkit.models import Feedback

    assert sorted(Feedback.objects.values_list("kind", flat=True)) == ["negative", "positive"]

    assert client.delete(other.thread_id) is None
    with refused(404, "not_found"):
        client.get_thread(other.thread_id)


def structured_input_and_events(world: World) -> None:
    """add_structured_input; notices, client effects and error events; transcribe."""
    asked = world.client.create_thread("ask")
    (question,) = asked.items_of(ck.StructuredInputItem)
    assert question.status == "pending"
    answered = world.client.add_structured_input(asked.thread_id, question, {"color": ["blue"]})
    (replaced,) = answered.items_of(ck.StructuredInputItem)
    assert (replaced.id, replaced.status) == (question.id, "answered")
    assert answered.text == "You chose blue."
    (again,) = world.client.add_user_message(asked.thread_id, "ask").items_of(
        ck.StructuredInputItem
    )
    skipped = world.client.add_structured_input(
        asked.thread_id, again.id, ck.StructuredInputSubmission(status="skipped")
    )
    assert skipped.items_of(ck.StructuredInputItem)[0].status == "skipped"
    assert skipped.text == "You chose nothing."

    noticed = world.client.add_user_message(asked.thread_id, "notice")
    assert [(n.level, n.message) for n in noticed.notices] == [("info", "Heads up")]
    assert [(e.name, e.data) for e in noticed.client_effects] == [("confetti", {"pieces": 3})]
    assert noticed.text == "Noticed."
    failed = world.client.add_user_message(asked.thread_id, "fail")
    assert failed.ok and failed.error is not None
    assert (failed.error.code, failed.error.message) == ("custom", "Scripted failure.")
    with pytest.raises(AssertionError, match=r"streamed an error: custom 'Scripted failure\.'"):
        assert_answered(failed)

    transcribed = world.client.transcribe(b"\x00" * 10, "audio/webm;codecs=opus")
    assert transcribed.text == "10 bytes of audio/webm"


def attachments(world: World) -> None:
    """upload (direct and two-phase), create_attachment, delete_attachment."""
    direct = world.client.upload(PNG, name="dot.png")
    assert isinstance(direct, ck.ImageAttachment)
    assert (direct.name, direct.mime_type, direct.upload_descriptor) == (
        "dot.png",
        "image/png",
        None,
    )
    created = world.client.create_attachment("notes.txt", 5, "text/plain")
    assert created.upload_descriptor is not None
    uploaded = world.client.upload(b"hello", name="notes.txt", attachment=created)
    assert (uploaded.id, uploaded.upload_descriptor) == (created.id, None)

    result = world.client.create_thread("Look at these", attachments=[direct, uploaded.id])
    assert result.user_message is not None
    assert [a.id for a in result.user_message.attachments] == [direct.id, uploaded.id]
    assert result.text.startswith("You said “Look at these")

    spare = world.client.upload(b"spare", name="spare.txt")
    assert world.client.delete_attachment(spare) is None
    with refused(404):
        world.client.delete_attachment(spare.id)
    with pytest.raises(ChatKitRefused) as too_large:
        world.client.upload(b"x" * 11, name="big.txt", attachment=created)  # used up
    assert too_large.value.op == "upload" and too_large.value.status in (403, 404)


def refusals(world: World) -> None:
    """Foreign and missing ids, malformed bodies, no login: status and error code."""
    thread_id = world.client.create_thread("Mine").thread_id
    bob = world.client_of(world.bob)
    foreign = bob.add_user_message(thread_id, "Let me in")
    assert_refused(foreign, 404, "not_found")
    assert (foreign.ok, foreign.error_message) == (False, f"Thread {thread_id} not found")
    with pytest.raises(
        ChatKitRefused, match=r"threads\.add_user_message was refused with HTTP 404"
    ):
        foreign.raise_for_status()
    with pytest.raises(ChatKitRefused) as refusal:
        bob.get_thread(thread_id)
    assert (refusal.value.status, refusal.value.code) == (404, "not_found")
    with pytest.raises(AssertionError, match="expected a refusal 403"):
        assert_refused(foreign, 403)
    with pytest.raises(AssertionError, match="was not refused"), refused(404):
        bob.list_threads()

    malformed = world.client.send(b'{"type": "threads.create"}')
    assert_refused(malformed, 400, "invalid_request")
    assert malformed.op == "threads.create" and "params" in (malformed.error_message or "")
    assert world.client.send("not json").status == 400

    anonymous = world.new_client()
    assert_refused(anonymous.create_thread("Hi"), 401, "not_authenticated")
    bob.logout()
    assert_refused(bob.send({"type": "threads.list", "params": {}}), 401, "not_authenticated")


PIECES = 50  # of the slow answer, a tenth of a second apart


def stop(world: World) -> None:
    """Hanging up mid-stream (the Stop button): the partial answer is kept."""

    def first_delta(event: ck.ThreadStreamEvent) -> bool:
        return isinstance(event, ck.ThreadItemUpdatedEvent) and isinstance(
            event.update, ck.AssistantMessageContentPartTextDelta
        )

    stopped = world.client.create_thread(f"slow {PIECES} 0.1", stop_after=first_delta)
    assert stopped.hung_up and stopped.ok and stopped.deltas == ["part0 "]
    assert stopped.assistant_messages == []  # it never finished

    def saved() -> list[ck.ThreadItem]:
        return world.client.list_items(stopped.thread_id, order="asc").data

    # Through the test client the method returns once the server saved the answer; a
    # live server saves it once it has noticed the client went.
    eventually(lambda: len(saved()) == 2)
    user, partial = saved()
    assert isinstance(user, ck.UserMessageItem)
    assert isinstance(partial, ck.AssistantMessageItem)
    text = partial.content[0].text
    assert text.startswith("part0 ") and f"part{PIECES - 1}" not in text
    counted = world.client.add_user_message(stopped.thread_id, "again", stop_after=3)
    assert counted.hung_up and len(counted.events) == 3
    typed = world.client.add_user_message(
        stopped.thread_id, "more", stop_after=ck.StreamOptionsEvent
    )
    assert typed.hung_up and isinstance(typed.events[-1], ck.StreamOptionsEvent)


SCENARIOS = [
    conversation,
    client_tool,
    retry_and_threads,
    structured_input_and_events,
    attachments,
    refusals,
    stop,
]
