"""Durable state of asynchronous invocation and event sources: tables of Flare's one database.

All of ``events/``' SQL is in this module. Every change commits before the method returns (or
with the transaction around it): an event acknowledged with 202 survives ``kill -9``. Times are
wall-clock epoch seconds. Schema (version ``SCHEMA_VERSION`` of concern ``events``; before
2026-12 these tables lived in ``<data_dir>/events.db``, whose rows the engine moves in once).
Every table is scoped (``store/database.py``): ``scope`` holds the owning account and region's
``Scope.key`` and leads each key, so even ids unique by themselves (request ids, mapping UUIDs)
are listed per scope; tables of schema 2 and before had no ``scope`` and are rebuilt, their
rows (and those of an absorbed ``events.db``) in the database's legacy scope::

    async_events                      one row per queued event, deleted once it is handled
        seq             INTEGER  queue order (rowid)
        scope           TEXT
        id              TEXT     the request id (kept across retries); UNIQUE (scope, id)
        function        TEXT     bare function name
        qualifier       TEXT     version or alias as invoked, NULL when unqualified
        invoked_arn     TEXT     the ARN as the client invoked it
        payload         BLOB
        enqueued        REAL     when the 202 was answered
        due             REAL     when it may next be tried
        function_errors INTEGER  tries that ended in a function error
        other_failures  INTEGER  tries that were throttled or failed in the system
        last            TEXT     JSON of the last try's response ({statusCode, executedVersion,
                                 functionError, payload}) or NULL
        tenant_id       TEXT     the X-Amz-Tenant-Id it was invoked with, or NULL (added in
                                 schema 2; older rows get NULL)

    invoke_configs                    FunctionEventInvokeConfig per function and qualifier
        scope, function, qualifier  TEXT  qualifier '$LATEST', a version or an alias; the key
        config          TEXT     JSON, AWS field names, as Get answers it

    mappings                          event source mappings
        scope, uuid     TEXT     the key
        seq             INTEGER  creation order in the scope
        config          TEXT     JSON, AWS field names (State as last persisted)

    checkpoints                       stream mappings' progress
        scope, uuid, shard  TEXT  mapping and shard id; the key
        sequence        TEXT     the last sequence number fully processed

The connection may be used from several threads; a lock serialises it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flare.scope import Scope
from flare.store.database import Database, ScopedTables

SCHEMA_VERSION = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS async_events (
    seq             INTEGER PRIMARY KEY AUTOINCREMENT,
    scope           TEXT    NOT NULL,
    id              TEXT    NOT NULL,
    function        TEXT    NOT NULL,
    qualifier       TEXT,
    invoked_arn     TEXT    NOT NULL,
    payload         BLOB    NOT NULL,
    enqueued        REAL    NOT NULL,
    due             REAL    NOT NULL,
    function_errors INTEGER NOT NULL DEFAULT 0,
    other_failures  INTEGER NOT NULL DEFAULT 0,
    last            TEXT,
    tenant_id       TEXT,
    UNIQUE (scope, id)
);
CREATE TABLE IF NOT EXISTS invoke_configs (
    scope     TEXT NOT NULL,
    function  TEXT NOT NULL,
    qualifier TEXT NOT NULL,
    config    TEXT NOT NULL,
    PRIMARY KEY (scope, function, qualifier)
);
CREATE TABLE IF NOT EXISTS mappings (
    scope  TEXT    NOT NULL,
    uuid   TEXT    NOT NULL,
    seq    INTEGER NOT NULL,
    config TEXT    NOT NULL,
    PRIMARY KEY (scope, uuid)
);
CREATE TABLE IF NOT EXISTS checkpoints (
    scope    TEXT NOT NULL,
    uuid     TEXT NOT NULL,
    shard    TEXT NOT NULL,
    sequence TEXT NOT NULL,
    PRIMARY KEY (scope, uuid, shard)
);
"""

_EVENT_COLUMNS = (
    "id, function, qualifier, invoked_arn, payload, enqueued, due, function_errors, other_failures, last, "
    "tenant_id"
)


@dataclass(frozen=True)
class EventRow:
    """One queued async event. ``last`` is the last try's response (None before any)."""

    id: str
    function: str
    qualifier: str | None
    invoked_arn: str
    payload: bytes
    enqueued: float
    due: float
    function_errors: int = 0
    other_failures: int = 0
    last: dict[str, Any] | None = None
    tenant_id: str | None = None


def _event(record: tuple[Any, ...]) -> EventRow:
    event_id, function, qualifier, invoked_arn, payload, enqueued, due, errors, others, last, tenant = record
    return EventRow(
        event_id,
        function,
        qualifier,
        invoked_arn,
        bytes(payload),
        enqueued,
        due,
        errors,
        others,
        None if last is None else json.loads(last),
        tenant,
    )


