"""Items come back exactly as saved (DESIGN.md facts 15 and 17).

- Widgets: every named widget class the SDK exports, and what ``WidgetTemplate.build()``
  makes, load equal (``==``) and of the same class at every level of the tree, through
  the store and as the ``sender`` the SDK hands to ``action()``; rows saved before the
  classes were recorded still load.
- ``add_thread_item`` never replaces a stored item: a server that re-yields the pending
  ``StructuredInputItem`` after ``threads.add_structured_input`` answered it keeps the
  user's answer.
"""

from __future__ import annotations

import json
import logging
import warnings
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from chatkit import types as ck
from chatkit import widgets
from chatkit.actions import ActionConfig
from django.test import AsyncClient, override_settings
from pydantic import BaseModel

from django_chatkit.context import ChatKitContext
from django_chatkit.models import ThreadItem
from django_chatkit.server import DjangoChatKitServer
from django_chatkit.store import DjangoStore
from tests.support.items import WIDGET_TEMPLATE
from tests.support.protocol import new_thread, stream

pytestmark = pytest.mark.django_db(transaction=True)

T0 = datetime(2026, 1, 2, 3, 4, 5, 600000)


def named(cls: type[Any], **props: Any) -> Any:
    """An instance of a deprecated named widget class (the SDK warns on each one)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return cls(**props)


def one_of_each_component() -> list[Any]:
    """Every widget component class of the SDK, with props that are not defaults."""
    go = ActionConfig(type="go", payload={"n": 1}, handler="client")
    return [
        named(widgets.Text, value="hi", weight="bold", streaming=False, key="t1"),
        named(widgets.Title, value="Title", size="lg"),
        named(widgets.Caption, value="small", color="secondary"),
        named(
            widgets.Chart,
            data=[{"x": "a", "y": 1}, {"x": "b", "y": 2.5}],
            series=[named(widgets.BarSeries, dataKey="y", label="Y")],
            xAxis={"dataKey": "x"},
        ),
        named(widgets.Badge, label="new", color="success"),
        named(widgets.Markdown, value="**bold**"),
        named(widgets.Box, children=[named(widgets.Text, value="in a box")], padding=2),
        named(widgets.Row, children=[named(widgets.Spacer)], gap=3),
        named(widgets.Col, children=[named(widgets.Divider, spacing=1)], align="center"),
        named(widgets.Divider),
        named(widgets.Icon, name="star"),
        named(widgets.Image, src="https://example.com/a.png", alt="a", size=40),
        named(widgets.Button, label="Go", onClickAction=go, style="secondary"),
        named(widgets.Checkbox, name="agree", label="I agree", defaultChecked=True),
        named(widgets.Spacer, minSize=4),
        named(
            widgets.Select,
            name="city",
            options=[{"value": "par", "label": "Paris"}],
            placeholder="Pick",
        ),
        named(widgets.DatePicker, name="when", placeholder="Date"),
        named(
            widgets.Form,
            onSubmitAction={"type": "submit", "payload": {"form": 1}},
            children=[
                named(widgets.Label, value="Name", fieldName="name"),
                named(widgets.Input, name="name", required=True),
                named(widgets.Textarea, name="notes", rows=3),
                named(widgets.RadioGroup, name="size", options=[{"label": "S", "value": "s"}]),
            ],
        ),
        named(widgets.Label, value="Alone", fieldName="x"),
        named(widgets.Input, name="alone"),
        named(widgets.Textarea, name="alone2"),
        named(widgets.RadioGroup, name="alone3"),
        named(widgets.Transition, children=named(widgets.Text, value="fades")),
        # A dynamic component inside a named root stays dynamic, extra props included.
        widgets.DynamicWidgetComponent(type="Text", value="dyn", futureProp={"a": [1]}),
    ]


def sample_widgets() -> dict[str, Any]:
    """Roots of every kind: the named roots, a ``BasicRoot``, template output."""
    return {
        "Card": named(
            widgets.Card,
            children=one_of_each_component(),
            size="sm",
            collapsed=False,
            status={"text": "Ready", "icon": "check"},
            confirm={"label": "OK", "action": {"type": "confirm", "payload": {"id": 3}}},
            cancel={"label": "No", "action": {"type": "cancel"}},
        ),
        "ListView": named(
            widgets.ListView,
            children=[
                named(
                    widgets.ListViewItem,
                    children=[named(widgets.Text, value="row 1")],
                    onClickAction={"type": "open", "payload": {"row": 1}},
                ),
                named(widgets.ListViewItem, children=[named(widgets.Caption, value="row 2")]),
            ],
            limit=5,
            status={"text": "Two rows"},
        ),
        "BasicRoot": widgets.BasicRoot(
            children=[widgets.DynamicWidgetComponent(type="Text", value="basic")]
        ),
        "WidgetTemplate.build()": WIDGET_TEMPLATE.build({"name": "Ada"}),
    }


SDK_COMPONENT_CLASSES = {
    cls
    for cls in vars(widgets).values()
    if isinstance(cls, type)
    and issubclass(cls, widgets.WidgetComponentBase)
    and cls.__module__ == widgets.__name__
    and cls is not widgets.WidgetComponentBase
}


def classes_in(value: Any) -> Iterator[type]:
    if isinstance(value, BaseModel):
        yield type(value)
        for item in [*dict(value).values(), *(value.__pydantic_extra__ or {}).values()]:
            yield from classes_in(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from classes_in(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from classes_in(item)


def assert_same_tree(loaded: Any, saved: Any, where: str = "widget") -> None:
    """``loaded`` equals ``saved`` with the same class at every node (``==`` alone
    compares the classes of models, not of what an extra prop holds)."""
    assert type(loaded) is type(saved), where
    if isinstance(saved, BaseModel):
        assert loaded == saved, where
        assert loaded.__pydantic_extra__ == saved.__pydantic_extra__, where
        for name, value in [*dict(saved).items(), *(saved.__pydantic_extra__ or {}).items()]:
            assert_same_tree(getattr(loaded, name), value, f"{where}.{name}")
    elif isinstance(saved, dict):
        assert loaded.keys() == saved.keys(), where
        for key, value in saved.items():
            assert_same_tree(loaded[key], value, f"{where}[{key!r}]")
    elif isinstance(saved, (list, tuple)):
        assert len(loaded) == len(saved), where
        for n, (a, b) in enumerate(zip(loaded, saved, strict=True)):
            assert_same_tree(a, b, f"{where}[{n}]")
    else:
        assert loaded == saved, where


def wire(item: ck.ThreadItem) -> Any:
    """``item`` as the SDK sends it to the client."""
    return json.loads(item.model_dump_json(by_alias=True, exclude_none=True))


def test_the_samples_cover_every_widget_class_of_the_sdk() -> None:
    """A widget class a newer SDK adds must be added to the samples above."""
    used = {cls for widget in sample_widgets().values() for cls in classes_in(widget)}
    missing = SDK_COMPONENT_CLASSES - used - {widgets.DynamicWidgetRoot}
    assert not missing, sorted(cls.__name__ for cls in missing)
    assert widgets.DynamicWidgetRoot in used


def widget_item(item_id: str, widget: Any) -> ck.WidgetItem:
    return ck.WidgetItem(id=item_id, thread_id="thr_1", created_at=T0, widget=widget, copy_text="c")


@pytest.mark.parametrize("name", list(sample_widgets()))
async def test_widgets_round_trip_with_their_classes(alice: Any, name: str) -> None:
    store = DjangoStore()
    context = ChatKitContext(user=alice)
    await store.save_thread(ck.ThreadMetadata(id="thr_1", created_at=T0), context)
    item = widget_item("wd_1", sample_widgets()[name])
    await store.add_thread_item("thr_1", item, context)

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        loaded = await store.load_item("thr_1", "wd_1", context)
        (paged,) = (await store.load_thread_items("thr_1", None, 10, "asc", context)).data
        row = (await ThreadItem.objects.aget(chatkit_id="wd_1")).to_chatkit()
    for found in (loaded, paged, row):
        assert found == item
        assert_same_tree(found, item, "item")
        assert found.model_dump_json() == item.model_dump_json()

    # Saved again (save_item), it still is what it was.
    await store.save_item("thr_1", loaded, context)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        assert_same_tree(await store.load_item("thr_1", "wd_1", context), item, "item")


class ProjectCard(widgets.Card):
    """A project's own widget class: recorded by its import path."""

    def describe(self) -> str:
        return f"{len(self.children)} parts"


