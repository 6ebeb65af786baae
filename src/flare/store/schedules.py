"""Keep-warm schedules, durable: a table of their own in Flare's SQLite file.

Schema (version ``SCHEMA_VERSION`` of concern ``schedules``; every table scoped: ``scope`` holds the
owning account and region's ``Scope.key`` and leads each key, see ``store/database.py``;
schema 1, never recorded, had no ``scope``: its tables are rebuilt, their rows in the
database's legacy scope)::

    schedules
        scope       TEXT
        id          TEXT  the schedule's id
        function    TEXT  function name (unqualified)
        qualifier   TEXT  version or alias to invoke, NULL for unqualified
        expression  TEXT  rate(...) or cron(...), as normalised by ``schedule.expression``
        input       TEXT  the constant JSON payload, NULL for EventBridge's scheduled event
        created     REAL  epoch seconds; rate schedules count their periods from it
        PRIMARY KEY (scope, id)

Tables of Flare's one database (``store/database.py``), made if missing; all their SQL is here.
"""

from __future__ import annotations

from dataclasses import dataclass

from flare.scope import Scope
from flare.store.database import Database, ScopedTables

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schedules (
    scope      TEXT NOT NULL,
    id         TEXT NOT NULL,
    function   TEXT NOT NULL,
    qualifier  TEXT,
    expression TEXT NOT NULL,
    input      TEXT,
    created    REAL NOT NULL,
    PRIMARY KEY (scope, id)
);
"""


@dataclass(frozen=True)
class ScheduleRow:
    id: str
    function: str
    qualifier: str | None
    expression: str
    input: str | None
    created: float


class ScheduleStore(ScopedTables):
    """``scope``'s schedules by id. Opening creates the table if it is missing."""

    concern = "schedules"
    version = SCHEMA_VERSION

    def __init__(self, db: Database, scope: Scope) -> None:
        super().__init__(db, scope, _SCHEMA)

    def all(self) -> list[ScheduleRow]:
        """Every schedule, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, function, qualifier, expression, input, created FROM schedules "
                "WHERE scope = ? ORDER BY created, id",
                (self._scope,),
            ).fetchall()
        return [ScheduleRow(str(i), str(f), q, str(e), p, float(c)) for i, f, q, e, p, c in rows]

    def put(self, row: ScheduleRow) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT INTO schedules (scope, id, function, qualifier, expression, input, created) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self._scope, row.id, row.function, row.qualifier, row.expression, row.input, row.created),
            )

    def claim(self, schedule_id: str, due: float) -> bool:
        """Whether this node runs the firing of ``schedule_id`` due at ``due``: always (one
        node, one timer per schedule)."""
        return True

    def delete(self, schedule_id: str) -> bool:
        """Drop schedule ``schedule_id``; True if there was one."""
        with self._lock, self._conn:
            cursor = self._conn.execute(
                "DELETE FROM schedules WHERE scope = ? AND id = ?", (self._scope, schedule_id)
            )
            return cursor.rowcount > 0
