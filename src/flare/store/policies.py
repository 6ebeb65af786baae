"""Resource-based policies of functions, versions and aliases, durable: a table in Flare's SQLite file.

Schema (version ``SCHEMA_VERSION`` of concern ``policies``; every table scoped: ``scope`` holds the
owning account and region's ``Scope.key`` and leads each key, see ``store/database.py``;
schema 1, never recorded, had no ``scope``: its tables are rebuilt, their rows in the
database's legacy scope)::

    function_policies
        scope      TEXT
        name       TEXT  function name (unqualified)
        qualifier  TEXT  '' for the function itself, else a published version number or an alias
        document   TEXT  the policy document, JSON
        revision   TEXT  the policy's RevisionId (a new UUID at every change)
        PRIMARY KEY (scope, name, qualifier)

Tables of Flare's one database (``store/database.py``), made if missing; all their SQL is here.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from flare.scope import Scope
from flare.store.database import Database, ScopedTables

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS function_policies (
    scope     TEXT NOT NULL,
    name      TEXT NOT NULL,
    qualifier TEXT NOT NULL,
    document  TEXT NOT NULL,
    revision  TEXT NOT NULL,
    PRIMARY KEY (scope, name, qualifier)
);
"""


@dataclass(frozen=True)
class PolicyRow:
    """One stored policy; ``qualifier`` is '' for the function's own (unqualified) policy."""

    name: str
    qualifier: str
    document: dict[str, Any]
    revision: str


class PolicyStore(ScopedTables):
    """Policies of ``scope``'s functions by (function name, qualifier). Opening creates the
    table if it is missing."""

    concern = "policies"
    version = SCHEMA_VERSION

    def __init__(self, db: Database, scope: Scope) -> None:
        super().__init__(db, scope, _SCHEMA)

    def all(self) -> list[PolicyRow]:
        with self._lock:
            rows = self._conn.execute(
                "SELECT name, qualifier, document, revision FROM function_policies "
                "WHERE scope = ? ORDER BY name, qualifier",
                (self._scope,),
            ).fetchall()
        return [PolicyRow(str(n), str(q), json.loads(d), str(r)) for n, q, d, r in rows]

    def put(self, row: PolicyRow, expected_revision: str | None = None) -> None:
        """Insert or replace ``row``. ``expected_revision`` (the replaced policy's RevisionId,
        '' for none) is not checked: this store has one writer, whose cache it is."""
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT INTO function_policies (scope, name, qualifier, document, revision) "
                "VALUES (?, ?, ?, ?, ?) ON CONFLICT (scope, name, qualifier) DO UPDATE SET "
                "document = excluded.document, revision = excluded.revision",
                (self._scope, row.name, row.qualifier, json.dumps(row.document), row.revision),
            )

    def delete(self, name: str, qualifier: str) -> bool:
        """Drop the policy of ``name`` (and ``qualifier``); True if there was one."""
        with self._lock, self._conn:
            cursor = self._conn.execute(
                "DELETE FROM function_policies WHERE scope = ? AND name = ? AND qualifier = ?",
                (self._scope, name, qualifier),
            )
            return cursor.rowcount > 0

    def delete_function(self, name: str) -> int:
        """Drop every policy of function ``name``; returns how many went."""
        with self._lock, self._conn:
            return self._conn.execute(
                "DELETE FROM function_policies WHERE scope = ? AND name = ?", (self._scope, name)
            ).rowcount
