"""Human hand-off: staff take a thread over from the assistant, and hand it back.

A thread is *handled by a human* while ``Thread.handled_by_human`` is set. Then:

- :class:`~django_chatkit.server.DjangoChatKitServer` stores what the user sends but
  does not call ``respond()`` (the bot stays silent; see
  ``DjangoChatKitServer.respond_handled_by_human``);
- staff with the ``django_chatkit.reply_as_assistant`` permission answer from the
  thread's admin page (``<thread>/reply/``), and each reply reaches the open chat at once
  (:func:`django_chatkit.live.add_assistant_message`).

:class:`~django_chatkit.store.DjangoStore` puts the flag into the loaded thread's
metadata, so a server that does not subclass ``DjangoChatKitServer`` respects it with
one check at the top of its ``respond()``::

    from django_chatkit.handoff import is_handled_by_human

    async def respond(self, thread, input_user_message, context):
        if is_handled_by_human(thread):
            return
        ...
"""

from __future__ import annotations

from chatkit import types as ck

from django_chatkit.db import run_db
from django_chatkit.models import HANDLED_BY_HUMAN, Thread

__all__ = [
    "HANDLED_BY_HUMAN",
    "aset_handled_by_human",
    "is_handled_by_human",
    "set_handled_by_human",
]


def is_handled_by_human(thread: ck.ThreadMetadata) -> bool:
    """Whether staff handle ``thread`` (a thread as the store loaded it)."""
    return bool(thread.metadata.get(HANDLED_BY_HUMAN))


def set_handled_by_human(thread: Thread, value: bool = True) -> bool:
    """Hand ``thread`` over to staff (``value=True``) or back to the assistant.

    Returns ``True`` if the flag changed. Only the flag is written: a stream that saves
    the same thread meanwhile cannot undo it.
    """
    changed = bool(
        Thread.objects.filter(pk=thread.pk)
        .exclude(handled_by_human=value)
        .update(handled_by_human=value)
    )
    thread.handled_by_human = value
    return changed


async def aset_handled_by_human(thread: Thread, value: bool = True) -> bool:
    """Async :func:`set_handled_by_human`."""
    return await run_db(set_handled_by_human, thread, value)
