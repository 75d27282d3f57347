"""Token allowances: ``CHATKIT_USAGE_LIMITS`` checked before a response starts (``429
quota_exceeded`` with ``Retry-After``), the threshold signal, and two live workers that
share one count."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from django_chatkit import signals
from django_chatkit.context import ChatKitContext
from django_chatkit.exceptions import QuotaExceeded
from django_chatkit.models import DailyUsage
from django_chatkit.usage import allowances, check_usage_limits, record_usage
from django_chatkit.usage.quotas import Allowance, local_day, seconds_until
from tests.support.live import LiveServer, live_client, server_env, start_server, stop_server
from tests.support.protocol import URL, add_message, new_thread, sse_events

pytestmark = pytest.mark.django_db(transaction=True)

LIMITS = {
    "tokens_per_day": 1000,
    "tokens_per_month": 5000,
    "scopes": {"support": {"tokens_per_day": 300}},
}
USAGE_SERVER = "tests.support.servers.UsageServer"


def test_the_setting_parses_and_refuses_nonsense(settings: Any) -> None:
    settings.CHATKIT_USAGE_LIMITS = LIMITS
    assert allowances() == [
        Allowance("day", 1000),
        Allowance("month", 5000),
        Allowance("day", 300, "support"),
    ]
    for wrong in ({"tokens_per_week": 5}, {"tokens_per_day": 0}, {"scopes": {"a": {"scopes": {}}}}):
        settings.CHATKIT_USAGE_LIMITS = wrong
        with pytest.raises(ValueError):
            allowances()


def test_periods_end_at_local_midnight(settings: Any) -> None:
    day = Allowance("day", 1)
    month = Allowance("month", 1)
    assert day.end(datetime(2025, 12, 31).date()) == datetime(2026, 1, 1).date()
    assert month.end(datetime(2025, 12, 31).date()) == datetime(2026, 1, 1).date()
    assert month.start(datetime(2025, 2, 14).date()) == datetime(2025, 2, 1).date()
    # 23:00 in Paris (TIME_ZONE) is an hour before the day ends, whatever UTC says.
    now = timezone.make_aware(datetime(2025, 6, 1, 23, 0), timezone.get_default_timezone())
    assert local_day(now) == datetime(2025, 6, 1).date()
    assert seconds_until(day.end(local_day(now)), now) == 3600


def test_a_check_is_one_query_and_none_without_the_setting(as_alice: Any, settings: Any) -> None:
    # async_to_sync: the async ORM's statements run in this thread, on this connection.
    with CaptureQueriesContext(connection) as queries:
        async_to_sync(check_usage_limits)(as_alice)
    assert len(queries) == 0
    settings.CHATKIT_USAGE_LIMITS = LIMITS
    with CaptureQueriesContext(connection) as queries:
        async_to_sync(check_usage_limits)(as_alice)
    assert len(queries) == 1


@override_settings(CHATKIT_USAGE_LIMITS=LIMITS, CHATKIT_SERVER=USAGE_SERVER)
async def test_over_an_allowance_the_endpoint_answers_429_quota_exceeded(
    chat: Any, alice: Any
) -> None:
    support = ChatKitContext(user=alice, scope="support")
    await record_usage(support, None, "m", {"input_tokens": 300})
    await check_usage_limits(ChatKitContext(user=alice))  # the site-wide day has room
    with pytest.raises(QuotaExceeded) as refused:
        await check_usage_limits(support)
    assert refused.value.code == "quota_exceeded"
    assert "300 of your 300 tokens today in 'support'" in refused.value.message

    await record_usage(ChatKitContext(user=alice), None, "m", {"input_tokens": 700})
    response = await chat.post(URL, new_thread("echo hi"), content_type="application/json")
    assert response.status_code == 429
    body = response.json()
    assert body["error"] == "quota_exceeded"
    assert body["message"].startswith("You have used 1,000 of your 1,000 tokens today. Try again")
    retry_after = int(response.headers["Retry-After"])
    assert 0 < retry_after <= seconds_until(local_day() + timedelta(days=1))
    # Reading still works: only what starts a response is refused.
    listed = await chat.post(URL, {"type": "threads.list", "params": {}}, "application/json")
    assert listed.status_code == 200


@override_settings(CHATKIT_USAGE_LIMITS=LIMITS, CHATKIT_USAGE_THRESHOLDS=(0.8, 1.0))
@pytest.mark.usefixtures("fresh_cache")
async def test_the_threshold_signal_is_sent_once_per_threshold(alice: Any, as_alice: Any) -> None:
    received: list[tuple[Any, ...]] = []

    def receiver(sender: Any, **kwargs: Any) -> None:
        received.append((kwargs["period"], kwargs["scope"], kwargs["threshold"], kwargs["used"]))

    signals.usage_threshold_crossed.connect(receiver)
    try:
        for tokens in (500, 350, 100, 100, 500):
            await record_usage(as_alice, None, "m", {"output_tokens": tokens})
    finally:
        signals.usage_threshold_crossed.disconnect(receiver)
    # 500, 850 (80% of the day), 950, 1050 (100% of the day), 1550: each once.
    assert received == [("day", None, 0.8, 850), ("day", None, 1.0, 1050)]
    # Crossings are not recomputed from scratch: a later answer past 80% sends nothing.
    assert await DailyUsage.objects.filter(user=alice).acount() == 1


# two workers ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def two_workers(django_db_setup: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    directory = tmp_path_factory.mktemp("usage-workers")
    (directory / "media").mkdir()
    env = server_env(directory / "media", "tests.settings.usage")
    workers: list[LiveServer] = []
    try:
        for kind in ("daphne", "uvicorn"):
            workers.append(start_server(kind, env, directory / f"{kind}.log"))
        yield workers
    finally:
        for worker in workers:
            stop_server(worker)


def test_two_workers_count_one_allowance(two_workers: list[LiveServer], alice: Any) -> None:
    with live_client(two_workers[0], alice) as first, live_client(two_workers[1], alice) as second:
        with first.stream("POST", URL, json=new_thread("echo one")) as response:
            assert response.status_code == 200
            events = list(sse_events(response))
        thread_id = events[0]["thread"]["id"]
        # 100 tokens an answer, 250 a day: answers two and three start below the allowance.
        for client in (second, first):
            with client.stream("POST", URL, json=add_message(thread_id, "echo more")) as response:
                assert response.status_code == 200
                list(sse_events(response))
        refused = second.post(URL, json=add_message(thread_id, "echo too much"))
        assert refused.status_code == 429, refused.text
        assert refused.json()["error"] == "quota_exceeded"
        assert int(refused.headers["Retry-After"]) > 0
        assert first.post(URL, json=add_message(thread_id, "echo here?")).status_code == 429
    daily = DailyUsage.objects.get(user=alice)
    assert (daily.answers, daily.total_tokens) == (3, 300)
