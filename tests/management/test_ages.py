"""``--older-than AGE`` means the same in every command: one parser, one syntax."""

from __future__ import annotations

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from django_chatkit.management.ages import parse_age
from django_chatkit.models import Attachment, Thread
from tests.support.factories import make_attachment, make_thread, make_user

pytestmark = pytest.mark.django_db(transaction=True)

COMMANDS = ["chatkit_purge", "chatkit_cleanup"]


@pytest.fixture
def three_hours_and_ten_days_old():
    """For each command, one row three hours old and one ten days old."""
    alice = make_user("alice")
    now = timezone.now()
    for age in (timedelta(hours=3), timedelta(days=10)):
        make_thread(alice, f"{age} old", updated=now - age)
        upload = make_attachment(alice, None, f"{age}.png")  # never sent in a message
        Attachment.objects.filter(pk=upload.pk).update(created_at=now - age)


def would_delete(command: str, age: str) -> int:
    out = StringIO()
    call_command(command, "--older-than", age, "--dry-run", stdout=out)
    return int(re.search(r"(?:would delete|Would delete) (\d+) ", out.getvalue()).group(1))


@pytest.mark.usefixtures("three_hours_and_ten_days_old")
@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("age", "count"),
    [("2h", 2), ("90m", 2), ("7200s", 2), ("1.5h", 2), ("4h", 1), ("1w", 1), ("9d", 1),
     ("11d", 0), ("2w", 0), ("2W", 0), (" 30 D ", 0)],
)  # fmt: skip
def test_one_age_syntax_for_every_command(command: str, age: str, count: int) -> None:
    assert would_delete(command, age) == count
    assert Thread.objects.count() == 2 and Attachment.objects.count() == 2


@pytest.mark.parametrize("command", COMMANDS)
@pytest.mark.parametrize(
    ("age", "message"),
    [
        ("90", "--older-than '90' has no unit: write 90d for 90 days (or 90w, 90h, 90m, 90s)."),
        ("24", "--older-than '24' has no unit: write 24d for 24 days"),
        ("1y", "--older-than '1y' has an unknown unit 'y': use a number and a unit s, m, h, d"),
        ("0d", "--older-than '0d' must be more than zero."),
        ("-1h", "--older-than '-1h' is not an age: use a number and a unit s, m, h, d or w"),
        ("soon", "--older-than 'soon' is not an age"),
        ("", "--older-than '' is not an age"),
    ],
)
def test_a_bad_age_is_the_same_command_error_everywhere(
    command: str, age: str, message: str
) -> None:
    alice = make_user("alice")
    make_thread(alice, "old", updated=timezone.now() - timedelta(days=400))
    with pytest.raises(CommandError, match=re.escape(message)):
        call_command(command, f"--older-than={age}", stdout=StringIO())
    assert Thread.objects.count() == 1


def test_parse_age() -> None:
    assert parse_age("90d") == timedelta(days=90)
    assert parse_age("24h") == timedelta(hours=24)
    assert parse_age("30m") == timedelta(minutes=30)
    assert parse_age("2w") == timedelta(weeks=2)
    assert parse_age("45s") == timedelta(seconds=45)
    with pytest.raises(CommandError, match=r"^--keep '3' has no unit"):
        parse_age("3", option="--keep")
