"""Fixtures of the durable answers tests."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from django_chatkit.durable.worker import worker


@pytest.fixture
async def stopped_worker() -> AsyncIterator[None]:
    """The worker's tasks run on each in-process test's event loop: forget its answers
    and stop them with the test."""
    yield
    here = worker()
    here.runs.clear()
    here.pending.clear()
    here.shutting_down = False
    await here.stop()
