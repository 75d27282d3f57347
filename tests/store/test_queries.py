"""Query budgets of ``DjangoStore``: a small, fixed number of statements per call, the
same for a thread of 3 items as for one of 1,200, in one worker-thread hop whose
connection is closed afterwards (a waiting stream pins no connection).

Run with ``-s`` to print the table of counts.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest
from asgiref.sync import sync_to_async
from chatkit import types as ck
from chatkit.server import StreamingResult
from chatkit.widgets import DynamicWidgetRoot
from django.db import connection, connections
from django.test import AsyncClient, override_settings

from django_chatkit.context import ChatKitContext, RequestReads
from django_chatkit.db import run_db
from django_chatkit.models import Thread, ThreadItem
from django_chatkit.store import DjangoStore
from tests.support.items import T0, file_attachment, message, thread_meta
from tests.support.querylog import capture_queries
from tests.support.servers import ScriptedServer

pytestmark = pytest.mark.django_db(transaction=True)

# Statements that read or write rows (BEGIN/SAVEPOINT left out: SQLite sends BEGIN
# through a cursor, PostgreSQL does not), per call, whatever the size of the thread.
BUDGETS: dict[str, int] = {
    "load_thread": 1,
    "save_thread (update)": 1,
    "save_thread (new)": 2,
    "load_threads": 1,
    "load_threads (after)": 2,
    "load_thread_items": 1,
    "load_thread_items (after)": 2,
    "load_item": 1,
    "add_thread_item": 1,
    "add_thread_item (existing id)": 2,
    "save_item (existing)": 1,
    "save_item (new)": 2,
    "delete_thread_item": 3,
    "delete_thread_item (missing)": 3,
    "save_attachment (new)": 3,
    "save_attachment (update)": 2,
    "load_attachment": 1,
    "delete_attachment": 2,
    # Protocol requests through the SDK's ChatKitServer.process():
    "threads.get_by_id": 2,
    "threads.list": 1,
    "items.list": 1,
    "threads.update": 2,
    "threads.create": 3,
    "threads.add_user_message": 4,
    # Items have no dependent rows, so Django deletes them in one statement; the thread's
    # usage rows go in one more (their day's aggregates stay: docs/usage.rst), its
    # running-answer row (durable answers) in one more.
    "delete_thread": 10,
}
SIZES = (10, 10_000)
# Item saves write the thread's last activity too, once per DjangoStore.activity_resolution
# (the calls above come within a second of each other): one more statement when they do.
TOUCHES = {
    "add_thread_item": 1,
    "add_thread_item (existing id)": 1,
    "save_item (existing)": 1,
    "save_item (new)": 1,
    "threads.create": 2,
    "threads.add_user_message": 2,
}


def operations(
    store: DjangoStore, server: ScriptedServer, context: ChatKitContext
) -> dict[str, Callable[[], Awaitable[Any]]]:
    """Calls to measure, in an order in which each finds what it needs."""

    def request(op: str, **params: Any) -> Callable[[], Awaitable[Any]]:
        body = json.dumps({"type": op, "params": params})

        async def send() -> Any:
            result = await server.process(body, context)
            if isinstance(result, StreamingResult):
                return [chunk async for chunk in result]
            return result

        return send

    user_input = {
        "content": [{"type": "input_text", "text": "echo hello there"}],
        "attachments": [],
        "inference_options": {},
    }

    return {
        "load_thread": lambda: store.load_thread("thr_1", context),
        "save_thread (update)": lambda: store.save_thread(thread_meta("thr_1", title="t"), context),
        "save_thread (new)": lambda: store.save_thread(thread_meta("thr_2"), context),
        "load_threads": lambda: store.load_threads(20, None, "desc", context),
        "load_threads (after)": lambda: store.load_threads(20, "thr_2", "desc", context),
        "load_thread_items": lambda: store.load_thread_items("thr_1", None, 50, "asc", context),
        "load_thread_items (after)": lambda: store.load_thread_items(
            "thr_1", "msg_1", 50, "desc", context
        ),
        "load_item": lambda: store.load_item("thr_1", "msg_1", context),
        "add_thread_item": lambda: store.add_thread_item("thr_1", message("msg_new"), context),
        "add_thread_item (existing id)": lambda: store.add_thread_item(
            "thr_1", message("msg_new"), context
        ),
        "save_item (existing)": lambda: store.save_item(
            "thr_1", message("msg_new", text="edited"), context
        ),
        "save_item (new)": lambda: store.save_item("thr_1", message("msg_new2"), context),
        "delete_thread_item": lambda: store.delete_thread_item("thr_1", "msg_new2", context),
        "delete_thread_item (missing)": lambda: store.delete_thread_item(
            "thr_1", "msg_zz", context
        ),
        "save_attachment (new)": lambda: store.save_attachment(
            file_attachment("atc_2", "thr_1"), context
        ),
        "save_attachment (update)": lambda: store.save_attachment(
            file_attachment("atc_2", "thr_1"), context
        ),
        "load_attachment": lambda: store.load_attachment("atc_2", context),
        "delete_attachment": lambda: store.delete_attachment("atc_2", context),
        "threads.get_by_id": request("threads.get_by_id", thread_id="thr_1"),
        "threads.list": request("threads.list", limit=10),
        "items.list": request("items.list", thread_id="thr_1"),
        "threads.update": request("threads.update", thread_id="thr_1", title="New"),
        "threads.create": request("threads.create", input=user_input),
        "threads.add_user_message": request(
            "threads.add_user_message", thread_id="thr_1", input=user_input
        ),
        "delete_thread": lambda: store.delete_thread("thr_1", context),
    }


def bulk_thread(user: Any, items: int) -> None:
    """A thread of ``items`` messages, all stamped with the same instant (worst case)."""
    thread = Thread(user=user)
    thread.set_metadata(thread_meta("thr_1"))
    thread.save()
    rows = []
    for n in range(items):
        row = ThreadItem(thread=thread)
        row.set_item(message(f"msg_{n}", created_at=T0))
        rows.append(row)
    ThreadItem.objects.bulk_create(rows, batch_size=500)


async def measure(
    user: Any, items: int, activity_resolution: float = DjangoStore.activity_resolution
) -> dict[str, tuple[int, int, int]]:
    """``{call: (data statements, all statements, connections opened)}``, for a new user."""
    context = ChatKitContext(user=user)
    store = DjangoStore()
    store.activity_resolution = activity_resolution
    server = ScriptedServer(store=store)
    await run_db(bulk_thread, user, items)
    await store.save_attachment(file_attachment("atc_1", "thr_1"), context)

    counts = {}
    for name, call in operations(store, server, context).items():
        with capture_queries() as log:
            await call()
        counts[name] = (len(log), len(log.statements), len(log.connections))
        assert all(c.connection is None for c in log.connections), f"{name} left it open"
    return counts


async def test_each_call_has_a_fixed_query_budget(django_user_model):
    by_size = {}
    for size in SIZES:
        user = await run_db(django_user_model.objects.create_user, f"user{size}")
        by_size[size] = await measure(user, size)

    vendor = connection.vendor
    print(f"\n{'call':34} " + " ".join(f"{f'{n} items':>16}" for n in SIZES) + f"  ({vendor})")
    for name in BUDGETS:
        cells = [f"{d} data / {a} all" for d, a, _ in (by_size[n][name] for n in SIZES)]
        print(f"{name:34} " + " ".join(f"{c:>16}" for c in cells))

    small, large = (by_size[n] for n in SIZES)
    assert list(small) == list(BUDGETS)
    for name, budget in BUDGETS.items():
        assert small[name][0] <= budget, (name, small[name])
        assert large[name][0] == small[name][0], (name, large[name])  # independent of length
        if "." not in name:  # a store method: one worker-thread hop, one connection
            assert small[name][2] == 1, (name, small[name])

    # Every item save writing the thread's last activity: the only difference.
    user = await run_db(django_user_model.objects.create_user, "touching")
    touching = await measure(user, SIZES[0], activity_resolution=0)
    assert {name: counts[0] for name, counts in touching.items()} == {
        name: small[name][0] + TOUCHES.get(name, 0) for name in BUDGETS
    }


# Through the endpoint: what one protocol request costs, session and user included. ----


class ViewBudgetServer(ScriptedServer):
    """Answers every streaming request with a short message; actions answer too."""

    async def action(
        self, thread: Any, action: Any, sender: Any, context: ChatKitContext
    ) -> AsyncIterator[ck.ThreadStreamEvent]:
        async for event in self.respond(thread, None, context):
            yield event


# Statements per protocol request through ChatKitView (Django's session and user lookups
# included: 2 of each count). Each thread is read once per request (DESIGN.md fact 18).
VIEW_BUDGETS: dict[str, int] = {
    "threads.create": 5,
    "threads.add_user_message": 6,
    "threads.add_user_message (attachment)": 9,
    "threads.retry_after_item": 10,
    "threads.custom_action": 6,
    "threads.add_client_tool_output": 8,
    "threads.add_structured_input": 7,
    "threads.get_by_id": 4,
    "threads.list": 3,
    "items.list": 3,
    "threads.update": 4,
}


def seed_thread(user: Any, thread_id: str, items: list[ck.ThreadItem]) -> None:
    thread = Thread(user=user)
    thread.set_metadata(thread_meta(thread_id))
    thread.save()
    for item in items:
        row = ThreadItem(thread=thread)
        row.set_item(item.model_copy(update={"thread_id": thread_id}))
        row.save()


def view_requests(thread_id: str) -> dict[str, tuple[list[ck.ThreadItem], dict[str, Any]]]:
    """``{op: (the thread's items before, the request's params)}``."""
    base = {"thread_id": thread_id, "created_at": T0}
    user_message = ck.UserMessageItem(
        id="msg_u",
        thread_id=thread_id,
        created_at=T0,
        content=[ck.UserMessageTextContent(text="echo hi")],
        inference_options=ck.InferenceOptions(),
    )
    widget = ck.WidgetItem(id="wd_1", **base, widget=DynamicWidgetRoot(type="Card", children=[]))
    tool_call = ck.ClientToolCallItem(
        id="tc_1", **base, call_id="call_1", name="get_location", arguments={}
    )
    question = ck.StructuredInputItem(
        id="si_1", **base, inputs=[ck.StructuredInputFreeform(id="q1", question="Name?")]
    )
    user_input = {
        "content": [{"type": "input_text", "text": "echo hello there"}],
        "attachments": [],
        "inference_options": {},
    }
    return {
        "threads.create": ([], {"input": user_input}),
        "threads.add_user_message": ([user_message], {"thread_id": thread_id, "input": user_input}),
        "threads.add_user_message (attachment)": (
            [user_message],
            {"thread_id": thread_id, "input": {**user_input, "attachments": ["atc_1"]}},
        ),
        "threads.retry_after_item": (
            [user_message, message("msg_a", thread_id)],
            {"thread_id": thread_id, "item_id": "msg_u"},
        ),
        "threads.custom_action": (
            [user_message, widget],
            {"thread_id": thread_id, "item_id": "wd_1", "action": {"type": "go"}},
        ),
        "threads.add_client_tool_output": (
            [user_message, tool_call],
            {"thread_id": thread_id, "result": {"city": "Paris"}},
        ),
        "threads.add_structured_input": (
            [user_message, question],
            {
                "thread_id": thread_id,
                "item_id": "si_1",
                "input": {"answers": {"q1": {"values": ["Ada"]}}},
            },
        ),
        "threads.get_by_id": ([user_message], {"thread_id": thread_id}),
        "threads.list": ([user_message], {"limit": 10}),
        "items.list": ([user_message], {"thread_id": thread_id}),
        "threads.update": ([user_message], {"thread_id": thread_id, "title": "New"}),
    }


async def view_statements(user: Any) -> dict[str, int]:
    """``{request: data statements}``, each request on a thread of its own."""
    client = AsyncClient()
    await client.aforce_login(user)
    await DjangoStore().save_attachment(file_attachment("atc_1"), ChatKitContext(user=user))
    counts = {}
    with override_settings(CHATKIT_SERVER="tests.store.test_queries.ViewBudgetServer"):
        for n, name in enumerate(view_requests("")):
            thread_id = f"thr_v{n}"
            items, params = view_requests(thread_id)[name]
            await run_db(seed_thread, user, thread_id, items)
            body = json.dumps({"type": name.split(" ")[0], "params": params})
            # The session and user are read on asgiref's thread: open a new connection
            # there, so that the capture sees them.
            await sync_to_async(connections.close_all)()
            with capture_queries() as log:
                response = await client.post("/chatkit/", body, content_type="application/json")
                if response.streaming:
                    content = b"".join([chunk async for chunk in response.streaming_content])
                else:
                    content = response.content
            assert response.status_code == 200, (name, content)
            assert b'"type":"error"' not in content, (name, content)
            counts[name] = len(log)
    return counts


async def test_each_protocol_request_through_the_view_reads_each_row_once(django_user_model):
    user = await run_db(django_user_model.objects.create_user, "viewer")
    counts = await view_statements(user)
    print(f"\n{'request through the view':40} statements  ({connection.vendor})")
    for name, count in counts.items():
        print(f"{name:40} {count:>10}")
    assert list(counts) == list(VIEW_BUDGETS)
    assert {n: c for n, c in counts.items() if c > VIEW_BUDGETS[n]} == {}


async def test_a_request_reads_each_row_once_and_gets_copies(django_user_model):
    """``ChatKitContext.reads``: repeated loads within a request are answered from what it
    read (as copies); a write forgets what was read of that row; without it every load
    reads the database."""
    user = await run_db(django_user_model.objects.create_user, "reader")
    store = DjangoStore()
    await run_db(bulk_thread, user, 3)
    context = ChatKitContext(user=user, reads=RequestReads())

    with capture_queries() as log:
        first = await store.load_thread("thr_1", context)
        first.title = "changed by the caller"
        second = await store.load_thread("thr_1", context)
        page = await store.load_thread_items("thr_1", None, 1, "desc", context)
        page.data[0].content[0].text = "changed"
        again = await store.load_thread_items("thr_1", None, 1, "desc", context)
        item = await store.load_item("thr_1", "msg_0", context)
        assert await store.load_item("thr_1", "msg_0", context) == item
    assert len(log) == 3
    assert second.title is None and second == thread_meta("thr_1")
    assert again.data[0].content[0].text == "hello"

    with capture_queries() as log:
        await store.save_item("thr_1", message("msg_0", text="edited"), context)
        assert (await store.load_item("thr_1", "msg_0", context)).content[0].text == "edited"
        assert (await store.load_thread_items("thr_1", None, 1, "desc", context)).data
        await store.save_thread(thread_meta("thr_1", title="Saved"), context)
        assert (await store.load_thread("thr_1", context)).title == "Saved"
    # Each write (the item's with its thread's last activity: 2) and each read after it
    # went to the database.
    assert len(log) == 6

    # Another request (a new context) reads again; so does a context without reads.
    with capture_queries() as log:
        await store.load_thread("thr_1", ChatKitContext(user=user, reads=RequestReads()))
        plain = ChatKitContext(user=user)
        await store.load_thread("thr_1", plain)
        await store.load_thread("thr_1", plain)
    assert len(log) == 3