class EventStore(ScopedTables):
    """``scope``'s async events, invoke configs, event source mappings and checkpoints.
    Opening creates the tables if they are missing (tables of schema 1, without
    ``tenant_id``, are rebuilt like those of schema 2)."""

    concern = "events"
    version = SCHEMA_VERSION

    def __init__(self, db: Database, scope: Scope) -> None:
        super().__init__(db, scope, _SCHEMA)

    # -- async events ---------------------------------------------------------------------------

    def insert_event(self, row: EventRow) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                f"INSERT INTO async_events (scope, {_EVENT_COLUMNS}) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self._scope,
                    row.id,
                    row.function,
                    row.qualifier,
                    row.invoked_arn,
                    row.payload,
                    row.enqueued,
                    row.due,
                    row.function_errors,
                    row.other_failures,
                    None if row.last is None else json.dumps(row.last),
                    row.tenant_id,
                ),
            )

    def get_event(self, event_id: str) -> EventRow | None:
        with self._lock:
            record = self._conn.execute(
                f"SELECT {_EVENT_COLUMNS} FROM async_events WHERE scope = ? AND id = ?",
                (self._scope, event_id),
            ).fetchone()
        return None if record is None else _event(record)

    def event_schedule(self) -> list[tuple[str, float]]:
        """(id, due) of every queued event, in queue order."""
        with self._lock:
            return [
                (str(i), float(d))
                for i, d in self._conn.execute(
                    "SELECT id, due FROM async_events WHERE scope = ? ORDER BY seq", (self._scope,)
                )
            ]

    def reschedule_event(
        self,
        event_id: str,
        due: float,
        function_errors: int,
        other_failures: int,
        last: dict[str, Any] | None,
    ) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "UPDATE async_events SET due = ?, function_errors = ?, other_failures = ?, last = ? "
                "WHERE scope = ? AND id = ?",
                (
                    due,
                    function_errors,
                    other_failures,
                    None if last is None else json.dumps(last),
                    self._scope,
                    event_id,
                ),
            )

    def delete_event(self, event_id: str) -> None:
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM async_events WHERE scope = ? AND id = ?", (self._scope, event_id))

    def event_stats(self) -> dict[str, tuple[int, float]]:
        """Per function: (events queued, oldest ``enqueued``)."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT function, COUNT(*), MIN(enqueued) FROM async_events "
                "WHERE scope = ? GROUP BY function",
                (self._scope,),
            ).fetchall()
        return {str(name): (int(count), float(oldest)) for name, count, oldest in rows}

    # -- event-invoke configs -------------------------------------------------------------------

    def put_invoke_config(self, function: str, qualifier: str, config: dict[str, Any]) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO invoke_configs (scope, function, qualifier, config) "
                "VALUES (?, ?, ?, ?)",
                (self._scope, function, qualifier, json.dumps(config)),
            )

    def delete_invoke_configs(self, function: str, qualifier: str | None = None) -> int:
        """Delete one qualifier's config, or every config of ``function`` (qualifier None)."""
        with self._lock, self._conn:
            if qualifier is None:
                cursor = self._conn.execute(
                    "DELETE FROM invoke_configs WHERE scope = ? AND function = ?", (self._scope, function)
                )
            else:
                cursor = self._conn.execute(
                    "DELETE FROM invoke_configs WHERE scope = ? AND function = ? AND qualifier = ?",
                    (self._scope, function, qualifier),
                )
            return cursor.rowcount

    def invoke_configs(self) -> dict[tuple[str, str], dict[str, Any]]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT function, qualifier, config FROM invoke_configs WHERE scope = ?", (self._scope,)
            ).fetchall()
        return {(str(f), str(q)): json.loads(c) for f, q, c in rows}

    # -- event source mappings ------------------------------------------------------------------

    def put_mapping(self, uuid: str, config: dict[str, Any], expected_revision: str | None = None) -> None:
        """Insert (at the end of creation order) or replace a mapping (this database has one
        writer: ``expected_revision`` always holds)."""
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT INTO mappings (scope, uuid, seq, config) "
                "VALUES (?1, ?2, (SELECT COALESCE(MAX(seq), 0) + 1 FROM mappings WHERE scope = ?1), ?3) "
                "ON CONFLICT (scope, uuid) DO UPDATE SET config = excluded.config",
                (self._scope, uuid, json.dumps(config)),
            )

    def delete_mapping(self, uuid: str) -> None:
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM mappings WHERE scope = ? AND uuid = ?", (self._scope, uuid))
            self._conn.execute("DELETE FROM checkpoints WHERE scope = ? AND uuid = ?", (self._scope, uuid))

    def get_mapping(self, uuid: str) -> dict[str, Any] | None:
        with self._lock:
            row = self._conn.execute(
                "SELECT config FROM mappings WHERE scope = ? AND uuid = ?", (self._scope, uuid)
            ).fetchone()
        return None if row is None else dict(json.loads(row[0]))

    def mappings(self) -> list[dict[str, Any]]:
        """Every mapping's config, in creation order."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT config FROM mappings WHERE scope = ? ORDER BY seq", (self._scope,)
            ).fetchall()
        return [json.loads(config) for (config,) in rows]

    def put_checkpoint(self, uuid: str, shard: str, sequence: str) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO checkpoints (scope, uuid, shard, sequence) VALUES (?, ?, ?, ?)",
                (self._scope, uuid, shard, sequence),
            )

    def checkpoints(self, uuid: str) -> dict[str, str]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT shard, sequence FROM checkpoints WHERE scope = ? AND uuid = ?", (self._scope, uuid)
            )
            return {str(shard): str(sequence) for shard, sequence in rows}
