"""The answers running now, with durable answers on (:mod:`django_chatkit.durable`)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class RunningResponse(models.Model):
    """An answer running now, with durable responses on (:mod:`django_chatkit.durable`).

    One per thread at most: a second message to a thread whose answer runs is refused
    (409). The worker running the answer beats ``heartbeat_at``; a row whose worker
    stopped beating (killed, redeployed) is found stale and the answer marked
    interrupted.
    """

    thread = models.OneToOneField(
        "django_chatkit.Thread",
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="running_response",
        verbose_name=_("thread"),
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="chatkit_running_responses",
        verbose_name=_("user"),
    )
    worker = models.CharField(
        _("worker"), max_length=255, help_text=_("The worker process running the answer.")
    )
    started_at = models.DateTimeField(_("started"), default=timezone.now)
    heartbeat_at = models.DateTimeField(_("last heartbeat"), default=timezone.now)

    class Meta:
        verbose_name = _("running answer")
        verbose_name_plural = _("running answers")
        indexes = [
            models.Index(fields=["heartbeat_at"], name="django_chatkit_running_beat"),
            models.Index(fields=["worker"], name="django_chatkit_running_worker"),
        ]

    def __str__(self) -> str:
        return f"{self.thread_id} on {self.worker}"
