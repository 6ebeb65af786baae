"""Durable executions (issue 17), durable: their rows, their operations and their history.

Schema (version ``SCHEMA_VERSION`` of concern ``durable``; every table scoped: ``scope`` holds
the owning account and region's ``Scope.key`` and leads each key, see ``store/database.py``)::

    durable_executions
        scope     TEXT
        arn       TEXT  the execution's ARN (names function, version, name and invocation id)
        function  TEXT  function name (unqualified)
        version   TEXT  the version it runs: $LATEST or a number
        name      TEXT  DurableExecutionName (given or generated); unique per function
        status    TEXT  RUNNING | PAUSING | PAUSED | SUCCEEDED | FAILED | TIMED_OUT | STOPPED
                        (durable/status.py)
        input     TEXT  the invoke's payload
        result    TEXT  the handler's result (JSON text), when SUCCEEDED
        error     TEXT  ErrorObject as JSON, when FAILED / TIMED_OUT / STOPPED
        started   REAL  epoch seconds
        ended     REAL  epoch seconds, when it ended
        deadline  REAL  epoch seconds: started + DurableConfig.ExecutionTimeout (+ time paused)
        token     TEXT  the checkpoint token the running invocation must present next ('' none)
        retention INTEGER  days it is kept once ended (DurableConfig.RetentionPeriodInDays)
        failures  INTEGER  invocation errors in a row (v2)
        paused    TEXT  the pause (JSON, ``durable/pauses.py``) while PAUSING or PAUSED (v2)
        tokens    TEXT  the client tokens last seen, per action (JSON, ``durable/client_tokens.py``) (v2)
        synchronous INTEGER  1 when a RequestResponse invoke started it (its output may be 6 MB) (v2)
        queued    TEXT  the request id of the Event invoke whose async event, not yet tried, will
                        invoke it first; NULL once tried (v2)
        updated   TEXT  JSON list: the operations the engine changed (a wait ended, a callback
                        answered...) since the last invocation's input was built (v2)
        PRIMARY KEY (scope, arn), UNIQUE (scope, function, name)

    durable_operations
        scope, arn  the execution
        id          TEXT     the operation's Id
        seq         INTEGER  order of first checkpoint (pages of GetDurableExecutionState)
        body        TEXT     the Operation, as the API shows it (JSON, epoch-second timestamps)
        PRIMARY KEY (scope, arn, id)

    durable_events
        scope, arn  the execution
        event_id    INTEGER  1, 2, ... in order (GetDurableExecutionHistory's EventId)
        body        TEXT     the Event (JSON, epoch-second timestamps)
        PRIMARY KEY (scope, arn, event_id)

Version 2 added ``failures``, ``paused``, ``tokens``, ``synchronous``, ``queued`` and ``updated``
(``_upgrade`` adds them to a version-1 table). A function's executions go with it:
``delete_function`` runs inside the registry's transaction.
Tables of Flare's one database (``store/database.py``), made if missing; all their SQL is here.
"""

from __future__ import annotations

import json
import sqlite3
from contextlib import AbstractContextManager
from dataclasses import dataclass, replace
from typing import Any

