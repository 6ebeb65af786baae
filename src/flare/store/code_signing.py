"""Code signing configs and which function uses which, durable: tables in Flare's SQLite file.

Schema (version ``SCHEMA_VERSION`` of concern ``code_signing``; every table scoped: ``scope`` holds the
owning account and region's ``Scope.key`` and leads each key, see ``store/database.py``;
schema 1, never recorded, had no ``scope``: its tables are rebuilt, their rows in the
database's legacy scope)::

    code_signing_configs
        scope   TEXT
        id      TEXT     CodeSigningConfigId (``csc-`` and 17 characters)
        seq     INTEGER  creation order in its scope, increasing
        config  TEXT     the CodeSigningConfig, JSON with AWS's field names
        tags    TEXT     its tags, a JSON object
        PRIMARY KEY (scope, id)

    function_code_signing
        scope      TEXT
        name       TEXT  function name (unqualified)
        config_id  TEXT  the CodeSigningConfigId it uses
        PRIMARY KEY (scope, name)

Tables of Flare's one database (``store/database.py``), made if missing; all their SQL is here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from flare.scope import Scope
from flare.store.database import Database, ScopedTables

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS code_signing_configs (
    scope  TEXT    NOT NULL,
    id     TEXT    NOT NULL,
    seq    INTEGER NOT NULL,
    config TEXT    NOT NULL,
    tags   TEXT    NOT NULL DEFAULT '{}',
    PRIMARY KEY (scope, id)
);
CREATE TABLE IF NOT EXISTS function_code_signing (
    scope     TEXT NOT NULL,
    name      TEXT NOT NULL,
    config_id TEXT NOT NULL,
    PRIMARY KEY (scope, name)
);
"""


@dataclass(frozen=True)
class CodeSigningRow:
    """One stored code signing config; ``seq`` orders listings."""

    id: str
    config: dict[str, Any]
    tags: dict[str, str] = field(default_factory=dict)
    seq: int = 0


class CodeSigningStore(ScopedTables):
    """``scope``'s configs by id and bindings by function name. Opening creates the tables if
    missing."""

    concern = "code_signing"
    version = SCHEMA_VERSION

    def __init__(self, db: Database, scope: Scope) -> None:
        super().__init__(db, scope, _SCHEMA)

    def configs(self) -> list[CodeSigningRow]:
        """Every config, oldest first."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT id, config, tags, seq FROM code_signing_configs WHERE scope = ? ORDER BY seq",
                (self._scope,),
            ).fetchall()
        return [CodeSigningRow(str(i), json.loads(c), json.loads(t), int(s)) for i, c, t, s in rows]

    def put_config(self, row: CodeSigningRow) -> CodeSigningRow:
        """Insert or replace a config (a new one gets the next ``seq``); returns it as stored."""
        with self._lock, self._conn:
            found = self._conn.execute(
                "SELECT seq FROM code_signing_configs WHERE scope = ? AND id = ?", (self._scope, row.id)
            ).fetchone()
            if found is None:
                (seq,) = self._conn.execute(
                    "SELECT COALESCE(MAX(seq), 0) + 1 FROM code_signing_configs WHERE scope = ?",
                    (self._scope,),
                ).fetchone()
            else:
                (seq,) = found
            self._conn.execute(
                "INSERT OR REPLACE INTO code_signing_configs (scope, id, seq, config, tags) "
                "VALUES (?, ?, ?, ?, ?)",
                (self._scope, row.id, seq, json.dumps(row.config), json.dumps(row.tags)),
            )
        return CodeSigningRow(row.id, row.config, row.tags, int(seq))

    def delete_config(self, config_id: str) -> bool:
        with self._lock, self._conn:
            cursor = self._conn.execute(
                "DELETE FROM code_signing_configs WHERE scope = ? AND id = ?", (self._scope, config_id)
            )
            return cursor.rowcount > 0

    def bindings(self) -> dict[str, str]:
        """Function name => the config id it uses."""
        with self._lock:
            rows = self._conn.execute(
                "SELECT name, config_id FROM function_code_signing WHERE scope = ?", (self._scope,)
            ).fetchall()
        return {str(name): str(config_id) for name, config_id in rows}

    def bind(self, name: str, config_id: str) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO function_code_signing (scope, name, config_id) VALUES (?, ?, ?)",
                (self._scope, name, config_id),
            )

    def unbind(self, name: str) -> bool:
        with self._lock, self._conn:
            cursor = self._conn.execute(
                "DELETE FROM function_code_signing WHERE scope = ? AND name = ?", (self._scope, name)
            )
            return cursor.rowcount > 0
