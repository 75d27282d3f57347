"""``DjangoChatKitServer`` and the per-process server instance named by ``CHATKIT_SERVER``."""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator
from functools import cache
from typing import Any

from chatkit import types as ck
from chatkit.server import ChatKitServer, NonStreamingResult, StreamingResult
from chatkit.store import AttachmentStore, Store
from chatkit.types import FeedbackKind
from django.core.signals import setting_changed
from django.dispatch import receiver
from django.utils.module_loading import import_string
from pydantic import BaseModel, TypeAdapter

from django_chatkit import handoff
from django_chatkit.attachments.backend import DjangoAttachmentStore
from django_chatkit.conf import conf
from django_chatkit.context import ChatKitContext
from django_chatkit.durable.checkpoints import DurableServer
from django_chatkit.exceptions import ServerSettingError, ThreadNotActive
from django_chatkit.ids import require_findable
from django_chatkit.managers import Owner
from django_chatkit.store.backend import DjangoStore
from django_chatkit.store.feedback import record_feedback


class DjangoChatKitServer(ChatKitServer[ChatKitContext]):
    """A ``ChatKitServer`` that stores threads and files through Django.

    Subclass it, implement ``respond()``, and name the subclass in ``CHATKIT_SERVER``.
    ``store`` defaults to :class:`~django_chatkit.store.DjangoStore` and
    ``attachment_store`` to :class:`~django_chatkit.attachments.DjangoAttachmentStore`.

    While a thread is handled by a human (:mod:`django_chatkit.handoff`), ``process()``
    stores what the user sends but does not call ``respond()``: it streams
    :meth:`respond_handled_by_human` instead (nothing by default), and refuses
    ``threads.retry_after_item``, which would delete the staff's replies.

    ``durable_responses`` overrides ``CHATKIT_DURABLE_RESPONSES`` for this server
    (:mod:`django_chatkit.durable`); ``None`` follows the setting.
    """

    durable_responses: bool | None = None

    def __init__(
        self,
        store: Store[ChatKitContext] | None = None,
        attachment_store: AttachmentStore[ChatKitContext] | None = None,
    ) -> None:
        super().__init__(
            DjangoStore() if store is None else store,
            DjangoAttachmentStore() if attachment_store is None else attachment_store,
        )

    async def add_feedback(
        self,
        thread_id: str,
        item_ids: list[str],
        feedback: FeedbackKind,
        context: ChatKitContext,
    ) -> None:
        """Persist ``items.feedback`` (one row per user and item; the admin shows it).

        Only items of the user's own thread: a missing or foreign thread or item raises
        ``NotFoundError`` (404) and saves nothing. Once saved, sends
        ``django_chatkit.signals.feedback_saved``.
        """
        owner = Owner.of(context)
        require_findable(thread=thread_id)  # a NUL would fail in PostgreSQL: 404 instead
        for item_id in item_ids:
            require_findable(item=item_id)
        await record_feedback(type(self), owner, thread_id, item_ids, feedback, context)

    # human hand-off ------------------------------------------------------------

    async def process(
        self, request: str | bytes | bytearray | ck.ChatKitReq, context: ChatKitContext
    ) -> StreamingResult | NonStreamingResult:
        """Process a ChatKit request: its JSON body, or the request already parsed
        (:func:`parse_request`; ``ChatKitView`` parses it once, to check it first).

        The bot does not answer threads a human handles.
        """
        parsed = request if isinstance(request, BaseModel) else parse_request(request)
        server: ChatKitServer[ChatKitContext] = self
        if ck.is_streaming_req(parsed) and not isinstance(parsed, ck.ThreadsCreateReq):
            thread = await self.store.load_thread(parsed.params.thread_id, context)
            if await self.is_handled_by_human(thread, context):
                if isinstance(parsed, ck.ThreadsRetryAfterItemReq):
                    raise ThreadNotActive(f"Thread {thread.id} is handled by a human")
                server = _HumanHandledServer(self)
        if context.running is not None and ck.is_streaming_req(parsed):
            server = DurableServer(server)  # the view admitted a durable answer
        return await _dispatch(server, parsed, context)

    async def is_handled_by_human(self, thread: ck.ThreadMetadata, context: ChatKitContext) -> bool:
        """Whether staff handle ``thread`` (its ``handled_by_human`` metadata, set by the
        store from ``Thread.handled_by_human``). Override to decide otherwise."""
        return handoff.is_handled_by_human(thread)

    async def respond_handled_by_human(
        self,
        thread: ck.ThreadMetadata,
        input_user_message: ck.UserMessageItem | None,
        context: ChatKitContext,
    ) -> AsyncIterator[ck.ThreadStreamEvent]:
        """Stream events for input to a thread a human handles, in place of ``respond()``.

        The user's message is already saved. The default streams nothing; override it to
        e.g. acknowledge the message or alert the staff.
        """
        return
        yield  # type: ignore[unreachable]  # makes this an async generator


