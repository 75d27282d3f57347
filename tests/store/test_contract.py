"""Conformance of ``DjangoStore`` to the ChatKit ``Store`` contract (DESIGN.md facts 6-15).

Everything runs against the real database (SQLite on disk, or PostgreSQL with
``DATABASE_URL``) and the real storage; store calls cross threads as in production.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
import warnings
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from chatkit import types as ck
from chatkit.store import NotFoundError
from chatkit.widgets import DynamicWidgetRoot
from django.contrib.auth.models import AnonymousUser
from django.core.exceptions import PermissionDenied
from django.core.files.base import ContentFile
from django.core.files.storage import storages
from django.test import override_settings
from django.utils import timezone

from django_chatkit import signals
from django_chatkit.context import ChatKitContext
from django_chatkit.models import Attachment, Thread, ThreadItem
from django_chatkit.store import DjangoStore, clamp_limit
from tests.support.items import T0, WIDGET_TEMPLATE, file_attachment, message, thread_meta
from tests.support.querylog import capture_queries

pytestmark = pytest.mark.django_db(transaction=True)


def every_item_type(thread_id: str) -> list[ck.ThreadItem]:
    """One item of each ``ThreadItem`` variant, with the richest content each allows."""
    url = ck.URLSource(title="Docs", url="https://example.com/a", attribution="ex", group="g")
    file_source = ck.FileSource(title="Spec", filename="spec.md", description="d")
    entity = ck.EntitySource(title="Ada", id="ent_1", label="Person", data={"k": [1, 2]})
    at = iter(T0 + timedelta(seconds=s) for s in range(100))

    def base(item_id: str) -> dict[str, Any]:
        return {"id": item_id, "thread_id": thread_id, "created_at": next(at)}

    return [
        ck.UserMessageItem(
            **base("msg_user"),
            content=[
                ck.UserMessageTextContent(text="Hi \u00e9\u00e8 \U0001f600 \x00 nul"),
                ck.UserMessageTagContent(
                    id="tag1", text="@ada", data={"n": 1}, group="people", interactive=True
                ),
            ],
            attachments=[
                file_attachment("atc_f", thread_id),
                ck.ImageAttachment(
                    id="atc_i",
                    name="cat.png",
                    mime_type="image/png",
                    preview_url="https://cdn.example.com/cat.png?sig=1",
                    thread_id=thread_id,
                ),
            ],
            quoted_text="quoted",
            inference_options=ck.InferenceOptions(
                tool_choice=ck.ToolChoice(id="search"), model="gpt-x"
            ),
        ),
        ck.AssistantMessageItem(
            **base("msg_assistant"),
            content=[
                ck.AssistantMessageContent(
                    text="See [1] and [2] and [3]",
                    annotations=[
                        ck.Annotation(source=url, index=4),
                        ck.Annotation(source=file_source, index=12),
                        ck.Annotation(source=entity),
                    ],
                ),
                ck.AssistantMessageContent(text="second part"),
            ],
        ),
        ck.ClientToolCallItem(
            **base("tc_1"),
            status="completed",
            call_id="call_1",
            name="get_location",
            arguments={"precise": True, "nested": {"list": [1, "two", None]}},
            output={"lat": 48.85, "lon": 2.35},
        ),
        ck.WidgetItem(**base("wd_1"), widget=WIDGET_TEMPLATE.build({"name": "Ada"}), copy_text="c"),
        ck.GeneratedImageItem(
            **base("img_1"), image=ck.GeneratedImage(id="gi_1", url="https://x.test/i.png")
        ),
        ck.StructuredInputItem(
            **base("si_1"),
            status="answered",
            inputs=[
                ck.StructuredInputMultipleChoice(
                    id="q1",
                    question="Size?",
                    options=[
                        ck.StructuredInputMultipleChoiceOption(value="S"),
                        ck.StructuredInputMultipleChoiceOption(value="M"),
                    ],
                    multiple=True,
                    answer=ck.StructuredInputAnswer(values=["S", "M"]),
                ),
                ck.StructuredInputFreeform(
                    id="q2",
                    question="Why?",
                    description="free",
                    answer=ck.StructuredInputAnswer(skipped=True),
                ),
            ],
        ),
        ck.WorkflowItem(
            **base("wf_1"),
            workflow=ck.Workflow(
                type="reasoning",
                expanded=True,
                summary=ck.DurationSummary(duration=7),
                tasks=[
                    ck.ThoughtTask(content="thinking", status_indicator="complete"),
                    ck.SearchTask(title="s", queries=["q"], sources=[url]),
                    ck.FileTask(sources=[file_source]),
                    ck.ImageTask(title="img"),
                    ck.CustomTask(title="t", content="c", icon="bolt"),
                ],
            ),
        ),
        ck.TaskItem(**base("tsk_1"), task=ck.CustomTask(title="Done", content="ok")),
        ck.HiddenContextItem(**base("hc_1"), content={"facts": ["a", 1, None], "n": 2.5}),
        ck.SDKHiddenContextItem(**base("shcx_1"), content="The user cancelled the stream."),
        ck.EndOfTurnItem(**base("eot_1")),
    ]


ALL_ITEMS = every_item_type("thr_1")


# fixtures -------------------------------------------------------------------


@pytest.fixture
def store() -> DjangoStore:
    return DjangoStore()


@pytest.fixture
def received():
    """Every signal sent by the store, as ``(signal name, kwargs)``."""
    sent: list[tuple[str, dict[str, Any]]] = []
    receivers = {}
    for name in ("thread_created", "thread_deleted", "item_saved"):

        def receiver(sender, _name=name, **kwargs):
            sent.append((_name, kwargs))

        receivers[name] = receiver
        getattr(signals, name).connect(receiver, weak=False)
    yield sent
    for name, receiver in receivers.items():
        getattr(signals, name).disconnect(receiver)


async def thread_with_items(
    store: DjangoStore, context: ChatKitContext, thread_id: str, items: list[ck.ThreadItem]
) -> None:
    await store.save_thread(thread_meta(thread_id), context)
    for item in items:
        await store.add_thread_item(thread_id, item, context)


async def all_items(store, context, thread_id, order="asc") -> list[ck.ThreadItem]:
    page = await store.load_thread_items(thread_id, None, 100, order, context)
    assert not page.has_more
    return page.data


def client_json(item: ck.ThreadItem) -> str:
    """The JSON the SDK sends to the client for ``item``."""
    return item.model_dump_json(by_alias=True, exclude_none=True)


def write_file(name: str, content: bytes = b"bytes") -> str:
    return storages["default"].save(name, ContentFile(content))


def file_exists(name: str) -> bool:
    return storages["default"].exists(name)


# round trips (facts 12, 14, 15) ---------------------------------------------------


@pytest.mark.parametrize("item", ALL_ITEMS, ids=[i.type for i in ALL_ITEMS])
async def test_every_item_type_round_trips_equal(store, as_alice, item):
    await thread_with_items(store, as_alice, "thr_1", [item])

    loaded = await store.load_item("thr_1", item.id, as_alice)
    assert loaded == item
    assert type(loaded) is type(item)
    assert loaded.model_dump_json() == item.model_dump_json()
    assert await all_items(store, as_alice, "thr_1") == [item]
    row = await ThreadItem.objects.aget(chatkit_id=item.id)
    assert row.type == item.type
    assert row.to_chatkit() == item


async def test_hidden_items_are_stored_and_returned_in_order(store, as_alice):
    """The model needs hidden context: the store returns it, the SDK filters it (fact 12)."""
    await thread_with_items(store, as_alice, "thr_1", ALL_ITEMS)

    assert await all_items(store, as_alice, "thr_1") == ALL_ITEMS
    assert await all_items(store, as_alice, "thr_1", "desc") == ALL_ITEMS[::-1]


async def test_template_widget_keeps_unknown_props_and_loads_without_warnings(store, as_alice):
    """Widgets built by ``WidgetTemplate`` are dynamic: loading must not narrow them to the
    deprecated named classes (which warn and drop props this SDK version does not know)."""
    item = ck.WidgetItem(
        id="wd_1", thread_id="thr_1", created_at=T0, widget=WIDGET_TEMPLATE.build({"name": "Ada"})
    )
    await thread_with_items(store, as_alice, "thr_1", [item])

    with warnings.catch_warnings(record=True) as caught:  # pyproject ignores this one
        warnings.simplefilter("always")
        loaded = await store.load_item("thr_1", "wd_1", as_alice)
        row_item = (await ThreadItem.objects.aget(chatkit_id="wd_1")).to_chatkit()
    assert [str(w.message) for w in caught] == []
    assert loaded == item == row_item
    assert isinstance(loaded, ck.WidgetItem)
    assert isinstance(loaded.widget, DynamicWidgetRoot)
    dumped = json.loads(client_json(loaded))["widget"]
    assert dumped["futureCardProp"] == {"kept": True}
    assert dumped["children"][0] == {"type": "Text", "value": "Ada", "futureTextProp": 3}
    assert dumped["children"][2] == {"type": "NotYetInvented", "value": "x"}


async def test_named_class_widget_round_trips_its_json(store, as_alice):
    """Widgets of the deprecated named classes come back as those classes, rendering the
    same (tests/store/test_fidelity.py covers every class)."""
    from chatkit import widgets

    with pytest.warns(DeprecationWarning):
        card = widgets.Card(
            children=[widgets.Text(value="hi", weight="bold")], size="sm", collapsed=False
        )
    item = ck.WidgetItem(id="wd_1", thread_id="thr_1", created_at=T0, widget=card)
    await thread_with_items(store, as_alice, "thr_1", [item])

    with pytest.warns(DeprecationWarning):  # the SDK warns on each named class made
        loaded = await store.load_item("thr_1", "wd_1", as_alice)
    assert client_json(loaded) == client_json(item)
    assert loaded == item
    assert type(loaded.widget) is widgets.Card
    assert type(loaded.widget.children[0]) is widgets.Text


async def test_thread_metadata_round_trips_equal(store, as_alice):
    metadata = thread_meta(
        "thr_1",
        title="Trip to\x00 Paris \U0001f5fc",
        status=ck.LockedStatus(reason="read only"),
        allowed_image_domains=["cdn.example.com"],
        metadata={"project": {"id": 7, "tags": ["a", "b"]}, "none": None},
    )
    await store.save_thread(metadata, as_alice)

    assert await store.load_thread("thr_1", as_alice) == metadata
    row = await Thread.objects.aget(chatkit_id="thr_1")
    assert (row.title, row.status) == ("Trip to Paris \U0001f5fc", "locked")  # no NUL column


async def test_save_thread_accepts_a_full_thread_and_stores_only_metadata(store, as_alice):
    full = ck.Thread(
        id="thr_1",
        created_at=T0,
        title="t",
        items=ck.Page(data=[message("msg_1")]),
        status=ck.ClosedStatus(reason="done"),
    )
    await store.save_thread(full, as_alice)

    loaded = await store.load_thread("thr_1", as_alice)
    assert type(loaded) is ck.ThreadMetadata
    assert loaded == ck.ThreadMetadata.model_validate(full.model_dump(exclude={"items"}))
    assert await all_items(store, as_alice, "thr_1") == []


async def test_naive_timestamps_come_back_naive_and_columns_are_aware(store, as_alice):
    """The SDK subtracts stored ``created_at`` from a naive ``now()`` (fact 14)."""
    now = datetime.now()
    await store.save_thread(thread_meta("thr_1", now), as_alice)
    await store.add_thread_item("thr_1", message("msg_1", created_at=now), as_alice)

    thread = await store.load_thread("thr_1", as_alice)
    item = await store.load_item("thr_1", "msg_1", as_alice)
    assert thread.created_at == now and thread.created_at.tzinfo is None
    assert item.created_at == now and item.created_at.tzinfo is None
    assert datetime.now() - item.created_at >= timedelta(0)  # what the SDK does

    expected_instant = now.astimezone(UTC)  # local wall time -> the same instant
    thread_row = await Thread.objects.aget(chatkit_id="thr_1")
    item_row = await ThreadItem.objects.aget(chatkit_id="msg_1")
    assert timezone.is_aware(thread_row.created_at)
    assert thread_row.created_at == expected_instant
    assert item_row.created_at == expected_instant


async def test_aware_timestamps_come_back_aware(store, as_alice):
    aware = datetime(2024, 6, 1, 8, 30, 15, 123456, tzinfo=UTC)
    await store.save_thread(thread_meta("thr_1", aware), as_alice)
    await store.add_thread_item("thr_1", message("msg_1", created_at=aware), as_alice)

    assert (await store.load_thread("thr_1", as_alice)).created_at == aware
    assert (await store.load_item("thr_1", "msg_1", as_alice)).created_at == aware


async def test_local_time_inside_a_dst_gap_is_stored(store, as_alice):
    """02:30 on 2024-03-31 does not exist in Europe/Paris (the tests' local zone)."""
    gap = datetime(2024, 3, 31, 2, 30)
    await store.save_thread(thread_meta("thr_1", gap), as_alice)
    await store.add_thread_item("thr_1", message("msg_1", created_at=gap), as_alice)

    assert (await store.load_item("thr_1", "msg_1", as_alice)).created_at == gap


async def test_large_and_unusual_text_round_trips(store, as_alice):
    text = ("\x00nul \u2028 \ud7ff \U0010ffff ' \" \\ %_ ;--" * 10) + "x" * 300_000
    item = message("msg_1", text=text)
    await thread_with_items(store, as_alice, "thr_1", [item])

    assert await store.load_item("thr_1", "msg_1", as_alice) == item
    row = await ThreadItem.objects.aget(chatkit_id="msg_1")
    assert "\x00" not in row.text and row.text.startswith("nul ")


async def test_attachment_round_trips_with_server_only_metadata(store, as_alice):
    image = ck.ImageAttachment(
        id="atc_1",
        name="c\x00at.png",
        mime_type="image/png",
        preview_url="https://cdn.example.com/p/cat.png?sig=abc&exp=1",
        upload_descriptor=ck.AttachmentUploadDescriptor(
            url="https://up.example.com/u", method="PUT", headers={"x-a": "1"}
        ),
        metadata={"key": "secret/path"},
    )
    await store.save_attachment(image, as_alice)

    loaded = await store.load_attachment("atc_1", as_alice)
    assert loaded == image
    assert loaded.metadata == {"key": "secret/path"}
    assert (await Attachment.objects.aget(chatkit_id="atc_1")).name == "cat.png"


# ownership (facts 6, 7, 8) --------------------------------------------------------


async def alice_world(store: DjangoStore, as_alice: ChatKitContext) -> None:
    await thread_with_items(store, as_alice, "thr_a", [message("msg_a", "thr_a")])
    await store.save_attachment(file_attachment("atc_a", "thr_a"), as_alice)


async def assert_alice_world_intact(store: DjangoStore, as_alice: ChatKitContext) -> None:
    assert (await store.load_thread("thr_a", as_alice)).title is None
    assert await all_items(store, as_alice, "thr_a") == [message("msg_a", "thr_a")]
    assert await store.load_attachment("atc_a", as_alice) == file_attachment("atc_a", "thr_a")


FOREIGN_CALLS: dict[str, Callable[[DjangoStore, ChatKitContext], Awaitable[Any]]] = {
    "load_thread": lambda s, c: s.load_thread("thr_a", c),
    "load_thread_items": lambda s, c: s.load_thread_items("thr_a", None, 10, "asc", c),
    "load_item": lambda s, c: s.load_item("thr_a", "msg_a", c),
    "add_thread_item": lambda s, c: s.add_thread_item("thr_a", message("msg_x", "thr_a"), c),
    "save_item": lambda s, c: s.save_item("thr_a", message("msg_a", "thr_a", text="hijack"), c),
    "delete_thread": lambda s, c: s.delete_thread("thr_a", c),
    "delete_thread_item": lambda s, c: s.delete_thread_item("thr_a", "msg_a", c),
    "load_attachment": lambda s, c: s.load_attachment("atc_a", c),
    "delete_attachment": lambda s, c: s.delete_attachment("atc_a", c),
    "load_threads_after": lambda s, c: s.load_threads(10, "thr_a", "asc", c),
}


@pytest.mark.parametrize("call", FOREIGN_CALLS.values(), ids=FOREIGN_CALLS.keys())
async def test_another_users_ids_behave_as_missing(store, as_alice, as_bob, call):
    await alice_world(store, as_alice)

    with pytest.raises(NotFoundError):
        await call(store, as_bob)
    await assert_alice_world_intact(store, as_alice)


@pytest.mark.parametrize("call", FOREIGN_CALLS.values(), ids=FOREIGN_CALLS.keys())
async def test_another_scope_of_the_same_user_behaves_as_missing(store, alice, as_alice, call):
    await alice_world(store, as_alice)

    with pytest.raises(NotFoundError):
        await call(store, ChatKitContext(user=alice, scope="support-bot"))
    await assert_alice_world_intact(store, as_alice)


async def test_missing_ids_raise_not_found(store, as_alice):
    await alice_world(store, as_alice)

    with pytest.raises(NotFoundError, match="thr_zz"):
        await store.load_thread("thr_zz", as_alice)
    with pytest.raises(NotFoundError):
        await store.load_item("thr_a", "msg_zz", as_alice)
    with pytest.raises(NotFoundError):
        await store.load_attachment("atc_zz", as_alice)
    with pytest.raises(NotFoundError):
        await store.delete_attachment("atc_zz", as_alice)
    with pytest.raises(NotFoundError):
        await store.delete_thread("thr_zz", as_alice)
    with pytest.raises(NotFoundError):
        await store.add_thread_item("thr_zz", message("msg_1", "thr_zz"), as_alice)
    assert await ThreadItem.objects.filter(chatkit_id="msg_1").acount() == 0


async def test_item_of_another_thread_of_the_same_user_is_missing(store, as_alice):
    await alice_world(store, as_alice)
    await store.save_thread(thread_meta("thr_b"), as_alice)

    with pytest.raises(NotFoundError):
        await store.load_item("thr_b", "msg_a", as_alice)
    await store.delete_thread_item("thr_b", "msg_a", as_alice)  # no such item there
    with pytest.raises(NotFoundError):
        await store.load_thread_items("thr_b", "msg_a", 10, "asc", as_alice)
    await assert_alice_world_intact(store, as_alice)


async def test_lists_show_only_the_owners_threads(store, alice, as_alice, as_bob):
    await alice_world(store, as_alice)
    await store.save_thread(thread_meta("thr_b"), as_bob)
    await store.save_thread(thread_meta("thr_s"), ChatKitContext(user=alice, scope="s"))

    for context, expected in ((as_alice, ["thr_a"]), (as_bob, ["thr_b"])):
        page = await store.load_threads(10, None, "desc", context)
        assert [t.id for t in page.data] == expected
    scoped = await store.load_threads(10, None, "asc", ChatKitContext(user=alice, scope="s"))
    assert [t.id for t in scoped.data] == ["thr_s"]


async def test_saving_a_taken_thread_id_creates_a_separate_thread(store, as_alice, as_bob):
    """Upserts are keyed by owner: nothing of Alice's is overwritten or taken over (fact 7)."""
    await alice_world(store, as_alice)

    await store.save_thread(thread_meta("thr_a", title="Bob's"), as_bob)
    await store.add_thread_item("thr_a", message("msg_a", "thr_a", text="bob"), as_bob)

    await assert_alice_world_intact(store, as_alice)
    assert (await store.load_thread("thr_a", as_bob)).title == "Bob's"
    assert [i.content[0].text for i in await all_items(store, as_bob, "thr_a")] == ["bob"]
    assert await Thread.objects.filter(chatkit_id="thr_a").acount() == 2


async def test_saving_a_taken_attachment_id_cannot_take_it_over(store, as_alice, as_bob, bob):
    await alice_world(store, as_alice)
    await Attachment.objects.filter(chatkit_id="atc_a").aupdate(file_name="alice/secret.pdf")

    await store.save_attachment(file_attachment("atc_a", "thr_a"), as_bob)

    await assert_alice_world_intact(store, as_alice)
    bobs = await Attachment.objects.aget(chatkit_id="atc_a", user=bob)
    assert bobs.file_name == "" and bobs.thread_id is None  # not linked to Alice's thread
    alices = await Attachment.objects.exclude(user=bob).aget(chatkit_id="atc_a")
    assert alices.file_name == "alice/secret.pdf"


ALL_CALLS: dict[str, Callable[[DjangoStore, ChatKitContext], Awaitable[Any]]] = {
    **FOREIGN_CALLS,
    "save_thread": lambda s, c: s.save_thread(thread_meta("thr_a"), c),
    "load_threads": lambda s, c: s.load_threads(10, None, "asc", c),
    "save_attachment": lambda s, c: s.save_attachment(file_attachment("atc_a"), c),
}


@pytest.mark.parametrize("call", ALL_CALLS.values(), ids=ALL_CALLS.keys())
async def test_anonymous_users_are_refused_by_every_method(store, as_alice, call):
    await alice_world(store, as_alice)

    with pytest.raises(PermissionDenied):
        await call(store, ChatKitContext(user=AnonymousUser()))
    with pytest.raises(PermissionDenied):
        await call(store, ChatKitContext(user=None))  # type: ignore[arg-type]
    await assert_alice_world_intact(store, as_alice)


HOSTILE_IDS = [
    "",
    "thr_a\x00",
    "\x00",
    "thr_" + "a" * 10_000,
    "thr_%",
    "thr__",
    "' OR '1'='1",
    "thr_a ",
    "THR_A",
    "\U0001f600",
    "\ud800",  # a lone surrogate: valid in JSON strings, not encodable as UTF-8
]


@pytest.mark.parametrize("bad_id", HOSTILE_IDS, ids=lambda value: repr(value[:12]))
async def test_hostile_ids_behave_as_missing(store, as_alice, bad_id):
    """Ids come from the client: whatever they contain, the answer is "not found"."""
    await alice_world(store, as_alice)

    calls = [
        store.load_thread(bad_id, as_alice),
        store.load_thread_items(bad_id, None, 10, "asc", as_alice),
        store.load_item("thr_a", bad_id, as_alice),
        store.load_item(bad_id, "msg_a", as_alice),
        store.load_attachment(bad_id, as_alice),
        store.delete_attachment(bad_id, as_alice),
        store.delete_thread(bad_id, as_alice),
        store.delete_thread_item(bad_id, "msg_a", as_alice),
    ]
    if bad_id:  # an empty cursor is no cursor (see below)
        calls.append(store.load_thread_items("thr_a", bad_id, 10, "asc", as_alice))
        calls.append(store.load_threads(10, bad_id, "desc", as_alice))
    for call in calls:
        with pytest.raises(NotFoundError):
            await call
    await store.delete_thread_item("thr_a", bad_id, as_alice)  # missing item: no error
    await assert_alice_world_intact(store, as_alice)


async def test_an_empty_cursor_starts_at_the_beginning(store, as_alice):
    await alice_world(store, as_alice)

    items = await store.load_thread_items("thr_a", "", 10, "asc", as_alice)
    threads = await store.load_threads(10, "", "asc", as_alice)
    assert [i.id for i in items.data] == ["msg_a"]
    assert [t.id for t in threads.data] == ["thr_a"]


# pagination (facts 10, 11, 12) -------------------------------------------------------

# Equal timestamps are common; whole seconds and fractions mix (SQLite stores text).
TIMES = [
    T0,
    T0,
    T0 + timedelta(microseconds=500_000),
    T0,
    T0 + timedelta(seconds=1),
    T0 + timedelta(microseconds=1),
    T0 + timedelta(seconds=1),
    T0 - timedelta(seconds=1),
    T0 + timedelta(microseconds=500_000),
]


def expected_order(ids: list[str]) -> list[str]:
    """Ascending ``(created_at, insertion order)``."""
    return [i for _, _, i in sorted(zip(TIMES, range(len(ids)), ids, strict=True))]


async def collect_pages(load_page, limit: int) -> list[str]:
    seen: list[str] = []
    after = None
    for _ in range(50):
        page = await load_page(after, limit)
        assert 0 < len(page.data) <= limit or (not seen and not page.data)
        seen += [x.id for x in page.data]
        if not page.has_more:
            assert page.after is None
            return seen
        assert page.after == page.data[-1].id  # the last id of the page, exclusive
        after = page.after
    raise AssertionError("pagination does not end")


@pytest.mark.parametrize("limit", [1, 2, 3, 4, 9, 10])
@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_items_page_through_equal_timestamps_exactly(store, as_alice, limit, order):
    ids = [f"msg_{n}" for n in range(len(TIMES))]
    await store.save_thread(thread_meta("thr_1"), as_alice)
    for item_id, created_at in zip(ids, TIMES, strict=True):
        await store.add_thread_item("thr_1", message(item_id, created_at=created_at), as_alice)

    async def load(after, limit):
        return await store.load_thread_items("thr_1", after, limit, order, as_alice)

    expected = expected_order(ids)
    assert await collect_pages(load, limit) == (expected if order == "asc" else expected[::-1])


@pytest.mark.parametrize("limit", [1, 2, 4, 9])
@pytest.mark.parametrize("order", ["asc", "desc"])
async def test_threads_page_through_equal_timestamps_exactly(store, as_alice, as_bob, limit, order):
    ids = [f"thr_{n}" for n in range(len(TIMES))]
    for thread_id, created_at in zip(ids, TIMES, strict=True):
        await store.save_thread(thread_meta(thread_id, created_at), as_alice)
        await store.save_thread(thread_meta(thread_id + "_bob", created_at), as_bob)

    async def load(after, limit):
        return await store.load_threads(limit, after, order, as_alice)

    expected = expected_order(ids)
    assert await collect_pages(load, limit) == (expected if order == "asc" else expected[::-1])


async def test_after_is_exclusive_and_none_on_the_last_page(store, as_alice):
    await store.save_thread(thread_meta("thr_1"), as_alice)
    for n in range(3):
        await store.add_thread_item("thr_1", message(f"msg_{n}"), as_alice)

    page = await store.load_thread_items("thr_1", "msg_0", 2, "asc", as_alice)
    assert [i.id for i in page.data] == ["msg_1", "msg_2"]
    assert (page.has_more, page.after) == (False, None)
    page = await store.load_thread_items("thr_1", "msg_2", 5, "asc", as_alice)
    assert (page.data, page.has_more, page.after) == ([], False, None)
    page = await store.load_thread_items("thr_1", "msg_1", 5, "desc", as_alice)
    assert [i.id for i in page.data] == ["msg_0"]


async def test_updating_an_item_keeps_its_place(store, as_alice):
    await store.save_thread(thread_meta("thr_1"), as_alice)
    for n in range(3):
        await store.add_thread_item("thr_1", message(f"msg_{n}"), as_alice)

    await store.save_item("thr_1", message("msg_0", text="edited"), as_alice)

    items = await all_items(store, as_alice, "thr_1")
    assert [i.id for i in items] == ["msg_0", "msg_1", "msg_2"]
    assert items[0].content[0].text == "edited"


async def test_newest_item_first_with_equal_timestamps(store, as_alice):
    """``load_thread_items(thread, None, 1, "desc")`` finds the pending client tool call."""
    await store.save_thread(thread_meta("thr_1"), as_alice)
    await store.add_thread_item("thr_1", message("msg_1"), as_alice)
    call = ck.ClientToolCallItem(
        id="tc_1", thread_id="thr_1", created_at=T0, call_id="c", name="n", arguments={}
    )
    await store.add_thread_item("thr_1", call, as_alice)

    page = await store.load_thread_items("thr_1", None, 1, "desc", as_alice)
    assert page.data == [call] and page.has_more and page.after == "tc_1"


@pytest.mark.parametrize(
    ("asked", "given"), [(0, 1), (-5, 1), (1, 1), (2, 2), (3, 3), (10**12, 3), (None, 3)]
)
async def test_limits_are_clamped(store, as_alice, asked, given):
    await store.save_thread(thread_meta("thr_1"), as_alice)
    for n in range(5):
        await store.add_thread_item("thr_1", message(f"msg_{n}"), as_alice)
        await store.save_thread(thread_meta(f"thr_x{n}"), as_alice)

    with override_settings(CHATKIT_MAX_PAGE_SIZE=3):
        items = await store.load_thread_items("thr_1", None, asked, "asc", as_alice)
        threads = await store.load_threads(asked, None, "asc", as_alice)
    assert len(items.data) == given and items.has_more
    assert len(threads.data) == given and threads.has_more


def test_clamp_limit_defaults():
    assert clamp_limit(None) == 20
    assert clamp_limit(10**6) == 100
    with override_settings(CHATKIT_MAX_PAGE_SIZE=5):
        assert clamp_limit(None) == 5


# upserts, deletes and signals --------------------------------------------------


async def test_save_thread_updates_in_place_and_signals_creation_once(store, as_alice, received):
    await store.save_thread(thread_meta("thr_1"), as_alice)
    await store.save_thread(thread_meta("thr_1", title="Renamed"), as_alice)

    assert (await store.load_thread("thr_1", as_alice)).title == "Renamed"
    assert await Thread.objects.acount() == 1
    created = [kw for name, kw in received if name == "thread_created"]
    assert len(created) == 1
    assert created[0]["thread"] == thread_meta("thr_1")
    assert created[0]["context"] is as_alice


async def test_add_inserts_save_upserts_and_both_signal(store, as_alice, received, caplog):
    await store.save_thread(thread_meta("thr_1"), as_alice)

    await store.add_thread_item("thr_1", message("msg_1", text="a"), as_alice)
    # Adding an id the thread has keeps the stored item (and says so); nothing is sent.
    with caplog.at_level(logging.WARNING, logger="django_chatkit"):
        await store.add_thread_item("thr_1", message("msg_1", text="b"), as_alice)
    assert [r.getMessage() for r in caplog.records] == [
        "Thread thr_1 already has item msg_1: the stored item is kept (add_thread_item "
        "never replaces an item; save_item updates one)."
    ]
    assert (await store.load_item("thr_1", "msg_1", as_alice)).content[0].text == "a"
    await store.save_item("thr_1", message("msg_1", text="c"), as_alice)
    await store.save_item("thr_1", message("msg_2", text="new"), as_alice)  # upsert inserts

    items = await all_items(store, as_alice, "thr_1")
    assert [(i.id, i.content[0].text) for i in items] == [("msg_1", "c"), ("msg_2", "new")]
    saved = [(kw["item"].id, kw["created"]) for name, kw in received if name == "item_saved"]
    assert saved == [("msg_1", True), ("msg_1", False), ("msg_2", True)]
    assert all(kw["thread_id"] == "thr_1" for _, kw in received if "thread_id" in kw)


async def test_adding_an_existing_id_to_a_missing_or_foreign_thread_is_not_found(
    store, as_alice, as_bob
):
    await store.save_thread(thread_meta("thr_1"), as_alice)
    await store.add_thread_item("thr_1", message("msg_1"), as_alice)
    with pytest.raises(NotFoundError):
        await store.add_thread_item("thr_1", message("msg_1", text="bob"), as_bob)
    with pytest.raises(NotFoundError):
        await store.add_thread_item("thr_zz", message("msg_1", "thr_zz"), as_alice)
    assert (await store.load_item("thr_1", "msg_1", as_alice)).content[0].text == "hello"


async def last_activity() -> datetime:
    return (await Thread.objects.aget()).updated_at


async def test_item_saves_record_the_threads_last_activity_once_per_resolution(
    store, as_alice, monkeypatch
):
    clock = [1000.0]
    monkeypatch.setattr("django_chatkit.store.backend.monotonic", lambda: clock[0])
    await store.save_thread(thread_meta("thr_1"), as_alice)
    saved = await last_activity()

    # Within activity_resolution (1 s) of the thread's save: one turn's items do not
    # write updated_at again (one statement each instead of two).
    clock[0] += 0.5
    with capture_queries() as log:
        await store.add_thread_item("thr_1", message("msg_1"), as_alice)
    assert len(log) == 1
    assert await last_activity() == saved

    # Later, the next item save records the activity.
    clock[0] += 1.0
    with capture_queries() as log:
        await store.save_item("thr_1", message("msg_1", text="edited"), as_alice)
    assert len(log) == 2
    touched = await last_activity()
    assert touched > saved

    # activity_resolution = 0: every item save writes it.
    store.activity_resolution = 0
    await store.add_thread_item("thr_1", message("msg_2"), as_alice)
    assert await last_activity() > touched


async def test_an_item_save_skipping_the_touch_still_checks_the_owner(store, as_alice, as_bob):
    await store.save_thread(thread_meta("thr_1"), as_alice)
    await store.add_thread_item("thr_1", message("msg_1"), as_alice)
    # Bob's store remembers Alice's thread as recently active under Alice's key only;
    # even a stale memo of his own never lets a write through to her thread.
    store._mark_active({"user_id": as_bob.user.pk, "scope": ""}, "thr_1", time.monotonic())

    with pytest.raises(NotFoundError):
        await store.add_thread_item("thr_1", message("msg_bob"), as_bob)
    with pytest.raises(NotFoundError):
        await store.save_item("thr_1", message("msg_1", text="bob's"), as_bob)
    items = await all_items(store, as_alice, "thr_1")
    assert [(i.id, i.content[0].text) for i in items] == [("msg_1", "hello")]


async def test_delete_thread_item(store, as_alice):
    await thread_with_items(store, as_alice, "thr_1", [message("msg_1"), message("msg_2")])

    await store.delete_thread_item("thr_1", "msg_1", as_alice)
    await store.delete_thread_item("thr_1", "msg_1", as_alice)  # already gone: no error

    assert [i.id for i in await all_items(store, as_alice, "thr_1")] == ["msg_2"]
    with pytest.raises(NotFoundError):
        await store.load_item("thr_1", "msg_1", as_alice)


async def test_delete_thread_removes_items_attachments_and_files(store, as_alice, as_bob, received):
    await thread_with_items(store, as_alice, "thr_1", [message("msg_1"), message("msg_2")])
    await thread_with_items(store, as_alice, "thr_2", [message("msg_1", "thr_2")])
    await store.save_thread(thread_meta("thr_1"), as_bob)  # same id, Bob's
    names = {}
    for attachment_id, thread_id, context in [
        ("atc_1", "thr_1", as_alice),  # goes with thr_1
        ("atc_2", "thr_1", as_alice),  # goes with thr_1
        ("atc_3", "thr_2", as_alice),  # other thread: stays
        ("atc_4", None, as_alice),  # not sent yet: stays
        ("atc_5", "thr_1", as_bob),  # Bob's thr_1: stays
    ]:
        await store.save_attachment(file_attachment(attachment_id, thread_id), context)
        names[attachment_id] = await sync_to_async(write_file)(f"chatkit/{attachment_id}.bin")
        await Attachment.objects.filter(chatkit_id=attachment_id).aupdate(
            file_name=names[attachment_id]
        )

    await store.delete_thread("thr_1", as_alice)

    with pytest.raises(NotFoundError):
        await store.load_thread("thr_1", as_alice)
    assert await ThreadItem.objects.filter(thread__chatkit_id="thr_1").acount() == 0
    remaining = [a async for a in Attachment.objects.values_list("chatkit_id", flat=True)]
    assert sorted(remaining) == ["atc_3", "atc_4", "atc_5"]
    exists = {k: await sync_to_async(file_exists)(v) for k, v in names.items()}
    assert exists == {"atc_1": False, "atc_2": False, "atc_3": True, "atc_4": True, "atc_5": True}
    assert await all_items(store, as_alice, "thr_2") == [message("msg_1", "thr_2")]
    assert await store.load_thread("thr_1", as_bob) == thread_meta("thr_1")
    deleted = [kw for name, kw in received if name == "thread_deleted"]
    assert [(kw["thread_id"], kw["context"]) for kw in deleted] == [("thr_1", as_alice)]


async def test_delete_attachment_removes_row_and_file(store, as_alice):
    await store.save_attachment(file_attachment("atc_1"), as_alice)
    name = await sync_to_async(write_file)("chatkit/atc_1.bin")
    await Attachment.objects.filter(chatkit_id="atc_1").aupdate(file_name=name)

    await store.delete_attachment("atc_1", as_alice)

    assert not await sync_to_async(file_exists)(name)
    with pytest.raises(NotFoundError):
        await store.load_attachment("atc_1", as_alice)


async def test_save_attachment_links_the_owners_thread_and_keeps_file_fields(store, as_alice):
    await store.save_thread(thread_meta("thr_1"), as_alice)
    await store.save_attachment(file_attachment("atc_1"), as_alice)
    await Attachment.objects.filter(chatkit_id="atc_1").aupdate(file_name="f.bin", size=5)

    await store.save_attachment(file_attachment("atc_1", "thr_1"), as_alice)

    row = await Attachment.objects.select_related("thread").aget(chatkit_id="atc_1")
    assert row.thread.chatkit_id == "thr_1"
    assert (row.file_name, row.size) == ("f.bin", 5)
    assert (await store.load_attachment("atc_1", as_alice)).thread_id == "thr_1"


# ids (fact 13) --------------------------------------------------------------------


def test_generated_ids_are_prefixed_unique_and_time_ordered(store, alice):
    context = ChatKitContext(user=alice)
    meta = thread_meta()
    prefixes = {
        "message": "msg_",
        "tool_call": "tc_",
        "task": "tsk_",
        "workflow": "wf_",
        "attachment": "atc_",
        "sdk_hidden_context": "shcx_",
        "thread": "thr_",
    }
    for item_type, prefix in prefixes.items():
        assert store.generate_item_id(item_type, meta, context).startswith(prefix)
    assert store.generate_thread_id(context).startswith("thr_")

    ids = [store.generate_item_id("message", meta, context) for _ in range(5000)]
    assert len(set(ids)) == len(ids)
    assert all(len(i) == len("msg_") + 26 for i in ids)
    first = store.generate_thread_id(context)
    time.sleep(0.003)
    assert store.generate_thread_id(context) > first


# concurrency ------------------------------------------------------------------------


async def test_racing_upserts_of_a_new_thread_make_one_row(store, as_alice, received):
    await asyncio.gather(
        *(store.save_thread(thread_meta("thr_1", title=f"t{n}"), as_alice) for n in range(6))
    )

    assert await Thread.objects.acount() == 1
    assert len([1 for name, _ in received if name == "thread_created"]) == 1


async def test_concurrent_item_writes_all_land(store, as_alice):
    await store.save_thread(thread_meta("thr_1"), as_alice)

    await asyncio.gather(
        *(store.add_thread_item("thr_1", message(f"msg_{n}"), as_alice) for n in range(8)),
        *(store.save_item("thr_1", message("msg_same", text=str(n)), as_alice) for n in range(4)),
    )

    items = await all_items(store, as_alice, "thr_1")
    assert sorted(i.id for i in items) == sorted([f"msg_{n}" for n in range(8)] + ["msg_same"])


async def test_a_generated_thread_id_is_inserted_first_then_updated(store, as_alice, received):
    """An id from generate_thread_id() is new: its first save inserts without an UPDATE
    first; later saves update; another user's save of the same id is their own row."""
    thread_id = store.generate_thread_id(as_alice)
    with capture_queries() as log:
        await store.save_thread(thread_meta(thread_id, title="one"), as_alice)
    assert [sql.split()[0] for sql in log.data_statements] == ["INSERT"]
    await store.save_thread(thread_meta(thread_id, title="two"), as_alice)
    assert (await store.load_thread(thread_id, as_alice)).title == "two"
    assert await Thread.objects.acount() == 1
    assert [name for name, _ in received] == ["thread_created"]


async def test_unsaved_generated_thread_ids_are_bounded(store, as_alice):
    for _ in range(store._unsaved_thread_ids_max + 50):
        store.generate_thread_id(as_alice)
    assert len(store._unsaved_thread_ids) == store._unsaved_thread_ids_max
