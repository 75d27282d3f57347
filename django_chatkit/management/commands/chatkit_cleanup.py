"""``manage.py chatkit_cleanup``: delete uploads that never made it into a message."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.files.storage import storages
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone

from django_chatkit.attachments.files import staging_leftovers
from django_chatkit.conf import conf
from django_chatkit.management.ages import HELP, parse_age
from django_chatkit.models import Attachment


class Command(BaseCommand):
    help = (
        "Delete attachments that were never sent in a message (abandoned uploads, and "
        "attachments of threads deleted outside ChatKit) and their files, once older "
        "than an age; and objects PUT to presigned S3 upload URLs after their upload was "
        "finalized."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--older-than",
            metavar="AGE",
            help=f"Only attachments created longer ago than AGE, {HELP}. "
            "Default: CHATKIT_ATTACHMENT_CLEANUP_AGE (24h).",
        )
        parser.add_argument(
            "--dry-run", action="store_true", help="Report what would be deleted; delete nothing."
        )
        parser.add_argument(
            "--batch-size", type=int, default=500, help="Rows deleted per transaction."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if options["older_than"] is None:
            age = timedelta(seconds=conf.CHATKIT_ATTACHMENT_CLEANUP_AGE)
        else:
            age = parse_age(options["older_than"])
        batch_size = options["batch_size"]
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1.")
        cutoff = timezone.now() - age
        abandoned = Attachment.objects.filter(thread__isnull=True, created_at__lt=cutoff)

        leftovers = self._staging_leftovers(cutoff)
        if options["dry_run"]:
            if leftovers:
                self.stdout.write(f"Would delete {len(leftovers)} leftover staging upload(s).")
            found = abandoned.aggregate(total=Sum("size"))
            count = abandoned.count()
            if options["verbosity"] > 1:
                for chatkit_id, file_name in abandoned.values_list("chatkit_id", "file_name"):
                    self.stdout.write(f"  {chatkit_id} {file_name or '(no file)'}")
            self.stdout.write(
                f"Would delete {count} attachment(s) older than {age} never sent in a "
                f"message ({found['total'] or 0} bytes)."
            )
            return

        for storage, path in leftovers:
            storage.delete(path)
        if leftovers:
            self.stdout.write(f"Deleted {len(leftovers)} leftover staging upload(s).")
        deleted = 0
        while True:
            pks = list(abandoned.order_by("pk").values_list("pk", flat=True)[:batch_size])
            if not pks:
                break
            with transaction.atomic():
                # Re-checked: an attachment sent meanwhile stays. Files go on commit.
                count, _ = Attachment.objects.filter(pk__in=pks, thread__isnull=True).delete()
            deleted += count
            if len(pks) < batch_size:
                break
        self.stdout.write(
            f"Deleted {deleted} attachment(s) older than {age} never sent in a message."
        )

    def _staging_leftovers(self, cutoff: Any) -> list[tuple[Any, str]]:
        """Staging objects of presigned uploads nothing awaits, in every storage that
        holds attachments."""
        aliases = {conf.CHATKIT_ATTACHMENT_STORAGE}
        aliases.update(Attachment.objects.values_list("storage", flat=True).distinct())
        found = []
        for alias in sorted(aliases & set(settings.STORAGES)):
            storage = storages[alias]
            found += [(storage, path) for path in staging_leftovers(storage, alias, cutoff)]
        return found
