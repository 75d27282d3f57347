"""The shipped migrations match the models (``makemigrations --check``)."""

from __future__ import annotations

from io import StringIO

import pytest
from django.core.management import call_command
from django.test import override_settings


@pytest.mark.django_db
def test_no_missing_or_conflicting_migrations() -> None:
    out = StringIO()
    call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=StringIO())
    assert out.getvalue().strip() == "No changes detected"


@pytest.mark.django_db
@override_settings(MIGRATION_MODULES={"django_chatkit": "tests.support.empty_migrations"})
def test_the_check_fails_when_a_migration_is_missing() -> None:
    out = StringIO()
    with pytest.raises(SystemExit) as exit_:
        call_command("makemigrations", "--check", "--dry-run", stdout=out, stderr=StringIO())
    assert exit_.value.code == 1
    assert "django_chatkit" in out.getvalue()
    assert "Create model Thread" in out.getvalue()
