"""``manage.py chatkit_chat`` in-process, driven through stdin (the ``--url`` mode is
tested against live servers in ``test_chatkit_chat_live.py`` and ``tests/example/test_live.py``)."""

from __future__ import annotations

import re
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from django_chatkit.client.terminal import TerminalChat
from django_chatkit.client.transports import SSEParser
from example_project.models import Todo

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("demo_user"),
]

EXAMPLE = override_settings(
    CHATKIT_SERVER="example_project.server.ExampleServer", DEMO_SLOW_TOOL_SECONDS=0
)


@pytest.fixture
def demo_user(django_user_model):
    return django_user_model.objects.create_superuser("demo", password="demo")


def chat(stdin: str, **options) -> str:
    out = StringIO()
    call_command("chatkit_chat", stdin=StringIO(stdin), stdout=out, **options)
    return out.getvalue()


@EXAMPLE
def test_a_session_through_stdin():
    output = chat(
        "Add a to-do: buy oat milk\n"
        '/action todo.save {"done": true}\n'
        "Show my to-do report\n"
        "Switch to dark mode\n"
        "/threads\n",
        user="demo",
    )
    todo = Todo.objects.get()
    assert todo.done is True
    thread_id = re.search(r"\[thread (thr_\w+)\]", output).group(1)
    widget_id = re.search(r"\[widget (msg_\w+)\]", output).group(1)
    assert output.splitlines()[:2] == [
        "Signed in as demo.",
        "Chatting with example_project.server.ExampleServer (in-process). "
        "Commands: /threads  /open ID  /new  /history  /action TYPE [JSON]  /help  /quit",
    ]
    transcript = output.split("you> ", 1)[1]
    assert transcript == (
        "Add a to-do: buy oat milk\n"
        f"  [thread {thread_id}]\n"
        f"  [widget {widget_id}] Card: To-do #{todo.pk} · Open · "
        'title="buy oat milk" · [ ] Done · Added · (Save) — actions: todo.save '
        f'{{"id": {todo.pk}}} (send one with /action TYPE [JSON])\n'
        f"assistant> Done! Added to-do #{todo.pk} “buy oat milk”. "
        "Edit it in the form above and press Save.\n"
        "  [title] Add a to-do: buy oat milk\n"
        'you> /action todo.save {"done": true}\n'
        f"  [widget updated {widget_id}] Card: To-do #{todo.pk} · Done · "
        'title="buy oat milk" · [x] Done · Saved · (Save) — actions: todo.save '
        f'{{"id": {todo.pk}}} (send one with /action TYPE [JSON])\n'
        f"assistant> Saved. To-do #{todo.pk}: buy oat milk (done).\n"
        "you> Show my to-do report\n"
        "  … Counting your to-dos…\n"
        "  … Checking what is done…\n"
        "assistant> Here is your report: 1 to-do, 1 done.\n"
        "you> Switch to dark mode\n"
        '  [client tool] switch_theme {"theme": "dark"} (pending)\n'
        '  [client tool] answering switch_theme with {"ok": true}\n'
        'assistant> Switched to the dark theme. The browser answered {"ok": true}.\n'
        "you> /threads\n"
        f" *{thread_id}  {thread_created(output, thread_id)}  Add a to-do: buy oat milk\n"
        "you> \n"
    )

    # Resume the thread: its history is shown, and the agent sees it too.
    resumed = chat("What was that?\n", user="demo", thread=thread_id)
    assert (
        f"  [thread {thread_id}] Add a to-do: buy oat milk\nyou> Add a to-do: buy oat milk\n"
        in (resumed)
    )
    assert '  [client tool] switch_theme {"theme": "dark"} (completed) -> {"ok": true}\n' in resumed
    assert (
        "assistant> You said “What was that?”. I remember 3 earlier messages in this thread; "
        "the last one was “Switch to dark mode”."
    ) in resumed


def thread_created(output: str, thread_id: str) -> str:
    return re.search(rf" \*{thread_id}  (\S+ \S+)  ", output).group(1)


@EXAMPLE
def test_commands_and_errors_inside_a_session():
    output = chat(
        "/history\n/action todo.save\n/open thr_nope\n/open\n/bogus\n/help\n\n"
        "hi\n/history\n/action\n/action todo.save {oops\n/action todo.save [1]\n"
        "/new\n/quit\nnot sent\n",
    )
    assert "Signed in as demo." in output  # the first superuser, by default
    assert "you> /history\n  [error] No thread yet.\n" in output
    assert "  [error] No thread yet: send a message or /open one first.\n" in output
    assert "you> /open thr_nope\n  [error] Thread thr_nope not found\n" in output
    assert "you> /open\n  [error] Usage: /open THREAD_ID\n" in output
    assert "you> /bogus\n  [error] Unknown command /bogus." in output
    assert "you> /help\nCommands: /threads  /open ID" in output
    thread_id = re.search(r"\[thread (thr_\w+)\]", output).group(1)
    assert f"you> /history\n  [thread {thread_id}] Hi\nyou> hi\nassistant> You said “hi”." in output
    assert "you> /action\n  [error] Usage: /action TYPE [JSON payload]\n" in output
    assert "you> /action todo.save {oops\n  [error] The payload is not JSON: " in output
    assert "you> /action todo.save [1]\n  [error] The payload must be a JSON object.\n" in output
    assert "you> /new\n  [new thread: it starts with your next message]\n" in output
    assert "not sent" not in output


