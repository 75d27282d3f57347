"""``CHATKIT_SERVER`` of stacks (b) and (c): the echo responder on ``DjangoChatKitServer``."""

from __future__ import annotations

from collections.abc import AsyncIterator

from chatkit import types as ck
from django.conf import settings

from django_chatkit.context import ChatKitContext
from django_chatkit.server import DjangoChatKitServer

from .echo import MemoryStore, echo_respond


class BenchServer(DjangoChatKitServer):
    def __init__(self) -> None:
        super().__init__(store=MemoryStore() if settings.BENCH_STORE == "memory" else None)

    def respond(
        self,
        thread: ck.ThreadMetadata,
        input_user_message: ck.UserMessageItem | None,
        context: ChatKitContext,
    ) -> AsyncIterator[ck.ThreadStreamEvent]:
        return echo_respond(self.store, thread, input_user_message, context)
