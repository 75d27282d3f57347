"""Counting the SQL statements of code that runs on any thread.

``django.test.utils.CaptureQueriesContext`` watches one connection of one thread, but the
store runs its ORM work on worker threads (:func:`django_chatkit.db.run_db`),
each with its own connection. :func:`capture_queries` hooks every connection opened while
it is active (``run_db`` opens a fresh one per call with ``CONN_MAX_AGE = 0``).
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from django.db.backends.signals import connection_created

# Transaction control: SQLite's BEGIN goes through a cursor, PostgreSQL's does not.
_CONTROL = ("BEGIN", "SAVEPOINT", "RELEASE SAVEPOINT", "ROLLBACK TO SAVEPOINT")


class QueryLog:
    """The statements executed on the hooked connections, in order."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.connections: list[Any] = []  # the connection of each connect() meanwhile
        self._lock = threading.Lock()

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        with self._lock:
            self.statements.append(sql)
        return execute(sql, params, many, context)

    @property
    def data_statements(self) -> list[str]:
        """Statements that read or write rows (transaction control left out)."""
        return [s for s in self.statements if not s.lstrip().upper().startswith(_CONTROL)]

    def __len__(self) -> int:
        return len(self.data_statements)


@contextmanager
def capture_queries() -> Iterator[QueryLog]:
    log = QueryLog()

    def hook(sender: Any, connection: Any, **kwargs: Any) -> None:
        # A thread reconnects the same wrapper object: hook it once.
        if log not in connection.execute_wrappers:
            connection.execute_wrappers.append(log)
        log.connections.append(connection)

    connection_created.connect(hook, weak=False)
    try:
        yield log
    finally:
        connection_created.disconnect(hook)
        for connection in log.connections:
            if log in connection.execute_wrappers:
                connection.execute_wrappers.remove(log)
