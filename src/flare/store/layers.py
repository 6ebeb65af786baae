"""Layer versions, durable: tables of their own in Flare's SQLite file.

Schema (version ``SCHEMA_VERSION`` of concern ``layers``; scoped: ``scope`` holds the owning
account and region's ``Scope.key`` and leads each key, see ``store/database.py``)::

    layer_versions
        scope          TEXT     the scope the layer belongs to                (since schema 2)
        name           TEXT     layer name
        version        INTEGER  1, 2, ... in publishing order
        config         TEXT     the version as GetLayerVersion answers it (AWS field names, JSON),
                                ``Content.Location`` left out (it is made per request)
        code_digest    TEXT     SHA-256 hex of the zip (its ``BlobStore`` key)
        unzipped_size  INTEGER  bytes of the zip's files once unpacked
        deleted        INTEGER  1 once DeleteLayerVersion ran: hidden from every layer operation,
                                kept while a function version still uses it
        policy         TEXT     the version's policy statements, a JSON list (``[]``: no policy)
        policy_revision TEXT    the policy's RevisionId, NULL while it has none
        PRIMARY KEY (scope, name, version)

    layer_counters
        scope  TEXT                                                          (since schema 2)
        name   TEXT     layer name
        last   INTEGER  the highest version number ever published (never lowered: numbers are
                        not reused, even after every version of the layer was deleted)
        PRIMARY KEY (scope, name)

Schema 1 (never recorded) had no ``scope``: its tables are rebuilt, their rows in the
database's legacy scope. Tables of Flare's one database (``store/database.py``), made if
missing; all their SQL is here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from flare.scope import Scope
from flare.store.database import Database, ScopedTables

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS layer_versions (
    scope           TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    version         INTEGER NOT NULL,
    config          TEXT    NOT NULL,
    code_digest     TEXT    NOT NULL,
    unzipped_size   INTEGER NOT NULL,
    deleted         INTEGER NOT NULL DEFAULT 0,
    policy          TEXT    NOT NULL DEFAULT '[]',
    policy_revision TEXT,
    PRIMARY KEY (scope, name, version)
);
CREATE TABLE IF NOT EXISTS layer_counters (
    scope TEXT    NOT NULL,
    name  TEXT    NOT NULL,
    last  INTEGER NOT NULL,
    PRIMARY KEY (scope, name)
);
"""
_COLUMNS = "name, version, config, code_digest, unzipped_size, deleted, policy, policy_revision"


@dataclass(frozen=True)
class LayerVersionRow:
    """One stored layer version."""

    name: str
    version: int
    config: dict[str, Any]
    code_digest: str
    unzipped_size: int
    deleted: bool = False
    policy: list[dict[str, Any]] = field(default_factory=list)
    policy_revision: str | None = None


def _row(record: tuple[Any, ...]) -> LayerVersionRow:
    name, version, config, digest, size, deleted, policy, revision = record
    return LayerVersionRow(
        str(name),
        int(version),
        json.loads(config),
        str(digest),
        int(size),
        bool(deleted),
        json.loads(policy),
        revision,
    )


class LayerStore(ScopedTables):
    """The layer versions of ``scope``, by (name, version). Opening creates the tables if they
    are missing. ``code_digests`` is the one question answered across scopes (see there)."""

    concern = "layers"
    version = SCHEMA_VERSION

    def __init__(self, db: Database, scope: Scope) -> None:
        super().__init__(db, scope, _SCHEMA)

    def publish(self, name: str, build: Callable[[int], LayerVersionRow]) -> LayerVersionRow:
        """Store ``build(n)`` as version n of ``name``, n one above the highest number ever
        published for it, and raise the counter, in one transaction; returns the stored row."""
        with self._lock, self._conn:
            found = self._conn.execute(
                "SELECT last FROM layer_counters WHERE scope = ? AND name = ?", (self._scope, name)
            ).fetchone()
            row = replace(build((found[0] if found else 0) + 1), name=name)
            self._conn.execute(
                f"INSERT INTO layer_versions (scope, {_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    self._scope,
                    row.name,
                    row.version,
                    json.dumps(row.config),
                    row.code_digest,
                    row.unzipped_size,
                    int(row.deleted),
                    json.dumps(row.policy),
                    row.policy_revision,
                ),
            )
            self._conn.execute(
                "INSERT INTO layer_counters (scope, name, last) VALUES (?, ?, ?) "
                "ON CONFLICT (scope, name) DO UPDATE SET last = MAX(last, excluded.last)",
                (self._scope, name, row.version),
            )
        return row

    def get(self, name: str, version: int) -> LayerVersionRow | None:
        """Version ``version`` of ``name``, deleted or not (see ``LayerVersionRow.deleted``)."""
        with self._lock:
            record = self._conn.execute(
                f"SELECT {_COLUMNS} FROM layer_versions WHERE scope = ? AND name = ? AND version = ?",
                (self._scope, name, version),
            ).fetchone()
        return None if record is None else _row(record)

    def live(self, name: str | None = None) -> list[LayerVersionRow]:
        """Every version not deleted (of layer ``name`` only, when given), by name then newest
        first."""
        where, args = ("AND name = ?", (name,)) if name is not None else ("", ())
        with self._lock:
            records = self._conn.execute(
                f"SELECT {_COLUMNS} FROM layer_versions WHERE scope = ? AND deleted = 0 {where} "
                "ORDER BY name, version DESC",
                (self._scope, *args),
            ).fetchall()
        return [_row(record) for record in records]

    def mark_deleted(self, name: str, version: int) -> bool:
        """Hide version ``version`` of ``name``; True if it was live."""
        with self._lock, self._conn:
            cursor = self._conn.execute(
                "UPDATE layer_versions SET deleted = 1 "
                "WHERE scope = ? AND name = ? AND version = ? AND deleted = 0",
                (self._scope, name, version),
            )
            return cursor.rowcount > 0

    def set_policy(
        self,
        name: str,
        version: int,
        policy: list[dict[str, Any]],
        revision: str | None,
        expected_revision: str | None = None,
    ) -> None:
        """Replace the policy statements and RevisionId of a stored version.
        ``expected_revision`` is not checked: one event loop reads and writes this store, so
        nothing changes between the controller's read and this write."""
        with self._lock, self._conn:
            self._conn.execute(
                "UPDATE layer_versions SET policy = ?, policy_revision = ? "
                "WHERE scope = ? AND name = ? AND version = ?",
                (json.dumps(policy), revision, self._scope, name, version),
            )

    def purge_deleted(self, keep: set[tuple[str, int]]) -> list[tuple[str, int]]:
        """Drop the rows of this scope's deleted versions not in ``keep`` (those functions still
        use); returns the dropped (name, version) pairs. Counters are kept."""
        with self._lock, self._conn:
            doomed = [
                (str(name), int(version))
                for name, version in self._conn.execute(
                    "SELECT name, version FROM layer_versions WHERE scope = ? AND deleted = 1", (self._scope,)
                )
                if (name, version) not in keep
            ]
            self._conn.executemany(
                "DELETE FROM layer_versions WHERE scope = ? AND name = ? AND version = ?",
                [(self._scope, name, version) for name, version in doomed],
            )
        return doomed

    def code_digests(self) -> set[str]:
        """The zip digest of every stored version of *any* scope (deleted ones still kept
        included): the blob store is shared by every scope, so what may be deleted from it is
        decided across them all."""
        with self._lock:
            return {
                str(digest)
                for (digest,) in self._conn.execute("SELECT DISTINCT code_digest FROM layer_versions")
            }
