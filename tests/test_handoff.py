"""Human hand-off in process: the bot stays silent on threads staff handle, the flag
survives the SDK saving a stale thread, and the admin reply page checks its permission."""

from __future__ import annotations

import json
import re
from collections.abc import AsyncIterator
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from chatkit import types as ck
from chatkit.server import StreamingResult
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse

from django_chatkit.context import ChatKitContext
from django_chatkit.exceptions import ThreadNotActive
from django_chatkit.handoff import is_handled_by_human, set_handled_by_human
from django_chatkit.models import Thread, ThreadItem
from django_chatkit.store import DjangoStore
from tests.support.factories import make_thread, make_user
from tests.support.protocol import add_message, new_thread, result_events
from tests.support.servers import ScriptedServer

pytestmark = pytest.mark.django_db(transaction=True)


async def run(server: Any, body: dict[str, Any], context: ChatKitContext) -> list[dict[str, Any]]:
    result = await server.process(json.dumps(body), context)
    assert isinstance(result, StreamingResult)
    return await result_events(result)


def done_items(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e["item"] for e in events if e["type"] == "thread.item.done"]


async def test_the_bot_does_not_answer_a_thread_a_human_handles() -> None:
    user = await sync_to_async(make_user)("alice")
    context = ChatKitContext(user=user)
    server = ScriptedServer()
    events = await run(server, new_thread("echo first"), context)
    thread_id = events[0]["thread"]["id"]
    assert [i["type"] for i in done_items(events)] == ["user_message", "assistant_message"]

    thread = await Thread.objects.aget(chatkit_id=thread_id)
    assert await sync_to_async(set_handled_by_human)(thread, True) is True
    assert is_handled_by_human(await server.store.load_thread(thread_id, context))

    events = await run(server, add_message(thread_id, "echo are you there"), context)
    assert [i["type"] for i in done_items(events)] == ["user_message"]
    assert not any(e["type"] == "thread.item.added" for e in events)  # no bot item at all
    saved = [i.type async for i in ThreadItem.objects.filter(thread=thread).order_by("pk")]
    assert saved == ["user_message", "assistant_message", "user_message"]

    # Retrying would delete the staff's replies: refused, nothing deleted.
    user_item_id = done_items(events)[0]["id"]
    with pytest.raises(ThreadNotActive, match="handled by a human"):
        await server.process(
            json.dumps(
                {
                    "type": "threads.retry_after_item",
                    "params": {"thread_id": thread_id, "item_id": user_item_id},
                }
            ),
            context,
        )
    assert await ThreadItem.objects.filter(thread=thread).acount() == 3

    await sync_to_async(set_handled_by_human)(thread, False)
    events = await run(server, add_message(thread_id, "echo back again"), context)
    assert [i["type"] for i in done_items(events)] == ["user_message", "assistant_message"]


class AcknowledgingServer(ScriptedServer):
    async def respond_handled_by_human(
        self,
        thread: ck.ThreadMetadata,
        input_user_message: ck.UserMessageItem | None,
        context: ChatKitContext,
    ) -> AsyncIterator[ck.ThreadStreamEvent]:
        yield ck.ThreadItemDoneEvent(
            item=ck.HiddenContextItem(
                id="hcx_ack",
                thread_id=thread.id,
                created_at=input_user_message.created_at
                if input_user_message
                else thread.created_at,
                content="staff notified",
            )
        )


async def test_respond_handled_by_human_is_the_hook_for_input_to_a_human_thread() -> None:
    user = await sync_to_async(make_user)("bob")
    context = ChatKitContext(user=user)
    server = AcknowledgingServer()
    thread_id = (await run(server, new_thread("echo hi"), context))[0]["thread"]["id"]
    thread = await Thread.objects.aget(chatkit_id=thread_id)
    await sync_to_async(set_handled_by_human)(thread)

    events = await run(server, add_message(thread_id, "echo help"), context)
    assert [i["type"] for i in done_items(events)] == ["user_message"]  # hidden: not streamed
    assert await ThreadItem.objects.filter(thread=thread, chatkit_id="hcx_ack").aexists()


async def test_a_stale_thread_saved_by_a_stream_keeps_the_flag() -> None:
    """The column is the source of truth: a stream that loaded the thread before staff
    took it over and saves it afterwards (new title) does not hand it back."""
    user = await sync_to_async(make_user)("carol")
    context = ChatKitContext(user=user)
    store = DjangoStore()
    thread_id = (await run(ScriptedServer(), new_thread("echo hi"), context))[0]["thread"]["id"]
    stale = await store.load_thread(thread_id, context)
    row = await Thread.objects.aget(chatkit_id=thread_id)
    await sync_to_async(set_handled_by_human)(row)

    stale.title = "Renamed by the bot"
    await store.save_thread(stale, context)
    row = await Thread.objects.aget(pk=row.pk)
    assert row.handled_by_human is True
    assert "handled_by_human" not in json.loads(row.payload)["metadata"]
    loaded = (await store.load_threads(10, None, "desc", context)).data[0]
    assert loaded.title == "Renamed by the bot"
    assert loaded.metadata == {"handled_by_human": True}


