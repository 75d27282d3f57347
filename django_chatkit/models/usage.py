"""Usage of every answer (:mod:`django_chatkit.usage`): one row per answer, and the
totals per user, scope, model and day that outlive the threads (docs/usage.rst)."""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class UsageFields(models.Model):
    """The counters of a usage row: an answer's (``Usage``) or a day's (``DailyUsage``)."""

    requests = models.PositiveIntegerField(_("model requests"), default=0)
    input_tokens = models.PositiveBigIntegerField(_("input tokens"), default=0)
    cached_input_tokens = models.PositiveBigIntegerField(_("cached input tokens"), default=0)
    output_tokens = models.PositiveBigIntegerField(_("output tokens"), default=0)
    reasoning_tokens = models.PositiveBigIntegerField(_("reasoning tokens"), default=0)
    #: Input plus output tokens: what quotas count.
    total_tokens = models.PositiveBigIntegerField(_("tokens"), default=0)
    duration = models.FloatField(_("duration (seconds)"), default=0.0)

    class Meta:
        abstract = True


class Usage(UsageFields):
    """What one answer cost: the model, its tokens and duration, and whose answer it was.

    Written by :func:`django_chatkit.usage.record_usage`, together with the day's
    :class:`DailyUsage`. It goes with its thread (purge, deletion, the user's deletion);
    the day's aggregate stays.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="chatkit_usage",
        verbose_name=_("user"),
    )
    scope = models.CharField(_("scope"), max_length=100, blank=True, default="")
    thread = models.ForeignKey(
        "django_chatkit.Thread",
        on_delete=models.CASCADE,
        null=True,
        blank=True,
        related_name="usage",
        verbose_name=_("thread"),
    )
    item_chatkit_id = models.CharField(
        _("answer item"),
        max_length=255,
        blank=True,
        default="",
        help_text=_("ChatKit id of the answer's last assistant message, if known."),
    )
    model = models.CharField(_("model"), max_length=255, blank=True, default="")
    cancelled = models.BooleanField(_("cancelled"), default=False)
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("usage")
        verbose_name_plural = _("usage")
        indexes = [
            models.Index(fields=["thread", "created_at"], name="django_chatkit_usage_thread"),
        ]

    def __str__(self) -> str:
        return f"{self.model or 'model'}: {self.total_tokens} tokens"


class DailyUsage(UsageFields):
    """One user's usage of one model in one scope on one day (``TIME_ZONE``'s days).

    Raised by every :func:`~django_chatkit.usage.record_usage`, so it never depends on
    the threads still existing: quotas and the usage overview read these. A deleted
    user's rows stay, with ``user`` empty, so site totals do not drop.
    """

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="chatkit_daily_usage",
        verbose_name=_("user"),
    )
    scope = models.CharField(_("scope"), max_length=100, blank=True, default="")
    day = models.DateField(_("day"))
    model = models.CharField(_("model"), max_length=255, blank=True, default="")
    answers = models.PositiveIntegerField(_("answers"), default=0)

    class Meta:
        verbose_name = _("daily usage")
        verbose_name_plural = _("usage")
        constraints = [
            models.UniqueConstraint(
                fields=["user", "scope", "day", "model"], name="django_chatkit_daily_usage_key"
            ),
        ]
        indexes = [
            models.Index(fields=["day"], name="django_chatkit_daily_usage_day"),
        ]

    def __str__(self) -> str:
        return f"{self.day}: {self.total_tokens} tokens"
