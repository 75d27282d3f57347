"""``CHATKIT_USAGE_LIMITS`` read strictly: malformed allowances are errors that say why."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest
from django.test import override_settings

from django_chatkit.usage import quotas


@pytest.mark.parametrize(
    ("limits", "error"),
    [
        ([1000], "is not a dict of allowances"),
        ({"scopes": ["support"]}, "'scopes' must be a dict"),
        ({"tokens_per_day": 0}, "must be a positive number of tokens"),
        ({"tokens_per_day": True}, "must be a positive number of tokens"),
        ({"tokens_per_week": 10}, "unknown key 'tokens_per_week'"),
        ({"scopes": {"support": {"scopes": {}}}}, "unknown key 'scopes'"),
    ],
)
def test_malformed_allowances_say_what_is_wrong(limits: object, error: str) -> None:
    with override_settings(CHATKIT_USAGE_LIMITS=limits), pytest.raises(ValueError, match=error):
        quotas.allowances()


def test_scoped_allowances_count_only_their_scope() -> None:
    limits = {"tokens_per_day": 100, "scopes": {"support": {"tokens_per_month": 50}}}
    with override_settings(CHATKIT_USAGE_LIMITS=limits):
        assert len(quotas.allowances()) == 2
        assert [a.scope for a in quotas.allowances_for("support")] == [None, "support"]
        assert [a.scope for a in quotas.allowances_for("")] == [None]


@override_settings(USE_TZ=False, TIME_ZONE="UTC")
def test_without_time_zones_the_day_ends_at_local_midnight() -> None:
    now = datetime(2026, 12, 2, 23, 59, 30, tzinfo=UTC)  # aware, made naive
    assert quotas.seconds_until(date(2026, 12, 3), now) == 30
    assert quotas.local_day(datetime(2026, 12, 2, 23, 0)) == date(2026, 12, 2)
