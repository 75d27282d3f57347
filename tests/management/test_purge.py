"""``manage.py chatkit_purge --older-than AGE [--dry-run]``: the retention command."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO

import pytest
from django.core.files.storage import storages
from django.core.management import CommandError, call_command
from django.utils import timezone

from django_chatkit.models import Attachment, Feedback, Thread, ThreadItem
from tests.support.factories import (
    add_feedback,
    add_items,
    make_attachment,
    make_thread,
    make_user,
    mixed_items,
)

pytestmark = pytest.mark.django_db(transaction=True)  # file deletion runs on commit


@pytest.fixture
def threads():
    alice = make_user("alice")
    now = timezone.now()
    old = []
    for days in (40, 100):
        thread = make_thread(alice, f"{days} days old", updated=now - timedelta(days=days))
        rows = add_items(thread, mixed_items(thread)[:4])
        add_feedback(alice, rows[:1], "positive")
        make_attachment(alice, thread, f"{days}.png")
        old.append(thread)
    recent = make_thread(alice, "yesterday", updated=now - timedelta(days=1))
    add_items(recent, mixed_items(recent)[:4])
    kept_file = make_attachment(alice, recent, "recent.png")
    return old, recent, kept_file


def purge(*args: str) -> str:
    out = StringIO()
    call_command("chatkit_purge", *args, stdout=out)
    return out.getvalue()


def test_dry_run_counts_and_deletes_nothing(threads):
    output = purge("--older-than", "30d", "--dry-run")
    assert output.startswith(
        "Dry run: would delete 2 thread(s), 8 item(s) and 2 attachment(s) inactive since before "
    )
    assert Thread.objects.count() == 3 and Attachment.objects.count() == 3


def test_deletes_inactive_threads_with_items_feedback_attachments_and_files(threads):
    old, recent, kept_file = threads
    old_files = list(Attachment.objects.filter(thread__in=old).values_list("file_name", flat=True))
    assert all(storages["default"].exists(name) for name in old_files)

    output = purge("--older-than", "30d", "--batch-size", "1")
    assert "Deleted 2 thread(s), 8 item(s) and 2 attachment(s) inactive since before" in output

    assert list(Thread.objects.values_list("pk", flat=True)) == [recent.pk]
    assert ThreadItem.objects.filter(thread=recent).count() == ThreadItem.objects.count() == 4
    assert not Feedback.objects.exists()
    assert list(Attachment.objects.values_list("pk", flat=True)) == [kept_file.pk]
    assert not any(storages["default"].exists(name) for name in old_files)
    assert storages["default"].exists(kept_file.file_name)

    assert "Deleted 0 thread(s)" in purge("--older-than", "30d")
    assert "Deleted 1 thread(s)" in purge("--older-than", "20h")  # yesterday's goes


@pytest.mark.parametrize(
    "args, message",
    [
        (["--older-than", "30", "--batch-size", "0"], "--older-than '30' has no unit"),
        (["--older-than", "30d", "--batch-size", "0"], "--batch-size must be at least 1."),
        ([], "the following arguments are required: --older-than"),
    ],
)
def test_misuse_is_a_command_error(threads, args, message):
    with pytest.raises(CommandError, match=message):
        purge(*args)
    assert Thread.objects.count() == 3
