"""Small per-function settings, durable: recursion and runtime management configs.

Schema (version ``SCHEMA_VERSION`` of concern ``function_settings``; every table scoped: ``scope`` holds the
owning account and region's ``Scope.key`` and leads each key, see ``store/database.py``;
schema 1, never recorded, had no ``scope``: its tables are rebuilt, their rows in the
database's legacy scope)::

    recursion_configs
        scope           TEXT
        name            TEXT  function name (unqualified)
        recursive_loop  TEXT  'Allow' or 'Terminate'
        PRIMARY KEY (scope, name)

    runtime_management_configs
        scope                TEXT
        name                 TEXT  function name (unqualified)
        version              TEXT  '$LATEST' or a published version number
        update_runtime_on    TEXT  'Auto', 'FunctionUpdate' or 'Manual'
        runtime_version_arn  TEXT  the pinned runtime version (Manual), else NULL
        PRIMARY KEY (scope, name, version)

A function without a row has the default (``Terminate``; ``Auto``). Tables of Flare's one
database (``store/database.py``), made if missing; all their SQL is here.
"""

from __future__ import annotations

from dataclasses import dataclass

from flare.scope import Scope
from flare.store.database import Database, ScopedTables

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS recursion_configs (
    scope          TEXT NOT NULL,
    name           TEXT NOT NULL,
    recursive_loop TEXT NOT NULL,
    PRIMARY KEY (scope, name)
);
CREATE TABLE IF NOT EXISTS runtime_management_configs (
    scope               TEXT NOT NULL,
    name                TEXT NOT NULL,
    version             TEXT NOT NULL,
    update_runtime_on   TEXT NOT NULL,
    runtime_version_arn TEXT,
    PRIMARY KEY (scope, name, version)
);
"""


@dataclass(frozen=True)
class RuntimeManagementRow:
    name: str
    version: str
    update_runtime_on: str
    runtime_version_arn: str | None


class FunctionSettingsStore(ScopedTables):
    """Recursion configs by name, runtime management configs by (name, version), of
    ``scope``'s functions."""

    concern = "function_settings"
    version = SCHEMA_VERSION

    def __init__(self, db: Database, scope: Scope) -> None:
        super().__init__(db, scope, _SCHEMA)

    def recursion(self) -> dict[str, str]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT name, recursive_loop FROM recursion_configs WHERE scope = ?", (self._scope,)
            ).fetchall()
        return {str(name): str(loop) for name, loop in rows}

    def put_recursion(self, name: str, recursive_loop: str) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO recursion_configs (scope, name, recursive_loop) VALUES (?, ?, ?)",
                (self._scope, name, recursive_loop),
            )

    def runtime_management(self) -> list[RuntimeManagementRow]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT name, version, update_runtime_on, runtime_version_arn "
                "FROM runtime_management_configs WHERE scope = ?",
                (self._scope,),
            ).fetchall()
        return [RuntimeManagementRow(str(n), str(v), str(u), a) for n, v, u, a in rows]

    def put_runtime_management(self, row: RuntimeManagementRow) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO runtime_management_configs "
                "(scope, name, version, update_runtime_on, runtime_version_arn) VALUES (?, ?, ?, ?, ?)",
                (self._scope, row.name, row.version, row.update_runtime_on, row.runtime_version_arn),
            )

    def delete_version(self, name: str, version: str) -> None:
        """Forget version ``version``'s runtime management config."""
        with self._lock, self._conn:
            self._conn.execute(
                "DELETE FROM runtime_management_configs WHERE scope = ? AND name = ? AND version = ?",
                (self._scope, name, version),
            )

    def delete_function(self, name: str) -> None:
        """Forget every setting of function ``name``."""
        with self._lock, self._conn:
            key = (self._scope, name)
            self._conn.execute("DELETE FROM recursion_configs WHERE scope = ? AND name = ?", key)
            self._conn.execute("DELETE FROM runtime_management_configs WHERE scope = ? AND name = ?", key)