async def test_a_projects_own_widget_class_round_trips(alice: Any) -> None:
    store = DjangoStore()
    context = ChatKitContext(user=alice)
    await store.save_thread(ck.ThreadMetadata(id="thr_1", created_at=T0), context)
    card = ProjectCard(children=[named(widgets.Text, value="mine")], size="lg")
    await store.add_thread_item("thr_1", widget_item("wd_1", card), context)

    row = await ThreadItem.objects.aget(chatkit_id="wd_1")
    assert json.loads(row.widget_classes)["c"] == "tests.store.test_fidelity.ProjectCard"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        loaded = await store.load_item("thr_1", "wd_1", context)
    assert_same_tree(loaded.widget, card)
    assert loaded.widget.describe() == "1 parts"


async def test_a_row_saved_before_classes_were_recorded_loads_dynamic_with_every_prop(
    alice: Any,
) -> None:
    """The old form: payload only (``widget_classes`` blank), read as it always was."""
    store = DjangoStore()
    context = ChatKitContext(user=alice)
    await store.save_thread(ck.ThreadMetadata(id="thr_1", created_at=T0), context)
    card = sample_widgets()["Card"]
    await store.add_thread_item("thr_1", widget_item("wd_old", card), context)
    assert await ThreadItem.objects.filter(chatkit_id="wd_old").aupdate(widget_classes="") == 1

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        loaded = await store.load_item("thr_1", "wd_old", context)
    assert caught == []  # no named class was made
    assert isinstance(loaded, ck.WidgetItem)
    assert type(loaded.widget) is widgets.DynamicWidgetRoot
    # Nothing dropped: what the client gets is what it got when the widget was sent.
    assert wire(loaded) == wire(widget_item("wd_old", card))


