"""Running answers in the thread admin: the "Answering now" filter, the badge on the
changelist and the thread page, and "Stop the answer" (action and button), which
reaches the answer's worker through ``request_cancel`` (over the channel layer: the
worker channel is read back here)."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync
from channels.layers import get_channel_layer
from django.contrib.admin.models import LogEntry
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from django_chatkit.durable.worker import CANCEL_MESSAGE
from django_chatkit.models import RunningResponse, Thread
from tests.admin.test_threads import get_counting, thread_pks_in
from tests.support.factories import make_thread, make_user

pytestmark = pytest.mark.django_db

CHANGELIST = "/admin/django_chatkit/thread/"
WORKER = "django_chatkit.worker.test!w1"


def answering(thread: Thread, worker: str = WORKER) -> RunningResponse:
    started = timezone.make_aware(datetime(2026, 3, 4, 10, 11, 12))
    return RunningResponse.objects.create(
        thread=thread, user=thread.user, worker=worker, started_at=started, heartbeat_at=started
    )


def told_to_stop(worker: str = WORKER) -> list[dict[str, Any]]:
    """The cancel messages waiting on ``worker``'s channel (sent before the admin's
    response returned: the layer holds them already)."""

    async def drain() -> list[dict[str, Any]]:
        layer = get_channel_layer()
        found = []
        while True:
            try:
                found.append(await asyncio.wait_for(layer.receive(worker), 0.05))  # type: ignore[union-attr]
            except TimeoutError:
                return found

    return async_to_sync(drain)()


@pytest.fixture
def layer_messages() -> None:
    """No channel layer message left by an earlier test."""
    async_to_sync(get_channel_layer().flush)()  # type: ignore[union-attr]


def test_filter_and_badge_without_a_query_per_row(superuser_client, alice) -> None:
    quiet = [make_thread(alice, f"quiet {n}") for n in range(3)]
    busy = make_thread(alice, "busy")
    answering(busy)
    response, one = get_counting(superuser_client, CHANGELIST)
    html = response.content.decode()
    row = html[html.index(">busy<") :]
    row = row[: row.index("</tr>")]
    assert 'class="ck-running"' in row and ">10:11:12<" in row and WORKER in row
    assert html.count('class="ck-running"') == 1
    assert 'href="?answering=yes"' in html  # the filter is offered

    def listed(value: str) -> set[int]:
        html = superuser_client.get(CHANGELIST, {"answering": value}).content.decode()
        return set(thread_pks_in(html))

    assert listed("yes") == {busy.pk}
    assert listed("no") == {thread.pk for thread in quiet}
    for thread in quiet:
        answering(thread, worker=f"{WORKER}{thread.pk}")
    response, four = get_counting(superuser_client, CHANGELIST)
    assert response.content.decode().count('class="ck-running"') == 4
    assert len(four) == len(one), four


def test_the_thread_page_shows_the_badge_and_a_stop_button(superuser_client, alice) -> None:
    thread = make_thread(alice, "busy")
    page = reverse("admin:django_chatkit_thread_change", args=[thread.pk])
    stop = reverse("admin:django_chatkit_thread_stop", args=[thread.pk])
    assert "ck-running" not in superuser_client.get(page).content.decode()
    answering(thread)
    html = superuser_client.get(page).content.decode()
    assert "Answering since" in html and WORKER in html
    assert f'action="{stop}"' in html and "Stop the answer" in html
    viewer = Client()
    viewer.force_login(make_user("viewer", staff=True, perms=("view_thread",)))
    viewed = viewer.get(page).content.decode()  # view permission only: no button
    assert "Answering since" in viewed and f'action="{stop}"' not in viewed


def test_stop_button_tells_the_worker(superuser_client, alice, layer_messages) -> None:
    thread = make_thread(alice, "busy")
    answering(thread)
    stop = reverse("admin:django_chatkit_thread_stop", args=[thread.pk])
    assert superuser_client.get(stop).status_code == 405
    response = superuser_client.post(stop, follow=True)
    assert response.redirect_chain[-1][0] == reverse(
        "admin:django_chatkit_thread_change", args=[thread.pk]
    )
    assert "The answer was told to stop." in response.content.decode()
    assert told_to_stop() == [{"type": CANCEL_MESSAGE, "thread": thread.pk}]
    assert LogEntry.objects.get().change_message == "Stopped the running answer"
    RunningResponse.objects.all().delete()  # it ended
    response = superuser_client.post(stop, follow=True)
    assert "No answer runs in this thread." in response.content.decode()
    assert told_to_stop() == []


def test_stop_action_on_selected_threads(superuser_client, alice, layer_messages) -> None:
    busy = [make_thread(alice, f"busy {n}") for n in range(2)]
    idle = make_thread(alice, "idle")
    for thread in busy:
        answering(thread)
    response = superuser_client.post(
        CHANGELIST,
        {
            "action": "stop_running_answers",
            "_selected_action": [t.pk for t in [*busy, idle]],
        },
        follow=True,
    )
    assert "2 answers were told to stop." in response.content.decode()
    assert sorted(m["thread"] for m in told_to_stop()) == sorted(t.pk for t in busy)


def test_stopping_needs_the_change_permission(client, viewer_client, alice, layer_messages):
    thread = make_thread(alice, "busy")
    answering(thread)
    stop = reverse("admin:django_chatkit_thread_stop", args=[thread.pk])
    assert viewer_client.post(stop).status_code == 403
    action = {"action": "stop_running_answers", "_selected_action": [thread.pk]}
    viewer_client.post(CHANGELIST, action)
    changer = make_user("changer", staff=True, perms=("view_thread", "change_thread"))
    assert told_to_stop() == []
    client.force_login(changer)
    assert client.post(stop).status_code == 302
    assert told_to_stop() == [{"type": CANCEL_MESSAGE, "thread": thread.pk}]
    client.logout()
    assert client.post(stop).status_code == 302  # to the login page
    assert told_to_stop() == []
    assert RunningResponse.objects.get().started_at < timezone.now() + timedelta(seconds=1)