class _HumanHandledServer(ChatKitServer[ChatKitContext]):
    """The SDK's request flows for one request to a thread a human handles.

    Same stores, actions and stream options as ``server``; only ``respond()`` differs.
    """

    def __init__(self, server: DjangoChatKitServer) -> None:
        super().__init__(server.store, server.attachment_store)
        self.server = server

    def respond(
        self,
        thread: ck.ThreadMetadata,
        input_user_message: ck.UserMessageItem | None,
        context: ChatKitContext,
    ) -> AsyncIterator[ck.ThreadStreamEvent]:
        return self.server.respond_handled_by_human(thread, input_user_message, context)

    def action(self, *args: Any, **kwargs: Any) -> AsyncIterator[ck.ThreadStreamEvent]:
        return self.server.action(*args, **kwargs)

    def get_stream_options(self, *args: Any, **kwargs: Any) -> ck.StreamOptions:
        return self.server.get_stream_options(*args, **kwargs)

    async def handle_stream_cancelled(self, *args: Any, **kwargs: Any) -> None:
        await self.server.handle_stream_cancelled(*args, **kwargs)


_REQUEST_ADAPTER: TypeAdapter[ck.ChatKitReq] = TypeAdapter(ck.ChatKitReq)


def parse_request(body: str | bytes | bytearray) -> ck.ChatKitReq:
    """Parse a ChatKit request body; raises pydantic's ``ValidationError``."""
    return _REQUEST_ADAPTER.validate_json(body)


async def process_parsed(
    server: ChatKitServer[ChatKitContext],
    request: ck.ChatKitReq,
    body: str | bytes | bytearray,
    context: ChatKitContext,
) -> StreamingResult | NonStreamingResult:
    """Run a request already parsed from ``body``: a ``DjangoChatKitServer`` takes the
    parsed request (no second parse), any other ``ChatKitServer`` the body."""
    if isinstance(server, DjangoChatKitServer):
        return await server.process(request, context)
    return await server.process(body, context)


async def _dispatch(
    server: ChatKitServer[ChatKitContext], request: ck.ChatKitReq, context: ChatKitContext
) -> StreamingResult | NonStreamingResult:
    """What ``ChatKitServer.process()`` does once it has parsed the body.

    The SDK's ``process()`` builds a new ``TypeAdapter(ChatKitReq)`` for every request
    (2 to 5 ms of CPU, more than the rest of a ``threads.list``); this parses with one
    adapter built at import. It calls the SDK's two request flows directly, so
    ``tests/test_server.py`` pins their signatures and checks the answers match
    ``ChatKitServer.process()``'s.
    """
    if ck.is_streaming_req(request):
        return StreamingResult(server._process_streaming(request, context))
    return NonStreamingResult(await server._process_non_streaming(request, context))


def import_server_class(path: str | None) -> type[ChatKitServer[ChatKitContext]]:
    """Import the class named by ``CHATKIT_SERVER``; every error names the setting.

    Raises :class:`ServerSettingError` (an ``ImproperlyConfigured``): the problems the
    system checks ``E001`` to ``E004`` report (:func:`django_chatkit.checks.check_server`
    calls this), raised for servers that run no checks (daphne, uvicorn).
    """
    if not path:
        raise ServerSettingError(
            "CHATKIT_SERVER is not set: name your ChatKitServer subclass, "
            "e.g. CHATKIT_SERVER = 'myproject.chat.MyServer'.",
            "django_chatkit.E001",
        )
    try:
        server_class = import_string(path)
    except Exception as exc:  # ImportError, or any error raised by the module itself
        raise ServerSettingError(
            f"CHATKIT_SERVER = {path!r} could not be imported: {exc!r}", "django_chatkit.E002"
        ) from exc
    if not (isinstance(server_class, type) and issubclass(server_class, ChatKitServer)):
        raise ServerSettingError(
            f"CHATKIT_SERVER = {path!r} is not a subclass of chatkit.server.ChatKitServer.",
            "django_chatkit.E003",
        )
    if inspect.isabstract(server_class):
        missing = ", ".join(sorted(server_class.__abstractmethods__))
        raise ServerSettingError(
            f"CHATKIT_SERVER = {path!r} is abstract: implement {missing}.", "django_chatkit.E004"
        )
    return server_class


@cache
def get_server() -> ChatKitServer[ChatKitContext]:
    """The project's server, created once per process (forgotten when the setting changes)."""
    # The setting names a class built without arguments (DjangoChatKitServer's store and
    # attachment store default); the SDK's ChatKitServer itself needs a store.
    return import_server_class(conf.CHATKIT_SERVER)()  # type: ignore[call-arg]


@receiver(setting_changed, dispatch_uid="django_chatkit.server.get_server")
def forget_server(*, setting: str, **kwargs: Any) -> None:
    """``setting_changed`` receiver: a new ``CHATKIT_SERVER`` means a new server."""
    if setting == "CHATKIT_SERVER":
        get_server.cache_clear()
