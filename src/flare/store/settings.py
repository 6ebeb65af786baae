"""Per-function concurrency settings, durable: tables of their own in Flare's SQLite file.

Schema (version ``SCHEMA_VERSION`` of concern ``settings``; every table scoped: ``scope`` holds the
owning account and region's ``Scope.key`` and leads each key, see ``store/database.py``;
schema 1, never recorded, had no ``scope``: its tables are rebuilt, their rows in the
database's legacy scope)::

    function_concurrency
        scope     TEXT
        name      TEXT     function name (unqualified)
        reserved  INTEGER  ReservedConcurrentExecutions, >= 0
        PRIMARY KEY (scope, name)

    provisioned_concurrency
        scope          TEXT
        name           TEXT     function name (unqualified)
        qualifier      TEXT     a published version number or an alias name
        requested      INTEGER  RequestedProvisionedConcurrentExecutions, >= 1
        last_modified  TEXT     LastModified as answered (``2019-10-18T14:53:00.000+0000``)
        PRIMARY KEY (scope, name, qualifier)

Tables of Flare's one database (``store/database.py``), made if missing; all their SQL is
here.
"""

from __future__ import annotations

from dataclasses import dataclass

from flare.scope import Scope
from flare.store.database import Database, ScopedTables

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS function_concurrency (
    scope    TEXT    NOT NULL,
    name     TEXT    NOT NULL,
    reserved INTEGER NOT NULL CHECK (reserved >= 0),
    PRIMARY KEY (scope, name)
);
CREATE TABLE IF NOT EXISTS provisioned_concurrency (
    scope         TEXT    NOT NULL,
    name          TEXT    NOT NULL,
    qualifier     TEXT    NOT NULL,
    requested     INTEGER NOT NULL CHECK (requested >= 1),
    last_modified TEXT    NOT NULL,
    PRIMARY KEY (scope, name, qualifier)
);
"""


@dataclass(frozen=True)
class ProvisionedRow:
    """One stored provisioned concurrency config."""

    name: str
    qualifier: str
    requested: int
    last_modified: str


class SettingsStore(ScopedTables):
    """Reserved concurrency by function name, provisioned concurrency by (name, qualifier), of
    ``scope``'s functions. Opening creates the tables if they are missing."""

    concern = "settings"
    version = SCHEMA_VERSION

    def __init__(self, db: Database, scope: Scope) -> None:
        super().__init__(db, scope, _SCHEMA)

    def reserved(self) -> dict[str, int]:
        """Every stored reservation."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT name, reserved FROM function_concurrency WHERE scope = ?", (self._scope,)
            ).fetchall()
        return {str(name): int(reserved) for name, reserved in rows}

    def put_reserved(self, name: str, reserved: int) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT INTO function_concurrency (scope, name, reserved) VALUES (?, ?, ?) "
                "ON CONFLICT (scope, name) DO UPDATE SET reserved = excluded.reserved",
                (self._scope, name, reserved),
            )

    def delete_reserved(self, name: str) -> bool:
        """Drop ``name``'s reservation; True if there was one."""
        with self._lock, self._conn:
            cursor = self._conn.execute(
                "DELETE FROM function_concurrency WHERE scope = ? AND name = ?", (self._scope, name)
            )
            return cursor.rowcount > 0

    def provisioned(self) -> list[ProvisionedRow]:
        """Every stored provisioned concurrency config, by name then qualifier."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT name, qualifier, requested, last_modified FROM provisioned_concurrency "
                "WHERE scope = ? ORDER BY name, qualifier",
                (self._scope,),
            ).fetchall()
        return [ProvisionedRow(str(n), str(q), int(r), str(m)) for n, q, r, m in rows]

    def put_provisioned(self, row: ProvisionedRow) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT INTO provisioned_concurrency (scope, name, qualifier, requested, last_modified) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (scope, name, qualifier) DO UPDATE SET "
                "requested = excluded.requested, last_modified = excluded.last_modified",
                (self._scope, row.name, row.qualifier, row.requested, row.last_modified),
            )

    def delete_provisioned(self, name: str, qualifier: str) -> bool:
        """Drop the config of ``name:qualifier``; True if there was one."""
        with self._lock, self._conn:
            cursor = self._conn.execute(
                "DELETE FROM provisioned_concurrency WHERE scope = ? AND name = ? AND qualifier = ?",
                (self._scope, name, qualifier),
            )
            return cursor.rowcount > 0
