"""Keep-warm schedules, durable: a table of their own in Flare's SQLite file.

Schema::

    schedules
        id          TEXT  the schedule's id
        function    TEXT  function name (unqualified)
        qualifier   TEXT  version or alias to invoke, NULL for unqualified
        expression  TEXT  rate(...) or cron(...), as normalised by ``schedule.expression``
        input       TEXT  the constant JSON payload, NULL for EventBridge's scheduled event
        created     REAL  epoch seconds; rate schedules count their periods from it
        PRIMARY KEY (id)

Tables of Flare's one database (``store/database.py``), made if missing; all their SQL is here.
"""

from __future__ import annotations

from dataclasses import dataclass

from flare.store.database import Database, Tables

_SCHEMA = """
CREATE TABLE IF NOT EXISTS schedules (
    id         TEXT NOT NULL PRIMARY KEY,
    function   TEXT NOT NULL,
    qualifier  TEXT,
    expression TEXT NOT NULL,
    input      TEXT,
    created    REAL NOT NULL
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


class ScheduleStore(Tables):
    """Schedules by id. Opening creates the table if it is missing."""

    def __init__(self, db: Database) -> None:
        super().__init__(db, _SCHEMA)

    def all(self) -> list[ScheduleRow]:
        """Every schedule, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, function, qualifier, expression, input, created FROM schedules "
                "ORDER BY created, id"
            ).fetchall()
        return [ScheduleRow(str(i), str(f), q, str(e), p, float(c)) for i, f, q, e, p, c in rows]

    def put(self, row: ScheduleRow) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT INTO schedules (id, function, qualifier, expression, input, created) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (row.id, row.function, row.qualifier, row.expression, row.input, row.created),
            )

    def delete(self, schedule_id: str) -> bool:
        """Drop schedule ``schedule_id``; True if there was one."""
        with self._lock, self._conn:
            return self._conn.execute("DELETE FROM schedules WHERE id = ?", (schedule_id,)).rowcount > 0
