"""Statements the ORM compiles once per database, then runs with new values each time.

Building a queryset and compiling it to SQL costs 0.3-0.5 ms of CPU per statement, more
than the database spends running the store's indexed statements. Each of the store's hot
statements (``django_chatkit.store.backend``) is an ordinary queryset whose variable parts are
:class:`Param` placeholders; the ORM compiles it once per database alias and shape (a page
size, an order), and each execution binds new values, prepared by the model field as the
ORM prepares them. The SQL is the ORM's own, so it stays portable across database
backends.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, cast

from django.core.signals import setting_changed
from django.db import connections
from django.db.models import Expression, Field, Model, QuerySet
from django.db.models.sql import InsertQuery, Query, UpdateQuery
from django.dispatch import receiver


class Param(Expression):
    """A named value of a statement, bound at each execution.

    ``field`` prepares the value for the database (``get_db_prep_value``); with
    ``raw=True`` the value is passed as is (a value just read from the database).
    """

    def __init__(self, name: str, field: Field[Any, Any], *, raw: bool = False) -> None:
        super().__init__(output_field=field)
        self.name = name
        self.raw = raw

    def as_sql(self, compiler: Any, connection: Any) -> tuple[str, tuple[Any, ...]]:
        return "%s", (self,)

    def prepare(self, value: Any, connection: Any) -> Any:
        if self.raw or value is None:
            return value
        return self.output_field.get_db_prep_value(value, connection, prepared=False)


def model_field(model: type[Model], name: str) -> Field[Any, Any]:
    """``model``'s concrete field ``name`` (``get_field()`` also finds reverse relations)."""
    field = model._meta.get_field(name)
    assert isinstance(field, Field), f"{model.__name__}.{name} is not a concrete field"
    return field


def update_query(queryset: QuerySet[Any], **values: Any) -> Query:
    """The ``UPDATE`` that ``queryset.update(**values)`` runs."""
    # chain(klass) returns a klass (django-stubs says Query).
    query = cast(UpdateQuery, queryset.query.chain(UpdateQuery))
    query.add_update_values(values)
    return query


def insert_query(model: type[Model], **values: Any) -> Query:
    """The ``INSERT`` of one ``model`` row with ``values`` (field attnames)."""
    fields = [model_field(model, name) for name in values]
    query = InsertQuery(model)
    query.insert_values(fields, [model(**values)])
    return query


@dataclass(frozen=True)
class _Compiled:
    sql: str
    params: tuple[Any, ...]  # Param placeholders and the ORM's own constant values


_statements: list[Statement] = []


def clear_compiled() -> None:
    """Forget every compiled statement (``DATABASES`` changed)."""
    for statement in _statements:
        statement._compiled.clear()


@receiver(setting_changed, dispatch_uid="django_chatkit.store.statements")
def forget_compiled(*, setting: str, **kwargs: Any) -> None:
    """``setting_changed`` receiver: other databases compile other SQL."""
    if setting == "DATABASES":
        clear_compiled()


class Statement:
    """A statement that ``build(*shape)`` describes, compiled once per alias and shape.

    Shapes must be few (the compiled SQL is kept for each): a page size clamped to
    ``CHATKIT_MAX_PAGE_SIZE``, an order, whether a cursor is given.
    """

    def __init__(self, build: Callable[..., Query]) -> None:
        self.build = build
        self._compiled: dict[tuple[str, tuple[Hashable, ...]], _Compiled] = {}
        _statements.append(self)

    def _compile(self, using: str, shape: tuple[Hashable, ...]) -> _Compiled:
        key = (using, shape)
        compiled = self._compiled.get(key)
        if compiled is None:
            compiler = self.build(*shape).get_compiler(using)
            if isinstance(compiler.query, InsertQuery):
                ((sql, params),) = compiler.as_sql()  # one row, nothing returned
            else:
                sql, params = compiler.as_sql()
            compiled = self._compiled[key] = _Compiled(sql, tuple(params))
        return compiled

    @contextmanager
    def _executed(
        self, using: str, shape: tuple[Hashable, ...], values: dict[str, Any]
    ) -> Iterator[Any]:
        """A cursor that has run the statement with ``values`` bound; closed on exit."""
        compiled = self._compile(using, shape)
        connection = connections[using]
        params = [
            p.prepare(values[p.name], connection) if isinstance(p, Param) else p
            for p in compiled.params
        ]
        with connection.cursor() as cursor:
            cursor.execute(compiled.sql, params)
            yield cursor

    def fetch(self, using: str, *shape: Hashable, **values: Any) -> list[tuple[Any, ...]]:
        """The rows of a ``SELECT``, as the driver returns them (no ORM conversion)."""
        with self._executed(using, shape, values) as cursor:
            return cursor.fetchall()

    def run(self, using: str, *shape: Hashable, **values: Any) -> int:
        """Run an ``INSERT`` or ``UPDATE``; return the number of rows it changed."""
        with self._executed(using, shape, values) as cursor:
            return cursor.rowcount
