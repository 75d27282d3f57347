"""``manage.py chatkit_purge --older-than AGE [--dry-run]``: the data retention command.

Deletes every thread whose last activity is older than ``AGE`` (e.g. ``90d``), with its items,
feedback, attachments and their files. Run it daily (cron, a scheduled job) to enforce
a retention policy; ``--dry-run`` only counts what would go.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from django_chatkit.management.ages import HELP, parse_age
from django_chatkit.models import Thread
from django_chatkit.store.deletion import (
    DeletionSummary,
    count_thread_contents,
    delete_threads,
)


class Command(BaseCommand):
    help = (
        "Delete ChatKit threads inactive for longer than --older-than AGE (e.g. 90d), with "
        "their items, feedback, attachments and files."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            required=True,
            metavar="AGE",
            help=f"Delete threads whose last activity is longer ago than AGE, {HELP}.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Only report what would be deleted.",
        )
        parser.add_argument(
            "--batch-size",
            type=int,
            default=500,
            help="Threads deleted per transaction (default: 500).",
        )

    def handle(
        self, *args: Any, older_than: str, dry_run: bool, batch_size: int, **options: Any
    ) -> None:
        age = parse_age(older_than)
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        cutoff = timezone.now() - age
        threads = Thread.objects.filter(updated_at__lt=cutoff)
        when = cutoff.isoformat(timespec="seconds")
        if dry_run:
            summary = count_thread_contents(threads)
            self.stdout.write(
                f"Dry run: would delete {summary.threads} thread(s), {summary.items} item(s) "
                f"and {summary.attachments} attachment(s) inactive since before {when}."
            )
            return
        total = DeletionSummary()
        while True:
            # Each batch is its own transaction: a long purge never holds one big lock.
            pks = list(threads.order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not pks:
                break
            total += delete_threads(pks, batch_size=batch_size)
        self.stdout.write(
            self.style.SUCCESS(
                f"Deleted {total.threads} thread(s), {total.items} item(s) and "
                f"{total.attachments} attachment(s) inactive since before {when}."
            )
        )
