"""Small per-function settings, durable: recursion and runtime management configs.

Schema::

    recursion_configs
        name            TEXT  function name (unqualified)
        recursive_loop  TEXT  'Allow' or 'Terminate'
        PRIMARY KEY (name)

    runtime_management_configs
        name                 TEXT  function name (unqualified)
        version              TEXT  '$LATEST' or a published version number
        update_runtime_on    TEXT  'Auto', 'FunctionUpdate' or 'Manual'
        runtime_version_arn  TEXT  the pinned runtime version (Manual), else NULL
        PRIMARY KEY (name, version)

A function without a row has the default (``Terminate``; ``Auto``). Tables of Flare's one
database (``store/database.py``), made if missing; all their SQL is here.
"""

from __future__ import annotations

from dataclasses import dataclass

from flare.store.database import Database, Tables

_SCHEMA = """
CREATE TABLE IF NOT EXISTS recursion_configs (
    name           TEXT NOT NULL PRIMARY KEY,
    recursive_loop TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS runtime_management_configs (
    name                TEXT NOT NULL,
    version             TEXT NOT NULL,
    update_runtime_on   TEXT NOT NULL,
    runtime_version_arn TEXT,
    PRIMARY KEY (name, version)
);
"""


@dataclass(frozen=True)
class RuntimeManagementRow:
    name: str
    version: str
    update_runtime_on: str
    runtime_version_arn: str | None


class FunctionSettingsStore(Tables):
    """Recursion configs by name, runtime management configs by (name, version)."""

    def __init__(self, db: Database) -> None:
        super().__init__(db, _SCHEMA)

    def recursion(self) -> dict[str, str]:
        with self._lock:
            rows = self._conn.execute("SELECT name, recursive_loop FROM recursion_configs").fetchall()
        return {str(name): str(loop) for name, loop in rows}

    def put_recursion(self, name: str, recursive_loop: str) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO recursion_configs (name, recursive_loop) VALUES (?, ?)",
                (name, recursive_loop),
            )

    def runtime_management(self) -> list[RuntimeManagementRow]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT name, version, update_runtime_on, runtime_version_arn FROM runtime_management_configs"
            ).fetchall()
        return [RuntimeManagementRow(str(n), str(v), str(u), a) for n, v, u, a in rows]

    def put_runtime_management(self, row: RuntimeManagementRow) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO runtime_management_configs "
                "(name, version, update_runtime_on, runtime_version_arn) VALUES (?, ?, ?, ?)",
                (row.name, row.version, row.update_runtime_on, row.runtime_version_arn),
            )

    def delete_version(self, name: str, version: str) -> None:
        """Forget version ``version``'s runtime management config."""
        with self._lock, self._conn:
            self._conn.execute(
                "DELETE FROM runtime_management_configs WHERE name = ? AND version = ?", (name, version)
            )

    def delete_function(self, name: str) -> None:
        """Forget every setting of function ``name``."""
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM recursion_configs WHERE name = ?", (name,))
            self._conn.execute("DELETE FROM runtime_management_configs WHERE name = ?", (name,))
