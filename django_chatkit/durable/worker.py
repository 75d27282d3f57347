"""This process's durable answers: where they run, how they are stopped, and shutdown.

One :class:`Worker` per process (:func:`worker`). It keeps the answers it runs
(:class:`Run`, by thread primary key), and from its first durable answer on it runs one
maintenance task: every ``CHATKIT_RESPONSE_HEARTBEAT`` seconds it beats the rows of its
answers and marks the answers of dead workers interrupted
(:func:`~django_chatkit.durable.running.interrupt_stale`). With a channel layer, it also
listens on a channel of its own (its name is the worker's id, stored in each row it runs)
for cancels sent by :func:`~django_chatkit.durable.cancel.request_cancel` from any
process.

On ``SIGTERM`` the worker starts no new answer (503), lets the running ones finish for
``CHATKIT_SHUTDOWN_GRACE`` seconds, cancels the rest through the SDK's cancellation path
(partial answers saved), then hands the signal to the handler that was installed before
(daphne's, uvicorn's), which stops the server.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import socket
import threading
from dataclasses import dataclass, field
from types import FrameType
from typing import Any, Protocol

from channels.layers import get_channel_layer

from django_chatkit.conf import conf
from django_chatkit.db import run_db
from django_chatkit.durable import running
from django_chatkit.ids import new_id

logger = logging.getLogger("django_chatkit")

#: The channel layer message that cancels an answer.
CANCEL_MESSAGE = "chatkit.cancel"


class Stoppable(Protocol):
    """What a run needs of the stream it runs in (``views.streaming.EventStream``)."""

    @property
    def detached(self) -> bool: ...

    def start(self) -> None: ...

    def cancel(self) -> None: ...

    async def wait(self) -> None: ...


@dataclass(eq=False)
class Run:
    """One durable answer of this worker. ``thread_pk`` is set once it is claimed."""

    user_id: Any
    thread_id: str = ""  # the ChatKit id
    new_thread: bool = False  # threads.create: claimed once the SDK saved the thread
    checkpoint_interval: float = 1.0
    stream: Stoppable | None = None
    thread_pk: int = 0
    cancel_requested: bool = False
    _done: asyncio.Event = field(default_factory=asyncio.Event)

    def cancel(self) -> None:
        """Stop the answer through the SDK's cancellation path (once it streams)."""
        self.cancel_requested = True
        if self.stream is not None:
            self.stream.cancel()


class Worker:
    """The durable answers of this process."""

    def __init__(self) -> None:
        self.runs: dict[int, Run] = {}
        self.pending: set[Run] = set()  # started, not yet claimed (threads.create)
        self.id = f"{socket.gethostname()}:{os.getpid()}:{new_id('w')}"
        self.channel: str | None = None
        self.shutting_down = False
        self._tasks: set[asyncio.Task[Any]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._previous_handler: Any = None

    # starting ------------------------------------------------------------------------

    async def start(self) -> None:
        """Start the maintenance task (and the cancel listener) once, on this loop."""
        loop = asyncio.get_running_loop()
        if self._loop is loop:
            return
        self._loop = loop
        layer = get_channel_layer()
        if layer is not None:
            self.channel = await layer.new_channel("django_chatkit.worker.")
            self.id = self.channel
            self._spawn(self._listen(layer, self.channel))
        self._spawn(self._maintain())
        self._install_signal_handler()

    async def stop(self) -> None:
        """Stop the maintenance task and the listener (the next answer starts them)."""
        tasks, self._tasks, self._loop = list(self._tasks), set(), None
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    def _spawn(self, coroutine: Any) -> None:
        task = asyncio.get_running_loop().create_task(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # runs ----------------------------------------------------------------------------

    def count(self) -> int:
        return len(self.runs) + len(self.pending)

    def add(self, run: Run) -> None:
        if run.thread_pk:
            self.runs[run.thread_pk] = run
        else:
            self.pending.add(run)

    def claimed(self, run: Run, thread_pk: int, thread_id: str) -> None:
        """A run that started without a thread (``threads.create``) claimed one."""
        self.pending.discard(run)
        run.thread_pk = thread_pk
        run.thread_id = thread_id
        self.runs[thread_pk] = run

    def remove(self, run: Run) -> None:
        self.pending.discard(run)
        if self.runs.get(run.thread_pk) is run:
            del self.runs[run.thread_pk]
        run._done.set()

    def cancel_local(self, thread_pk: int) -> bool:
        run = self.runs.get(thread_pk)
        if run is None:
            return False
        run.cancel()
        return True

    # tasks ---------------------------------------------------------------------------

    async def _listen(self, layer: Any, channel: str) -> None:
        while True:
            try:
                message = await layer.receive(channel)
            except Exception:  # a lost Redis connection: listen again (cancels go through)
                logger.warning("django_chatkit: the cancel listener failed", exc_info=True)
                await asyncio.sleep(1)
                continue
            if message.get("type") == CANCEL_MESSAGE:
                self.cancel_local(int(message.get("thread", 0)))

    async def _maintain(self) -> None:
        while True:
            await asyncio.sleep(conf.CHATKIT_RESPONSE_HEARTBEAT)
            try:
                if self.runs:
                    await run_db(running.beat, self.id)
                await run_db(running.interrupt_stale)
            except Exception:
                logger.warning("django_chatkit: the heartbeat failed", exc_info=True)

    # shutdown ------------------------------------------------------------------------

    def _install_signal_handler(self) -> None:
        if threading.current_thread() is not threading.main_thread():
            return  # signals are the main thread's (tests run servers in threads)
        with contextlib.suppress(ValueError, OSError):
            current = signal.getsignal(signal.SIGTERM)
            if current != self._on_sigterm:  # installed once, whatever the loop
                self._previous_handler = current
                signal.signal(signal.SIGTERM, self._on_sigterm)

    def _on_sigterm(self, signum: int, frame: FrameType | None) -> None:
        loop = self._loop
        if loop is None or loop.is_closed() or self.shutting_down:
            self._hand_on(signum, frame)
            return
        self.shutting_down = True
        loop.call_soon_threadsafe(self._spawn, self._shut_down(signum))

    async def _shut_down(self, signum: int) -> None:
        """Let running answers finish for the grace period, cancel the rest, stop."""
        runs = list(self.runs.values()) + list(self.pending)
        logger.warning(
            "django_chatkit: SIGTERM: letting %d running answers finish for %.0f s",
            len(runs),
            conf.CHATKIT_SHUTDOWN_GRACE,
        )
        waits = [asyncio.ensure_future(run._done.wait()) for run in runs]
        if waits:
            _, late = await asyncio.wait(waits, timeout=conf.CHATKIT_SHUTDOWN_GRACE)
            if late:
                logger.warning("django_chatkit: cancelling %d answers still running", len(late))
                for run in runs:
                    if not run._done.is_set():
                        run.cancel()
                await asyncio.wait(waits, timeout=30)
        self._hand_on(signum, None)

    def _hand_on(self, signum: int, frame: FrameType | None) -> None:
        previous = self._previous_handler
        if callable(previous):
            previous(signum, frame)
        elif previous != signal.SIG_IGN:
            signal.signal(signum, signal.SIG_DFL)
            os.kill(os.getpid(), signum)


_worker: Worker | None = None


def worker() -> Worker:
    """This process's :class:`Worker`."""
    global _worker
    if _worker is None:
        _worker = Worker()
    return _worker