async def test_a_record_naming_a_class_that_is_gone_loads_what_it_can(alice: Any, caplog) -> None:
    store = DjangoStore()
    context = ChatKitContext(user=alice)
    await store.save_thread(ck.ThreadMetadata(id="thr_1", created_at=T0), context)
    card = sample_widgets()["Card"]
    await store.add_thread_item("thr_1", widget_item("wd_1", card), context)
    row = await ThreadItem.objects.aget(chatkit_id="wd_1")
    record = json.loads(row.widget_classes)
    record["c"] = "myproject.widgets.RemovedCard"
    record["k"]["children"]["i"][0]["c"] = "myproject.widgets.RemovedText"
    row.widget_classes = json.dumps(record)
    await row.asave()

    with caplog.at_level(logging.WARNING, logger="django_chatkit"):
        loaded = await store.load_item("thr_1", "wd_1", context)
    assert type(loaded.widget) is widgets.DynamicWidgetRoot
    assert wire(loaded) == wire(widget_item("wd_1", card))
    assert "Widget class myproject.widgets.RemovedCard is gone" in caplog.text

    # Only a child's class gone: that child is validated by its parent's field type.
    record = json.loads(row.widget_classes)
    record["c"] = "Card"
    row.widget_classes = json.dumps(record)
    await row.asave()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        loaded = await store.load_item("thr_1", "wd_1", context)
    assert type(loaded.widget) is widgets.Card
    assert type(loaded.widget.children[0]) is widgets.Text
    assert_same_tree(loaded.widget.children[1:], card.children[1:])


class FidelityServer(DjangoChatKitServer):
    """Sends the sample widget its message names; asks a structured question on "ask"
    and, once answered, re-yields the item as it was first sent (pending)."""

    senders: list[Any] = []
    asked: dict[str, ck.StructuredInputItem] = {}

    async def respond(
        self,
        thread: ck.ThreadMetadata,
        input_user_message: ck.UserMessageItem | None,
        context: ChatKitContext,
    ) -> AsyncIterator[ck.ThreadStreamEvent]:
        text = input_user_message.content[0].text if input_user_message else ""
        if text.startswith("widget "):
            widget = sample_widgets()[text.removeprefix("widget ")]
            yield ck.ThreadItemDoneEvent(
                item=ck.WidgetItem(
                    id=self.store.generate_item_id("message", thread, context),
                    thread_id=thread.id,
                    created_at=datetime.now(),
                    widget=widget,
                )
            )
        elif text == "ask":
            question = ck.StructuredInputItem(
                id=self.store.generate_item_id("message", thread, context),
                thread_id=thread.id,
                created_at=datetime.now(),
                inputs=[
                    ck.StructuredInputFreeform(id="q1", question="Your name?"),
                    ck.StructuredInputMultipleChoice(
                        id="q2",
                        question="Size?",
                        options=[ck.StructuredInputMultipleChoiceOption(value="s")],
                    ),
                ],
            )
            self.asked[thread.id] = question
            yield ck.ThreadItemDoneEvent(item=question)
        elif text == "plan":  # a workflow, then a client tool call
            yield ck.ThreadItemDoneEvent(
                item=ck.WorkflowItem(
                    id=self.store.generate_item_id("workflow", thread, context),
                    thread_id=thread.id,
                    created_at=datetime.now(),
                    workflow=ck.Workflow(type="custom", tasks=[ck.CustomTask(title="one")]),
                )
            )
            yield ck.ThreadItemDoneEvent(
                item=ck.ClientToolCallItem(
                    id=self.store.generate_item_id("tool_call", thread, context),
                    thread_id=thread.id,
                    created_at=datetime.now(),
                    call_id="call_1",
                    name="locate",
                    arguments={},
                )
            )
        elif input_user_message is None and thread.id not in self.asked:
            # The tool's output arrived: continue the workflow before the call, as
            # openai-agents' stream_agent_response does (it re-adds the workflow).
            last = await self.store.load_thread_items(thread.id, None, 2, "desc", context)
            workflow = last.data[1]
            assert isinstance(workflow, ck.WorkflowItem)
            workflow.workflow.tasks.append(ck.CustomTask(title="two"))
            yield ck.ThreadItemDoneEvent(item=workflow)
        elif input_user_message is None and thread.id in self.asked:
            # The answer arrived: a server that re-sends its items as it has them.
            yield ck.ThreadItemDoneEvent(item=self.asked[thread.id])
            yield ck.ThreadItemDoneEvent(
                item=ck.AssistantMessageItem(
                    id=self.store.generate_item_id("message", thread, context),
                    thread_id=thread.id,
                    created_at=datetime.now(),
                    content=[ck.AssistantMessageContent(text="Thanks")],
                )
            )

    async def action(
        self,
        thread: ck.ThreadMetadata,
        action: Any,
        sender: ck.WidgetItem | None,
        context: ChatKitContext,
    ) -> AsyncIterator[ck.ThreadStreamEvent]:
        self.senders.append(sender)
        return
        yield


