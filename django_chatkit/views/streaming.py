"""Serving a ChatKit ``StreamingResult`` as Server-Sent Events without losing data.

The SDK saves a partial answer and its "user cancelled" marker only when cancellation
lands *inside* its generator (``handle_stream_cancelled``). Django cancels the request
task wherever it is when the client disconnects: often inside ``send()``, where the
SDK generator would merely be closed and the partial answer lost.

So the SDK generator runs in a task of its own (the producer) and hands each chunk to
the response through a queue. Every await of the producer is inside the SDK generator,
so when the response goes away — its iterator cancelled or closed, or ``close()``
called by the handler — cancelling the producer lands inside the SDK generator.

The SDK handles cancellation only inside ``_process_events``, which begins by sending
the ``stream_options`` event. Before it (while the thread and the user's message are
saved) a cancellation would leave a user message with no answer and no marker, so the
view delays a cancel requested that early until ``stream_options`` went by
(``cancellable_after``): the SDK then saves whatever was answered and its marker.

A durable stream (``durable=True``, :mod:`django_chatkit.durable`) is not cancelled when
its response goes away: the producer runs on to its end, its frames dropped, and only
an explicit :meth:`EventStream.cancel` stops it.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
from collections.abc import AsyncIterable, AsyncIterator, Callable
from typing import Any

from chatkit.errors import ErrorCode
from chatkit.types import ErrorEvent
from django.http import StreamingHttpResponse

logger = logging.getLogger("django_chatkit")

KEEPALIVE_CHUNK = b": keep-alive\n\n"
_DONE = object()
# Producers still running after their response ended (saving a cancelled answer): the
# event loop only keeps weak references to tasks.
_producers: set[asyncio.Task[None]] = set()


def sse_event(event: Any) -> bytes:
    """One SSE frame for a ChatKit event, serialized as the SDK does."""
    body = event.model_dump_json(
        by_alias=True, exclude_none=True, context={"exclude_metadata": True}
    )
    return b"data: " + body.encode() + b"\n\n"


STREAM_ERROR_CHUNK = sse_event(ErrorEvent(code=ErrorCode.STREAM_ERROR, allow_retry=True))
#: The SDK's first frame inside the part of a stream where it handles cancellation.
STREAM_OPTIONS_PREFIX = b'data: {"type":"stream_options"'


class EventStream:
    """Runs ``source`` in its own task; iterate :meth:`chunks` to receive its frames.

    ``outcome`` ends as ``"completed"``, ``"error"`` (the stream ended with an
    ``error`` event) or ``"cancelled"`` (the client went away). ``on_finish`` is called
    once, when the producer ends. With ``cancellable_after`` (a frame prefix), a cancel
    requested before the source produced such a frame waits until it has. A
    ``durable`` stream outlives its response: see the module's docstring.
    """

    def __init__(
        self,
        source: AsyncIterable[bytes],
        *,
        keepalive: float = 0.0,
        thread_id: str | None = None,
        on_finish: Callable[[EventStream], None] | None = None,
        cancellable_after: bytes | None = None,
        durable: bool = False,
    ) -> None:
        self._source = source
        self.durable = durable
        self._detached = False
        try:  # where a durable stream starts if its response never does
            self._created_on: asyncio.AbstractEventLoop | None = asyncio.get_running_loop()
        except RuntimeError:
            self._created_on = None
        self._cancellable_after = cancellable_after
        self._cancel_deferred = False
        self._keepalive = keepalive if keepalive > 0 else None
        self._on_finish = on_finish
        self._queue: asyncio.Queue[Any] = asyncio.Queue()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: int | None = None
        self._cancel_lock = threading.Lock()
        self._cancelled = False
        self.thread_id = thread_id
        self.outcome = "completed"

    async def _produce(self) -> None:
        try:
            async for chunk in self._source:
                if self.thread_id is None and chunk.startswith(b'data: {"type":"thread.created"'):
                    self.thread_id = json.loads(chunk[6:])["thread"]["id"]
                elif chunk.startswith(b'data: {"type":"error"'):
                    self.outcome = "error"  # the SDK ended the stream on a failure
                elif self._cancellable_after and chunk.startswith(self._cancellable_after):
                    self._cancellable_after = None
                    if self._cancel_deferred:  # lands at the SDK's next await
                        asyncio.current_task().cancel()  # type: ignore[union-attr]
                if not self._detached:
                    self._queue.put_nowait(chunk)
        except asyncio.CancelledError:
            self.outcome = "cancelled"
            raise
        except Exception:
            # The SDK logs its own failures; this ends the stream with an error event
            # instead of cutting it off.
            logger.warning("ChatKit stream ended with an error", exc_info=True)
            self.outcome = "error"
            self._queue.put_nowait(STREAM_ERROR_CHUNK)
        finally:
            self._queue.put_nowait(_DONE)
            if self._on_finish is not None:
                self._on_finish(self)

    def start(self) -> None:
        """Start producing (idempotent); called by the first iteration at the latest."""
        if self._task is None:
            self._loop = asyncio.get_running_loop()
            self._loop_thread = threading.get_ident()
            self._task = self._loop.create_task(self._produce())
            _producers.add(self._task)
            self._task.add_done_callback(_producers.discard)

    async def chunks(self) -> AsyncIterator[bytes]:
        """The frames, as they come; frames already waiting go out together (one write
        instead of one per frame, and no frame waits for another)."""
        self.start()
        try:
            while True:
                try:
                    async with asyncio.timeout(self._keepalive):
                        chunk = await self._queue.get()
                except TimeoutError:
                    yield KEEPALIVE_CHUNK
                    continue
                if chunk is _DONE:
                    return
                waiting, finished = [chunk], False
                while not self._queue.empty():
                    more = self._queue.get_nowait()
                    if more is _DONE:
                        finished = True
                        break
                    waiting.append(more)
                yield waiting[0] if len(waiting) == 1 else b"".join(waiting)
                if finished:
                    return
        finally:
            self.response_ended()

    @property
    def detached(self) -> bool:
        """Whether a durable stream's response is gone (the producer runs on unread)."""
        return self._detached

    def response_ended(self) -> None:
        """The response is gone (ended, disconnected or closed; from any thread): cancel
        the producer, or, if the stream is durable, let it run on without a reader (and
        start it, if the client went away before the response started)."""
        if not self.durable:
            self.cancel()
            return
        self._detached = True
        if self._task is None and self._created_on is not None:
            self._created_on.call_soon_threadsafe(self.start)

    def cancel(self) -> None:
        """Stop the producer if it still runs; safe from any thread, any number of times.

        Only the first call cancels: a second cancellation would interrupt the SDK's
        ``handle_stream_cancelled`` while it saves the partial answer (the iterator's
        end and the handler's ``close()`` both call this).
        """
        task, loop = self._task, self._loop
        if task is None or loop is None or task.done():
            return
        with self._cancel_lock:
            if self._cancelled:
                return
            self._cancelled = True
        if threading.get_ident() == self._loop_thread:
            self._cancel_task(task)
        else:
            loop.call_soon_threadsafe(self._cancel_task, task)

    def _cancel_task(self, task: asyncio.Task[None]) -> None:
        # On the loop's thread, so the producer sees the deferral (or the cancel) between
        # two of its steps.
        if self._cancellable_after is not None:
            self._cancel_deferred = True
        else:
            task.cancel()

    async def wait(self) -> None:
        """Wait until the producer has ended (including its cancellation handling)."""
        if self._task is not None:
            await asyncio.wait([self._task])


class EventStreamResponse(StreamingHttpResponse):
    """``text/event-stream`` response over an :class:`EventStream`.

    ``close()`` (called by Django's handlers when the response ends, also after a
    disconnect) stops the producer (unless the stream is durable), so cancellation
    reaches the SDK even when the iterator itself was abandoned.
    """

    def __init__(self, stream: EventStream, **kwargs: Any) -> None:
        super().__init__(stream.chunks(), content_type="text/event-stream", **kwargs)
        self.event_stream = stream
        self.headers["Cache-Control"] = "no-cache"
        self.headers["X-Accel-Buffering"] = "no"

    def close(self) -> None:
        self.event_stream.response_ended()
        super().close()
