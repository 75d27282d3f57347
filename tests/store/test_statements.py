"""Compiled statements (``store.statements``): the ORM's SQL, compiled once per database
and shape, with each execution's values prepared by the model field like the ORM does."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.core.signals import setting_changed
from django.db import connection
from django.db.models.sql import Query

from django_chatkit.models import Thread
from django_chatkit.store import queries as store
from django_chatkit.store.statements import Param, Statement, insert_query, update_query

pytestmark = pytest.mark.django_db

_field = Thread._meta.get_field


def _thread(user: User, chatkit_id: str, at: datetime) -> Thread:
    return Thread.objects.create(
        user=user, chatkit_id=chatkit_id, created_at=at, payload="{}", title=chatkit_id
    )


def test_a_statement_is_compiled_once_per_shape(alice, monkeypatch):
    by_title = Statement(
        lambda limit: (
            Thread.objects.filter(title=Param("title", _field("title")))
            .order_by("id")
            .values_list("chatkit_id", flat=True)[:limit]
            .query
        )
    )
    for n in range(3):
        _thread(alice, f"thr_{n}", datetime(2026, 1, 1, tzinfo=UTC))
    compiled = []
    get_compiler = Query.get_compiler

    def counting(query, *args, **kwargs):
        compiled.append(query)
        return get_compiler(query, *args, **kwargs)

    monkeypatch.setattr(Query, "get_compiler", counting)
    assert by_title.fetch("default", 5, title="thr_1") == [("thr_1",)]
    assert by_title.fetch("default", 5, title="thr_2") == [("thr_2",)]
    assert by_title.fetch("default", 5, title="nothing") == []
    assert len(compiled) == 1
    by_title.fetch("default", 1, title="thr_0")  # another shape: another LIMIT
    assert len(compiled) == 2


def test_values_are_prepared_by_their_field(alice):
    """An aware datetime is stored as the ORM stores it (SQLite: UTC text) and a
    foreign key takes the related object's primary key."""
    insert = Statement(
        lambda: insert_query(
            Thread,
            user_id=Param("user", _field("user")),
            chatkit_id=Param("id", _field("chatkit_id")),
            created_at=Param("at", _field("created_at")),
            updated_at=Param("at", _field("updated_at")),
            scope="",
            title="",
            status="active",
            handled_by_human=False,
            payload="{}",
        )
    )
    at = datetime(2026, 3, 4, 5, 6, 7, 891011, tzinfo=UTC)
    assert insert.run("default", user=alice.pk, id="thr_p", at=at) == 1
    orm_row = _thread(alice, "thr_o", at)
    row = Thread.objects.get(chatkit_id="thr_p")
    assert (row.user, row.created_at, row.updated_at) == (alice, at, at)
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT created_at FROM {Thread._meta.db_table} WHERE id IN (%s, %s)",
            [row.pk, orm_row.pk],
        )
        stored = {value for (value,) in cursor.fetchall()}
    assert len(stored) == 1  # the same representation as the ORM's own INSERT


def test_an_update_changes_only_the_rows_it_selects(alice):
    other = User.objects.create_user("someone else")
    mine = _thread(alice, "thr_same", datetime(2026, 1, 1, tzinfo=UTC))
    theirs = _thread(other, "thr_same", datetime(2026, 1, 1, tzinfo=UTC))
    rename = Statement(
        lambda: update_query(
            Thread.objects.filter(
                user_id=Param("user", _field("user")), chatkit_id=Param("id", _field("chatkit_id"))
            ),
            title=Param("title", _field("title")),
        )
    )
    assert rename.run("default", user=alice.pk, id="thr_same", title="renamed") == 1
    assert rename.run("default", user=alice.pk, id="thr_missing", title="renamed") == 0
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.title, theirs.title) == ("renamed", "thr_same")


def test_a_raw_param_passes_a_value_read_from_the_database(alice):
    """Keyset cursors bind ``created_at`` exactly as the driver returned it."""
    for n in range(4):
        _thread(alice, f"thr_{n}", datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=n))
    ((at, pk),) = store.THREAD_CURSOR.fetch("default", user_id=alice.pk, scope="", thread="thr_2")
    rows = store.THREAD_PAGE.fetch(
        "default", True, 10, True, user_id=alice.pk, scope="", at=at, pk=pk
    )
    assert [chatkit_id for chatkit_id, *_ in rows] == ["thr_1", "thr_0"]


def test_changing_databases_forgets_the_compiled_sql(alice):
    store.THREAD.fetch("default", user_id=alice.pk, scope="", thread="thr_x")
    assert store.THREAD._compiled
    # As when an override of DATABASES ends (entering one warns: Django's own receiver).
    setting_changed.send(sender=None, setting="DATABASES", value={}, enter=False)
    assert not store.THREAD._compiled
