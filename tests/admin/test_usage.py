"""Usage in the admin: the thread changelist's tokens column, the thread page's usage,
the usage overview (chart, top users, scope filter), its CSV export, and totals that
survive purged threads and deleted users."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from django_chatkit.managers import Owner
from django_chatkit.models import DailyUsage, Thread, Usage
from django_chatkit.usage import UsageCounts, save_usage
from django_chatkit.usage.quotas import local_day
from tests.support.factories import make_thread, make_user

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/django_chatkit/thread/"
OVERVIEW = "/admin/django_chatkit/dailyusage/"
EXPORT = "/admin/django_chatkit/dailyusage/export/"


def spend(
    user: Any, thread: Thread | None, tokens: int, *, days_ago: int = 0, scope: str = ""
) -> None:
    """Record an answer of ``tokens`` (three quarters input) ``days_ago`` days ago."""
    now = timezone.now() - timedelta(days=days_ago)
    counts = UsageCounts(1, tokens * 3 // 4, 0, tokens - tokens * 3 // 4)
    chatkit_id = thread.chatkit_id if thread is not None else None
    save_usage(Owner(user.pk, scope), chatkit_id, "gpt-test", counts, 0.5, now=now)


def threads_with_usage(user: Any, count: int) -> list[Thread]:
    threads = []
    for index in range(count):
        thread = make_thread(user, f"thread {index}")
        for _answer in range(2):
            spend(user, thread, 100 * (index + 1))
        threads.append(thread)
    return threads


def test_the_changelist_sorts_by_tokens_without_a_query_per_thread(superuser_client) -> None:
    owner = make_user("owner")
    threads_with_usage(owner, 3)
    with CaptureQueriesContext(connection) as three:
        response = superuser_client.get(CHANGELIST, {"o": "-6"})
    assert response.status_code == 200
    threads_with_usage(owner, 3)
    with CaptureQueriesContext(connection) as six:
        response = superuser_client.get(CHANGELIST, {"o": "-6"})
    assert len(six) == len(three)
    rows = response.context["cl"].result_list
    # Two answers of 100, 200 and 300 tokens in each batch of three threads.
    assert [thread.usage_tokens for thread in rows] == [600, 600, 400, 400, 200, 200]
    assert b'<td class="field-usage_tokens">600</td>' in response.content
    ascending = superuser_client.get(CHANGELIST, {"o": "6"}).context["cl"].result_list
    assert [thread.usage_tokens for thread in ascending] == [200, 200, 400, 400, 600, 600]


def test_the_thread_page_shows_each_answer_and_the_total(superuser_client) -> None:
    thread = make_thread(make_user("owner"), "costly")
    spend(thread.user, thread, 400)
    spend(thread.user, thread, 200)
    response = superuser_client.get(reverse("admin:django_chatkit_thread_change", args=[thread.pk]))
    html = response.content.decode()
    assert html.count('class="ck-usage-row"') == 2
    assert "2 answers" in html
    total = html[html.index('class="ck-usage-total"') :]
    # requests, input, cached, output, reasoning, tokens
    assert "<th>2</th><th>450</th><th>0</th>\n      <th>150</th><th>0</th><th>600</th>" in total


def test_the_overview_draws_thirty_days_and_the_top_users(
    superuser_client, django_assert_max_num_queries
) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    spend(alice, None, 1000)
    spend(alice, None, 500, days_ago=3)
    spend(bob, None, 4000, days_ago=3, scope="support")
    spend(bob, None, 9999, days_ago=40)  # before the chart's 30 days
    with django_assert_max_num_queries(8):  # session, user, per day, top users, scopes
        response = superuser_client.get(OVERVIEW)
    html = response.content.decode()
    assert html.count('<g class="ck-day"') == 30
    today = local_day()
    assert f'data-day="{today.isoformat()}" data-total="1000"' in html
    three_ago = (today - timedelta(days=3)).isoformat()
    assert f'data-day="{three_ago}" data-total="4500"' in html
    assert html.index(">bob</span>") < html.index(">alice</span>")  # the biggest user first
    assert "5,500 tokens in this period." in html or "5500 tokens in this period." in html

    scoped = superuser_client.get(OVERVIEW, {"scope": "support"}).content.decode()
    assert f'data-day="{three_ago}" data-total="4000"' in scoped
    assert ">alice</span>" not in scoped
    assert f'data-day="{today.isoformat()}" data-total="0"' in scoped


def test_the_overview_needs_the_view_permission(client) -> None:
    client.force_login(make_user("viewer", staff=True, perms=("view_thread",)))
    assert client.get(OVERVIEW).status_code == 403
    assert client.get(EXPORT).status_code == 403
    client.force_login(make_user("reader", staff=True, perms=("view_dailyusage",)))
    assert client.get(OVERVIEW).status_code == 200


def test_the_csv_export_has_a_row_per_user_and_month(superuser_client) -> None:
    alice, bob = make_user("alice"), make_user("bob")
    now = timezone.now()
    this_month = now.astimezone(timezone.get_default_timezone()).strftime("%Y-%m")
    spend(alice, None, 100)
    spend(alice, None, 300)
    spend(bob, None, 40, scope="support")
    spend(alice, None, 1000, days_ago=62)
    response = superuser_client.get(EXPORT)
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    rows = list(csv.DictReader(io.StringIO(response.content.decode())))
    current = [
        (r["user"], r["answers"], r["total_tokens"]) for r in rows if r["month"] == this_month
    ]
    assert current == [("alice", "2", "400"), ("bob", "1", "40")]
    assert len(rows) == 3 and rows[0]["user"] == "alice" and rows[0]["total_tokens"] == "1000"
    scoped = superuser_client.get(EXPORT, {"scope": "support"}).content.decode()
    assert [r["user"] for r in csv.DictReader(io.StringIO(scoped))] == ["bob"]


def test_totals_survive_the_purge_and_the_users_deletion(superuser_client) -> None:
    alice = make_user("alice")
    old = make_thread(alice, "old", updated=timezone.now() - timedelta(days=100))
    spend(alice, old, 700)
    spend(alice, make_thread(alice, "new"), 300)

    call_command("chatkit_purge", "--older-than", "90d", stdout=io.StringIO())
    assert list(Usage.objects.values_list("total_tokens", flat=True)) == [300]
    html = superuser_client.get(OVERVIEW).content.decode()
    assert f'data-day="{local_day().isoformat()}" data-total="1000"' in html

    alice.delete()
    assert not Usage.objects.exists()
    daily = DailyUsage.objects.get()
    assert (daily.user_id, daily.total_tokens, daily.answers) == (None, 1000, 2)
    html = superuser_client.get(OVERVIEW).content.decode()
    assert f'data-day="{local_day().isoformat()}" data-total="1000"' in html
    assert "(deleted users)" in html
    rows = list(csv.DictReader(io.StringIO(superuser_client.get(EXPORT).content.decode())))
    assert [(r["user_id"], r["total_tokens"]) for r in rows] == [("", "1000")]
