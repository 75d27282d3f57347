"""``CHATKIT_SERVER`` of the Django stacks (b, b', c, c', f): the echo responder."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from chatkit import types as ck
from django.conf import settings
from django.db import connection

from django_chatkit.context import ChatKitContext
from django_chatkit.db import run_db
from django_chatkit.server import DjangoChatKitServer

from .echo import MemoryStore, echo_respond

FLOOR_TABLE = "bench_floor"
FLOOR_PAYLOAD = "x" * 200  # about the size of a stored thread or message


def _floor_write() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {FLOOR_TABLE} (payload) VALUES (%s)", [FLOOR_PAYLOAD])


def _floor_read() -> None:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT payload FROM {FLOOR_TABLE} ORDER BY id DESC LIMIT 20")
        cursor.fetchall()


class FloorStore(MemoryStore):
    """Stack (f): the dict store, plus the least a store that persists through Django's
    database layer does per call: one worker-thread hop (``run_db``, as ``DjangoStore``)
    and one SQL statement on a pooled connection (an INSERT per write, a 20-row SELECT
    per read; no serialization, no ownership filter). Its answers are (b)'s.
    """

    async def save_thread(self, thread: ck.ThreadMetadata, context: Any) -> None:
        await run_db(_floor_write)
        await super().save_thread(thread, context)

    async def add_thread_item(self, thread_id: str, item: ck.ThreadItem, context: Any) -> None:
        await run_db(_floor_write)
        await super().add_thread_item(thread_id, item, context)

    async def load_threads(self, *args: Any, **kwargs: Any) -> ck.Page[ck.ThreadMetadata]:
        await run_db(_floor_read)
        return await super().load_threads(*args, **kwargs)

    async def load_thread_items(self, *args: Any, **kwargs: Any) -> ck.Page[ck.ThreadItem]:
        await run_db(_floor_read)
        return await super().load_thread_items(*args, **kwargs)


def create_floor_table() -> None:
    """The table of stack (f) (bench.py creates it with the schema)."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {FLOOR_TABLE}")
        key = "serial PRIMARY KEY" if connection.vendor == "postgresql" else "integer PRIMARY KEY"
        cursor.execute(f"CREATE TABLE {FLOOR_TABLE} (id {key}, payload text NOT NULL)")


class BenchServer(DjangoChatKitServer):
    def __init__(self) -> None:
        # None: DjangoChatKitServer's own DjangoStore (stack c).
        store = {"memory": MemoryStore, "floor": FloorStore}.get(settings.BENCH_STORE)
        super().__init__(store=store() if store else None)

    def respond(
        self,
        thread: ck.ThreadMetadata,
        input_user_message: ck.UserMessageItem | None,
        context: ChatKitContext,
    ) -> AsyncIterator[ck.ThreadStreamEvent]:
        return echo_respond(self.store, thread, input_user_message, context)