def test_reply_page_needs_the_reply_permission() -> None:
    owner = make_user("dave")
    thread = Thread.objects.create(
        user=owner,
        chatkit_id="thr_1",
        created_at="2025-01-01T00:00:00Z",
        payload=ck.ThreadMetadata(id="thr_1", created_at="2025-01-01T00:00:00").model_dump_json(),
    )
    url = reverse("admin:django_chatkit_thread_reply", args=[thread.pk])
    change_url = reverse("admin:django_chatkit_thread_change", args=[thread.pk])
    reader = Client()
    reader.force_login(make_user("reader", staff=True, perms=("view_thread",)))
    assert reader.get(url).status_code == 403
    assert reader.post(url, {"message": "hi", "handled_by_human": "on"}).status_code == 403
    assert "Handled by a human" not in reader.get(change_url).content.decode()  # no form
    assert not ThreadItem.objects.exists()

    agent = Client()
    agent.force_login(make_user("agent", staff=True, perms=("view_thread", "reply_as_assistant")))
    page = agent.get(change_url).content.decode()
    assert 'id="ck-handoff"' in page and f'action="{url}"' in page
    # Nothing to do: no text and no change of hand.
    thread.handled_by_human = True
    thread.save(update_fields=["handled_by_human"])
    response = agent.post(url, {"message": "", "handled_by_human": "on"})
    assert response.status_code == 200
    assert "Write a reply, or change whether a human handles the thread." in response.text

    response = agent.post(url, {"message": "Hello, <b>I am Dave's agent</b>."})
    assert response.status_code == 302
    assert response["Location"] == f"{change_url}?page=last#ck-handoff"
    thread.refresh_from_db()
    assert thread.handled_by_human is False  # unticked: handed back with the reply
    item = ThreadItem.objects.get(thread=thread)
    assert item.type == "assistant_message"
    assert item.to_chatkit().content[0].text == "Hello, <b>I am Dave's agent</b>."
    history = LogEntry.objects.filter(object_id=str(thread.pk))
    assert sorted(history.values_list("change_message", flat=True)) == [
        "Handed back to the assistant",
        f"Replied as the assistant ({item.chatkit_id})",
    ]


def handoff_form(page: str) -> dict[str, str]:
    """What a browser posts from the thread page's hand-off box, untouched (no text)."""
    box = page[page.index('id="ck-handoff"') :]
    box = box[: box.index("</form>")]
    fields = {}
    for tag in re.findall(r"<input[^>]*>", box):
        name = re.search(r'name="([^"]+)"', tag)
        if name is None or name[1] == "csrfmiddlewaretoken":
            continue
        if 'type="checkbox"' in tag:
            if " checked" in tag:
                fields[name[1]] = "on"
        else:
            fields[name[1]] = re.search(r'value="([^"]*)"', tag)[1]
    return fields


def test_the_hand_off_box_shows_the_real_state_and_taking_over_is_a_choice() -> None:
    thread = make_thread(make_user("erin"), "Order question")
    url = reverse("admin:django_chatkit_thread_reply", args=[thread.pk])
    change_url = reverse("admin:django_chatkit_thread_change", args=[thread.pk])
    agent = Client()
    agent.force_login(make_user("agent", staff=True, perms=("view_thread", "reply_as_assistant")))

    def history() -> list[str]:
        entries = LogEntry.objects.filter(object_id=str(thread.pk)).order_by("pk")
        return [re.sub(r"\(msg_\w+\)", "(msg)", e.change_message) for e in entries]

    # The assistant answers: the box says so, and the checkbox is not ticked.
    page = agent.get(change_url).content.decode()
    assert "The assistant answers this thread." in page
    assert "Take the thread over: a human handles it (the assistant stops answering)" in page
    assert handoff_form(page) == {"shown_handled_by_human": "False"}

    # A reply as the box is shown leaves the thread to the assistant.
    response = agent.post(url, {**handoff_form(page), "message": "Let me check."}, follow=True)
    thread.refresh_from_db()
    assert thread.handled_by_human is False
    assert "Your reply was sent. The assistant answers this thread." in response.text
    assert history() == ["Replied as the assistant (msg)"]

    # Ticking the box is what takes it over.
    form = {**handoff_form(page), "handled_by_human": "on", "message": "I take it from here."}
    response = agent.post(url, form, follow=True)
    thread.refresh_from_db()
    assert thread.handled_by_human is True
    assert (
        "Your reply was sent. Handled by a human: the assistant does not answer this thread."
    ) in response.text

    # Now the box shows the human state, ticked; a reply keeps it.
    page = agent.get(change_url).content.decode()
    assert "the assistant does not answer this thread." in page
    assert "keep it (untick to hand the thread back to the assistant)" in page
    assert handoff_form(page) == {"handled_by_human": "on", "shown_handled_by_human": "True"}
    agent.post(url, {**handoff_form(page), "message": "Done: refunded."})
    thread.refresh_from_db()
    assert thread.handled_by_human is True

    # A form opened before a colleague handed the thread back does not take it over again.
    stale = handoff_form(page)
    set_handled_by_human(thread, False)
    agent.post(url, {**stale, "message": "One more thing."})
    thread.refresh_from_db()
    assert thread.handled_by_human is False

    # Unticking hands it back; the reply page has the same form.
    set_handled_by_human(thread, True)
    reply_page = agent.get(url).content.decode()
    assert re.search(r'<input type="checkbox" name="handled_by_human"[^>]* checked>', reply_page)
    assert 'name="shown_handled_by_human" value="True"' in reply_page
    response = agent.post(url, {"shown_handled_by_human": "True"}, follow=True)
    thread.refresh_from_db()
    assert thread.handled_by_human is False
    assert "The assistant answers this thread." in response.text
    assert history() == [
        "Replied as the assistant (msg)",
        "Handled by a human",
        "Replied as the assistant (msg)",
        "Replied as the assistant (msg)",
        "Replied as the assistant (msg)",
        "Handed back to the assistant",
    ]
