"""Ctrl-C in the terminal client against a live daphne server with durable answers on:
it stops the answer as the browser's Stop does (``POST threads/<id>/cancel/``), then the
prompt comes back; another Ctrl-C, or one at the prompt, leaves the chat. The example
project's server answers "tell me a long story" over two seconds
(``tests.settings.durable_example``)."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from typing import Any

import pytest
from django.core.management import call_command

from django_chatkit.client.terminal import TerminalChat
from django_chatkit.client.transports import HttpTransport
from django_chatkit.models import RunningResponse, Thread, ThreadItem
from example_project.offline import LONG_STORY
from tests.support.consistency import CANCEL_MARKER
from tests.support.live import LiveServer, module_server

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(scope="module")
def durable_server(django_db_setup, tmp_path_factory) -> Iterator[LiveServer]:
    """The example project's daphne server with durable answers on."""
    settings_module = "tests.settings.durable_example"
    with module_server(tmp_path_factory, "daphne", settings_module, lean=False) as server:
        yield server


class CtrlC(TerminalChat):
    """Presses Ctrl-C once the answer's first words arrived (the interrupt lands where a
    real one does: in the main thread, while the transport reads the stream)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.armed = True
        self.cancels: list[bool] = []

    def on_event(self, event: dict[str, Any]) -> None:
        super().on_event(event)
        update = event.get("update", {})
        if self.armed and update.get("type") == "assistant_message.content_part.text_delta":
            self.armed = False
            raise KeyboardInterrupt


def wait_until(predicate: Any, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def cancelled_answers(thread: Thread) -> list[str]:
    """The texts of the thread's answers, oldest first."""
    return list(
        ThreadItem.objects.filter(thread=thread, type="assistant_message")
        .order_by("created_at", "pk")
        .values_list("text", flat=True)
    )


def notes(thread: Thread) -> int:
    return ThreadItem.objects.filter(
        thread=thread, type="sdk_hidden_context", text=CANCEL_MARKER
    ).count()


def test_ctrl_c_stops_the_answer_and_the_prompt_comes_back(
    durable_server: LiveServer, staff: Any
) -> None:
    transport = HttpTransport(durable_server.url, timeout=20)
    transport.login(f"{durable_server.base_url}/admin/login/", "alice", "pw")
    out = io.StringIO()
    chat = CtrlC(transport, out)

    chat.say("Tell me a long story")  # a new thread: its id came in the first frame
    thread = Thread.objects.get(user=staff, chatkit_id=chat.thread_id)
    assert out.getvalue().endswith("  [stopped]\n")
    wait_until(lambda: notes(thread) == 1 and not RunningResponse.objects.exists())
    (partial,) = cancelled_answers(thread)
    assert partial and LONG_STORY.startswith(partial.rstrip()) and len(partial) < len(LONG_STORY)

    chat.armed = True
    chat.say("Again: tell me a long story")  # the thread the request names
    wait_until(lambda: notes(thread) == 2 and not RunningResponse.objects.exists())
    assert len(cancelled_answers(thread)) == 2
    assert out.getvalue().count("  [stopped]\n") == 2

    # Without Ctrl-C the next answer runs to its end: nothing was left cancelled.
    chat.armed = False
    chat.say("hello")
    assert cancelled_answers(thread)[-1].startswith("You said “hello”.")
    assert transport.cancel(thread.chatkit_id) is False  # nothing runs now


class Interrupting:
    """A transport on which every call is interrupted by Ctrl-C."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def send(self, body: dict[str, Any], on_event: Any) -> None:
        self.calls.append(body["type"])
        on_event({"type": "thread.created", "thread": {"id": "thr_1"}})
        raise KeyboardInterrupt

    def cancel(self, thread_id: str) -> bool:
        self.calls.append(f"cancel {thread_id}")
        raise KeyboardInterrupt


def test_a_second_ctrl_c_while_stopping_leaves() -> None:
    transport = Interrupting()
    chat = TerminalChat(transport, io.StringIO())  # type: ignore[arg-type]
    with pytest.raises(KeyboardInterrupt):
        chat.say("hi")
    assert transport.calls == ["threads.create", "cancel thr_1"]


class CtrlCAtThePrompt(io.StringIO):
    def readline(self, *args: Any) -> str:
        raise KeyboardInterrupt

    def isatty(self) -> bool:
        return True


@pytest.mark.django_db
def test_ctrl_c_at_the_prompt_leaves(staff: Any) -> None:
    out = io.StringIO()
    call_command("chatkit_chat", user="alice", stdin=CtrlCAtThePrompt(), stdout=out)
    assert out.getvalue().endswith("you> \n")