FIDELITY = override_settings(CHATKIT_SERVER="tests.store.test_fidelity.FidelityServer")


def done_items(events: list[dict[str, Any]], item_type: str) -> list[dict[str, Any]]:
    """The items of ``item_type`` the stream sent as done."""
    return [
        e["item"]
        for e in events
        if e["type"] == "thread.item.done" and e["item"]["type"] == item_type
    ]


@FIDELITY
@pytest.mark.parametrize("name", list(sample_widgets()))
async def test_action_receives_the_widget_it_sent_as_sender(chat: AsyncClient, name: str) -> None:
    FidelityServer.senders.clear()
    events = await stream(chat, new_thread(f"widget {name}"))
    thread_id = events[0]["thread"]["id"]
    (sent,) = done_items(events, "widget")

    await stream(
        chat,
        {
            "type": "threads.custom_action",
            "params": {"thread_id": thread_id, "item_id": sent["id"], "action": {"type": "go"}},
        },
    )
    (sender,) = FidelityServer.senders
    expected = sample_widgets()[name]
    assert isinstance(sender, ck.WidgetItem)
    assert isinstance(sender.widget, type(expected))
    assert_same_tree(sender.widget, expected)


@FIDELITY
async def test_a_re_yielded_structured_input_keeps_the_users_answer(
    chat: AsyncClient, caplog
) -> None:
    events = await stream(chat, new_thread("ask"))
    thread_id = events[0]["thread"]["id"]
    (asked,) = done_items(events, "structured_input")
    assert asked["status"] == "pending"

    with caplog.at_level(logging.WARNING, logger="django_chatkit"):
        events = await stream(
            chat,
            {
                "type": "threads.add_structured_input",
                "params": {
                    "thread_id": thread_id,
                    "item_id": asked["id"],
                    "input": {"answers": {"q1": {"values": ["Ada"]}, "q2": {"values": ["s"]}}},
                },
            },
        )
    assert [e["type"] for e in events if e["type"] == "error"] == []

    row = await ThreadItem.objects.aget(chatkit_id=asked["id"])
    stored = await sync_to_async(row.to_chatkit)()
    assert isinstance(stored, ck.StructuredInputItem)
    assert stored.status == "answered"
    assert [q.answer for q in stored.inputs] == [
        ck.StructuredInputAnswer(values=["Ada"]),
        ck.StructuredInputAnswer(values=["s"]),
    ]
    # ... and the rest of the answer was saved after it.
    texts = [
        item.content[0].text
        async for item in _items(thread_id)
        if isinstance(item, ck.AssistantMessageItem)
    ]
    assert texts == ["Thanks"]
    assert f"Thread {thread_id} already has item {asked['id']}: the stored item is kept" in (
        caplog.text
    )


async def _items(thread_id: str) -> AsyncIterator[ck.ThreadItem]:
    rows = ThreadItem.objects.filter(thread__chatkit_id=thread_id).order_by("created_at", "id")
    async for row in rows:
        yield row.to_chatkit()


@FIDELITY
async def test_re_adding_an_item_this_request_loaded_continues_it(
    chat: AsyncClient, caplog
) -> None:
    """The one add that updates: the SDK's agents helper continues a workflow it read."""
    events = await stream(chat, new_thread("plan"))
    thread_id = events[0]["thread"]["id"]
    (workflow,) = done_items(events, "workflow")
    workflow_id = workflow["id"]
    with caplog.at_level(logging.WARNING, logger="django_chatkit"):
        events = await stream(
            chat,
            {
                "type": "threads.add_client_tool_output",
                "params": {"thread_id": thread_id, "result": {"city": "Paris"}},
            },
        )
    assert [e for e in events if e["type"] == "error"] == []
    assert "already has item" not in caplog.text

    row = await ThreadItem.objects.aget(chatkit_id=workflow_id)
    stored = await sync_to_async(row.to_chatkit)()
    assert [task.title for task in stored.workflow.tasks] == ["one", "two"]