from flare.errors import StaleRevision
from flare.scope import Scope
from flare.store.database import Database, ScopedTables

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS durable_executions (
    scope    TEXT NOT NULL,
    arn      TEXT NOT NULL,
    function TEXT NOT NULL,
    version  TEXT NOT NULL,
    name     TEXT NOT NULL,
    status   TEXT NOT NULL,
    input    TEXT NOT NULL,
    result   TEXT,
    error    TEXT,
    started  REAL NOT NULL,
    ended    REAL,
    deadline REAL NOT NULL,
    token    TEXT NOT NULL DEFAULT '',
    retention INTEGER NOT NULL DEFAULT 14,
    failures INTEGER NOT NULL DEFAULT 0,
    paused   TEXT,
    tokens   TEXT NOT NULL DEFAULT '{}',
    synchronous INTEGER NOT NULL DEFAULT 0,
    queued   TEXT,
    updated  TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (scope, arn),
    UNIQUE (scope, function, name)
);
CREATE INDEX IF NOT EXISTS durable_executions_by_status ON durable_executions (scope, status);
CREATE TABLE IF NOT EXISTS durable_operations (
    scope TEXT NOT NULL,
    arn   TEXT NOT NULL,
    id    TEXT NOT NULL,
    seq   INTEGER NOT NULL,
    body  TEXT NOT NULL,
    PRIMARY KEY (scope, arn, id)
);
CREATE INDEX IF NOT EXISTS durable_operations_in_order ON durable_operations (scope, arn, seq);
CREATE TABLE IF NOT EXISTS durable_events (
    scope    TEXT NOT NULL,
    arn      TEXT NOT NULL,
    event_id INTEGER NOT NULL,
    body     TEXT NOT NULL,
    PRIMARY KEY (scope, arn, event_id)
);
"""

_COLUMNS = (
    "arn, function, version, name, status, input, result, error, started, ended, deadline, token, retention, "
    "failures, paused, tokens, synchronous, queued, updated"
)
_ADDED_IN_2 = (
    ("failures", "INTEGER NOT NULL DEFAULT 0"),
    ("paused", "TEXT"),
    ("tokens", "TEXT NOT NULL DEFAULT '{}'"),
    ("synchronous", "INTEGER NOT NULL DEFAULT 0"),
    ("queued", "TEXT"),
    ("updated", "TEXT NOT NULL DEFAULT '[]'"),
)


# the fields an update may write (the others are set once, by insert)
CHANGEABLE = (
    "status", "result", "error", "ended", "token", "deadline",
    "failures", "paused", "tokens", "queued", "updated",
)  # fmt: skip


@dataclass(frozen=True)
class ExecutionRow:
    arn: str
    function: str
    version: str
    name: str
    status: str
    input: str
    result: str | None
    error: str | None  # ErrorObject as JSON
    started: float
    ended: float | None
    deadline: float
    token: str = ""
    retention: int = 14  # days
    failures: int = 0  # invocation errors in a row
    paused: str | None = None  # the pause as JSON, while PAUSING or PAUSED
    tokens: str = "{}"  # client tokens per action, JSON
    synchronous: bool = False
    queued: str | None = None  # the Event invoke's request id, until the async queue tried it
    updated: str = "[]"  # JSON list of operation ids the engine changed since the last invocation

    def with_(self, **changes: Any) -> ExecutionRow:
        return replace(self, **changes)


def _row(found: tuple[Any, ...]) -> ExecutionRow:
    values = dict(zip(_COLUMNS.replace(" ", "").split(","), found, strict=True))
    return ExecutionRow(**values | {"synchronous": bool(values["synchronous"])})


class DurableStore(ScopedTables):
    """``scope``'s durable executions, their operations and events. Opening creates the tables
    if they are missing. Every write is one transaction (joining the caller's, if any)."""

    concern = "durable"
    version = SCHEMA_VERSION

    def __init__(self, db: Database, scope: Scope) -> None:
        super().__init__(db, scope, _SCHEMA)

    def _upgrade(self, found: int) -> None:
        """Version 1 to 2: the columns ``_ADDED_IN_2`` and the index on ``queued`` (runs inside
        the schema transaction, after the DDL)."""
        have = {row[1] for row in self._conn.execute("PRAGMA table_info(durable_executions)")}
        for column, kind in _ADDED_IN_2:
            if column not in have:
                self._conn.execute(f"ALTER TABLE durable_executions ADD COLUMN {column} {kind}")
        self._conn.execute(
            "CREATE INDEX IF NOT EXISTS durable_executions_queued ON durable_executions (scope, queued)"
        )

    def transaction(self) -> AbstractContextManager[object]:
        """One transaction of the database around the writes inside (nested ones join)."""
        return self.db.transaction()

    # -- executions -----------------------------------------------------------------------------

    def insert(self, row: ExecutionRow) -> None:
        """Raises StaleRevision: the function already has an execution of that name."""
        try:
            with self._lock, self._conn:
                self._conn.execute(
                    f"INSERT INTO durable_executions (scope, {_COLUMNS}) VALUES (?, {', '.join('?' * 19)})",
                    (self._scope, *_values(row)),
                )
        except sqlite3.IntegrityError:
            raise StaleRevision(f"durable execution {row.function}/{row.name} exists") from None

    def update(
        self, row: ExecutionRow, expect_token: str | None = None, only: tuple[str, ...] = CHANGEABLE
    ) -> None:
        """Store ``row``'s fields ``only`` (those an update may change, by default all of them)
        over the execution of its ARN; with ``expect_token``, only while its stored token is that
        one (StaleRevision otherwise, rolling the transaction back)."""
        assert set(only) <= set(CHANGEABLE), only
        guard = "" if expect_token is None else " AND token = ?"
        with self._lock, self._conn:
            done = self._conn.execute(
                f"UPDATE durable_executions SET {', '.join(f'{name} = ?' for name in only)} "
                f"WHERE scope = ? AND arn = ?{guard}",
                (
                    *(getattr(row, name) for name in only),
                    self._scope,
                    row.arn,
                    *(() if expect_token is None else (expect_token,)),
                ),
            )
            if expect_token is not None and done.rowcount == 0:
                raise StaleRevision(f"durable execution {row.arn}: its checkpoint token moved")

    def get(self, arn: str) -> ExecutionRow | None:
        with self._lock:
            found = self._conn.execute(
                f"SELECT {_COLUMNS} FROM durable_executions WHERE scope = ? AND arn = ?", (self._scope, arn)
            ).fetchone()
        return None if found is None else _row(found)

    def named(self, function: str, name: str) -> ExecutionRow | None:
        with self._lock:
            found = self._conn.execute(
                f"SELECT {_COLUMNS} FROM durable_executions WHERE scope = ? AND function = ? AND name = ?",
                (self._scope, function, name),
            ).fetchone()
        return None if found is None else _row(found)

    def mark_updated(self, arn: str, operation_ids: list[str]) -> None:
        """Add ``operation_ids`` to ``arn``'s operations changed since its last invocation."""
        with self._lock, self._conn:
            found = self._conn.execute(
                "SELECT updated FROM durable_executions WHERE scope = ? AND arn = ?", (self._scope, arn)
            ).fetchone()
            if found is None:
                return
            kept = list(json.loads(found[0]))
            kept += [operation_id for operation_id in operation_ids if operation_id not in kept]
            self._conn.execute(
                "UPDATE durable_executions SET updated = ? WHERE scope = ? AND arn = ?",
                (json.dumps(kept), self._scope, arn),
            )

    def queued_as(self, request_id: str) -> ExecutionRow | None:
        """The execution whose first invocation waits in the async queue as ``request_id``."""
        with self._lock:
            found = self._conn.execute(
                f"SELECT {_COLUMNS} FROM durable_executions WHERE scope = ? AND queued = ?",
                (self._scope, request_id),
            ).fetchone()
        return None if found is None else _row(found)

    def of_function(self, function: str) -> list[ExecutionRow]:
        """Every execution of ``function``, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM durable_executions WHERE scope = ? AND function = ? "
                "ORDER BY started, arn",
                (self._scope, function),
            ).fetchall()
        return [_row(found) for found in rows]

    def with_status(self, *statuses: str) -> list[ExecutionRow]:
        """The executions in any of ``statuses``, oldest first."""
        marks = ", ".join("?" * len(statuses))
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_COLUMNS} FROM durable_executions WHERE scope = ? AND status IN ({marks}) "
                "ORDER BY started",
                (self._scope, *statuses),
            ).fetchall()
        return [_row(found) for found in rows]

    def counts(self) -> list[tuple[str, str, int]]:
        """``(function, status, how many)`` of every execution kept."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT function, status, COUNT(*) FROM durable_executions WHERE scope = ? "
                "GROUP BY function, status ORDER BY function, status",
                (self._scope,),
            ).fetchall()
        return [(str(function), str(status), int(count)) for function, status, count in rows]

    def expired(self, now: float) -> list[str]:
        """The ARNs of executions ended longer ago than their retention."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT arn FROM durable_executions WHERE scope = ? AND ended IS NOT NULL "
                "AND ended + retention * 86400 <= ?",
                (self._scope, now),
            ).fetchall()
        return [str(arn) for (arn,) in rows]

    def delete(self, arns: list[str]) -> None:
        """Drop executions ``arns`` with their operations and events."""
        with self._lock, self._conn:
            for table in ("durable_operations", "durable_events", "durable_executions"):
                self._conn.executemany(
                    f"DELETE FROM {table} WHERE scope = ? AND arn = ?", [(self._scope, arn) for arn in arns]
                )

    def delete_function(self, function: str) -> int:
        """Drop every execution of ``function`` with its operations and events; how many."""
        with self._lock, self._conn:
            arns = [
                arn
                for (arn,) in self._conn.execute(
                    "SELECT arn FROM durable_executions WHERE scope = ? AND function = ?",
                    (self._scope, function),
                ).fetchall()
            ]
            self.delete(arns)
        return len(arns)

    # -- operations -----------------------------------------------------------------------------

    def operations(self, arn: str, after: int = 0, limit: int = -1) -> list[tuple[int, dict[str, Any]]]:
        """``(seq, Operation)`` of ``arn`` in checkpoint order, those with seq > ``after``."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT seq, body FROM durable_operations WHERE scope = ? AND arn = ? AND seq > ? "
                "ORDER BY seq LIMIT ?",
                (self._scope, arn, after, limit),
            ).fetchall()
        return [(int(seq), json.loads(body)) for seq, body in rows]

    def operation(self, arn: str, operation_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._conn.execute(
                "SELECT body FROM durable_operations WHERE scope = ? AND arn = ? AND id = ?",
                (self._scope, arn, operation_id),
            ).fetchone()
        return None if found is None else dict(json.loads(found[0]))

    def put_operations(self, arn: str, operations: list[dict[str, Any]]) -> None:
        """Store each Operation over the one of its Id (a new one goes last)."""
        with self._lock, self._conn:
            (last,) = self._conn.execute(
                "SELECT COALESCE(MAX(seq), 0) FROM durable_operations WHERE scope = ? AND arn = ?",
                (self._scope, arn),
            ).fetchone()
            for operation in operations:
                last += 1
                self._conn.execute(
                    "INSERT INTO durable_operations (scope, arn, id, seq, body) VALUES (?, ?, ?, ?, ?) "
                    "ON CONFLICT (scope, arn, id) DO UPDATE SET body = excluded.body",
                    (self._scope, arn, operation["Id"], last, json.dumps(operation)),
                )

    # -- events ---------------------------------------------------------------------------------

    def add_events(self, arn: str, events: list[dict[str, Any]]) -> None:
        """Append ``events`` to ``arn``'s history, numbering them (``EventId``) from 1."""
        with self._lock, self._conn:
            (last,) = self._conn.execute(
                "SELECT COALESCE(MAX(event_id), 0) FROM durable_events WHERE scope = ? AND arn = ?",
                (self._scope, arn),
            ).fetchone()
            for event in events:
                last += 1
                self._conn.execute(
                    "INSERT INTO durable_events (scope, arn, event_id, body) VALUES (?, ?, ?, ?)",
                    (self._scope, arn, last, json.dumps({**event, "EventId": last})),
                )

    def events(self, arn: str) -> list[dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT body FROM durable_events WHERE scope = ? AND arn = ? ORDER BY event_id",
                (self._scope, arn),
            ).fetchall()
        return [dict(json.loads(body)) for (body,) in rows]


def _values(row: ExecutionRow) -> tuple[Any, ...]:
    return (
        row.arn,
        row.function,
        row.version,
        row.name,
        row.status,
        row.input,
        row.result,
        row.error,
        row.started,
        row.ended,
        row.deadline,
        row.token,
        row.retention,
        row.failures,
        row.paused,
        row.tokens,
        int(row.synchronous),
        row.queued,
        row.updated,
    )