def test_rendering_of_events_the_demo_does_not_send():
    out = StringIO()
    terminal = TerminalChat(transport=None, out=out)  # type: ignore[arg-type]
    item = {"id": "m1", "type": "assistant_message", "content": [{"text": "Hel"}]}
    for event in [
        {"type": "thread.updated", "thread": {"id": "t", "title": None}},
        {"type": "thread.item.added", "item": item},
        {
            "type": "thread.item.updated",
            "item_id": "m1",
            "update": {"type": "assistant_message.content_part.text_delta", "delta": "lo"},
        },
        {"type": "notice", "level": "warning", "message": "Almost out of credits"},
        {"type": "client_effect", "name": "confetti", "data": {"n": 3}},
        {
            "type": "thread.item.updated",
            "item_id": "w1",
            "update": {
                "type": "widget.root.updated",
                "widget": {
                    "type": "Card",
                    "children": [
                        {"type": "Text", "value": "Hi"},
                        {"type": "Button", "label": "Go", "onClickAction": {"type": "go"}},
                    ],
                },
            },
        },
        {
            "type": "thread.item.done",
            "item": {"id": "t1", "type": "task", "task": {"title": "Searched the web"}},
        },
        {
            "type": "thread.item.done",
            "item": {
                "id": "w2",
                "type": "workflow",
                "workflow": {"tasks": [{"title": "Read"}, {"content": "Wrote"}]},
            },
        },
        {"type": "thread.item.done", "item": {"id": "e1", "type": "end_of_turn"}},
        {"type": "thread.item.done", "item": {"id": "g1", "type": "generated_image"}},
        {"type": "thread.item.removed", "item_id": "m0"},
        {"type": "error", "code": "stream.error", "allow_retry": True},
        {"type": "error", "code": "custom", "message": "Nope"},
    ]:
        terminal.on_event(event)
    assert out.getvalue() == (
        "assistant> Hello\n"
        "  [warning] Almost out of credits\n"
        '  [client effect] confetti {"n": 3}\n'
        "  [widget updated] Card: Hi · (Go) — actions: go null "
        "(send one with /action TYPE [JSON])\n"
        "  [task] Searched the web\n"
        "  [workflow] Read; Wrote\n"
        "  [generated_image]\n"
        "  [removed m0]\n"
        "  [error] stream.error\n"
        "  [error] Nope\n"
    )


def test_sse_parser_handles_split_frames_comments_and_crlf():
    parser = SSEParser()
    assert parser.feed(b': keep-alive\n\ndata: {"a"') == []
    assert parser.feed(b": 1}\r\n\r\ndata: [2,\ndata: 3]\n\nevent: x\n") == [{"a": 1}, [2, 3]]
    assert parser.comments == [b": keep-alive"]
    assert parser.feed(b":\n: keep-alive\r\n") == []
    assert parser.comments == [b": keep-alive", b":", b": keep-alive"]


def test_unreachable_endpoint_is_a_command_error():
    with pytest.raises(CommandError) as failure:
        chat("", url="http://127.0.0.1:9/chatkit/", message=["hello"])
    assert str(failure.value) == (
        "Cannot reach http://127.0.0.1:9/chatkit/: [Errno 111] Connection refused. "
        "Check --url and that the server is running."
    )


def test_inactive_user(django_user_model):
    django_user_model.objects.create_user("sleepy", is_active=False)
    with pytest.raises(CommandError, match="User 'sleepy' is not active"):
        chat("", user="sleepy")


@EXAMPLE
def test_messages_from_the_command_line():
    out = StringIO()
    call_command(
        "chatkit_chat",
        user="demo",
        message=["Switch to light mode"],
        stdout=out,
        client_tool_result='{"theme": "light"}',
    )
    assert (
        'assistant> Switched to the light theme. The browser answered {"theme": "light"}.\n'
    ) in out.getvalue()


@pytest.mark.parametrize(
    ("options", "error"),
    [
        ({"user": "nobody"}, "No user named 'nobody'."),
        ({"user": "demo", "thread": "thr_missing"}, "Cannot open thread thr_missing: "),
        ({"user": "demo", "password": "x"}, "--password, --login-url and --header need --url."),
        ({"client_tool_result": "{oops"}, "--client-tool-result is not JSON"),
        ({"url": "ftp://example.com/chatkit/"}, "--url must be an http(s) URL"),
        ({"url": "/chatkit/"}, "--url must be an http(s) URL, not '/chatkit/'."),
        (
            {"url": "http://127.0.0.1:9/chatkit/", "login_url": "/admin/login/"},
            "--login-url needs --user and --password.",
        ),
        ({"url": "http://127.0.0.1:9/chatkit/", "password": "x"}, "--password needs --user."),
        ({"url": "http://127.0.0.1:9/chatkit/", "header": ["NoColon"]}, "--header must look like"),
    ],
)
def test_misuse(options, error):
    with pytest.raises(CommandError, match=re.escape(error)):
        chat("", **options)


def test_no_superuser_to_default_to(django_user_model):
    django_user_model.objects.all().delete()
    with pytest.raises(CommandError, match="No superuser to chat as: pass --user NAME"):
        chat("")
