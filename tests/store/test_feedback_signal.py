"""``signals.feedback_saved``: sent once ``items.feedback`` is saved, never when refused."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from typing import Any

import pytest
from chatkit.store import NotFoundError

from django_chatkit import signals
from django_chatkit.context import ChatKitContext
from django_chatkit.models import Feedback
from django_chatkit.server import get_server
from tests.support import ROOT
from tests.support.factories import feedback_request, feedback_setup

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def received() -> Iterator[list[dict[str, Any]]]:
    calls: list[dict[str, Any]] = []

    async def receiver(sender: Any, **kwargs: Any) -> None:
        # Sent after the rows are committed: a receiver can read them.
        kwargs["stored"] = sorted(
            [row async for row in Feedback.objects.values_list("item_chatkit_id", "kind")]
        )
        calls.append({"sender": sender, **kwargs})

    signals.feedback_saved.connect(receiver)
    try:
        yield calls
    finally:
        signals.feedback_saved.disconnect(receiver)


async def test_feedback_saved_is_sent_with_the_items_and_kind(received):
    alice, bob, thread, rows, *_ = await feedback_setup()
    server, context = get_server(), ChatKitContext(user=alice)
    answer, widget = rows[6].chatkit_id, rows[7].chatkit_id

    await server.process(
        feedback_request(thread.chatkit_id, [widget, answer, widget], "negative"), context
    )

    [call] = received
    assert call["sender"] is type(server)
    assert call["thread_id"] == thread.chatkit_id
    assert call["item_ids"] == [widget, answer]
    assert call["kind"] == "negative"
    assert call["context"] is context
    assert call["stored"] == sorted([(answer, "negative"), (widget, "negative")])

    with pytest.raises(NotFoundError):  # somebody else's thread: nothing saved, nothing sent
        await server.process(
            feedback_request(thread.chatkit_id, [answer], "positive"), ChatKitContext(user=bob)
        )
    assert len(received) == 1


def documented_block(marker: str) -> str:
    """The ``.. code-block:: python`` of docs/signals.rst that contains ``marker``."""
    page = (ROOT / "docs" / "signals.rst").read_text()
    blocks = re.findall(r"^\.\. code-block:: python\n\n((?:   .*\n|\n)+)", page, flags=re.MULTILINE)
    [block] = [textwrap.dedent(block) for block in blocks if marker in block]
    return block


async def test_the_documented_receiver_works(capsys):
    alice, _bob, thread, rows, *_ = await feedback_setup()
    namespace: dict[str, Any] = {}
    exec(documented_block("notify_on_negative_feedback"), namespace)
    try:
        await get_server().process(
            feedback_request(thread.chatkit_id, [rows[6].chatkit_id], "negative"),
            ChatKitContext(user=alice),
        )
    finally:
        signals.feedback_saved.disconnect(namespace["notify_on_negative_feedback"])
    assert capsys.readouterr().out == (
        f"alice disliked {[rows[6].chatkit_id]} in {thread.chatkit_id}\n"
    )
