"""Functions, their published versions and their aliases: their tables and all their SQL.

Schema (version ``SCHEMA_VERSION`` of concern ``functions`` in ``schema_versions``); every
table is scoped (``store/database.py``): ``scope`` is the owning account and region's
``Scope.key`` and leads each key::

    functions
        scope        TEXT     the scope the function belongs to            (since schema 3)
        name         TEXT     function name
        version      TEXT     '$LATEST' or a published version number '1', '2', ...
        seq          INTEGER  creation order in its scope, increasing
        config       TEXT     the version's FunctionConfiguration, as JSON with AWS field names
        code_digest  TEXT     SHA-256 hex of the code zip (the BlobStore key)
        tags         TEXT     the function's tags as a JSON object (kept on the $LATEST row)
        PRIMARY KEY (scope, name, version)

    version_counters                                      (since schema 2)
        scope        TEXT
        name         TEXT     function name
        last         INTEGER  the highest version number ever published for it (never lowered, so
                              numbers are not reused after a version is deleted)
        PRIMARY KEY (scope, name)

    aliases                                               (since schema 2)
        scope        TEXT
        name         TEXT     function name
        alias        TEXT     alias name
        config       TEXT     the alias's AliasConfiguration, as JSON with AWS field names
        PRIMARY KEY (scope, name, alias)

Published versions are more rows of ``functions``. Deleting a function deletes its rows in all
three tables in one transaction. Opening an older file adds the missing tables (and seeds the
counters from the versions already stored); tables of schema 2 and before (no ``scope``) are
rebuilt with their rows in the database's legacy scope. The connection may be used from several
threads; a lock serialises it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from flare.scope import Scope
from flare.store.database import Connection, Database, ScopedTables

SCHEMA_VERSION = 3

_SCHEMA = """
CREATE TABLE IF NOT EXISTS functions (
    scope       TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    version     TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    config      TEXT    NOT NULL,
    code_digest TEXT    NOT NULL,
    tags        TEXT    NOT NULL DEFAULT '{}',
    PRIMARY KEY (scope, name, version)
);
CREATE TABLE IF NOT EXISTS version_counters (
    scope       TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    last        INTEGER NOT NULL,
    PRIMARY KEY (scope, name)
);
CREATE TABLE IF NOT EXISTS aliases (
    scope       TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    alias       TEXT    NOT NULL,
    config      TEXT    NOT NULL,
    PRIMARY KEY (scope, name, alias)
);
"""

_SEED_COUNTERS = """
INSERT OR IGNORE INTO version_counters (scope, name, last)
SELECT scope, name, MAX(CAST(version AS INTEGER)) FROM functions WHERE version != '$LATEST'
GROUP BY scope, name
"""


@dataclass(frozen=True)
class FunctionRow:
    """One stored function version."""

    name: str
    version: str
    config: dict[str, Any]
    code_digest: str
    tags: dict[str, str] = field(default_factory=dict)
    seq: int = 0


@dataclass(frozen=True)
class AliasRow:
    """One stored alias: its function's name, its own name and its AliasConfiguration."""

    name: str
    alias: str
    config: dict[str, Any]


def _row(record: tuple[Any, ...]) -> FunctionRow:
    name, version, seq, config, digest, tags = record
    return FunctionRow(name, version, json.loads(config), digest, json.loads(tags), seq)


class FunctionStore(ScopedTables):
    """The functions, versions and aliases of ``scope`` in ``db`` (tables made if missing).

    ``code_digests`` is the one question answered across scopes (see there)."""

    concern = "functions"
    version = SCHEMA_VERSION

    def __init__(self, db: Database, scope: Scope) -> None:
        super().__init__(db, scope, _SCHEMA)

    def _upgrade(self, found: int) -> None:
        if found < 2:
            self._conn.execute(_SEED_COUNTERS)

    def schema_version(self) -> int:
        return self.db.schema_version(self.concern)

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction of the whole database around what is done inside (``Database``)."""
        with self.db.transaction() as connection:
            yield connection

    def insert_function(self, row: FunctionRow) -> FunctionRow:
        """Store a new version; returns it with its creation ``seq``.

        Raises sqlite3.IntegrityError if (name, version) exists.
        """
        with self._lock, self._conn:
            seq = self._insert(row)
        return FunctionRow(row.name, row.version, row.config, row.code_digest, row.tags, seq)

    def update_function(self, row: FunctionRow, expected_revision: str | None = None) -> None:
        """Replace config, code and tags of an existing version (its ``seq`` is kept).
        ``expected_revision`` is not checked: this store has one writer, the registry whose
        cache it is, so the revision it expects is the stored one."""
        with self._lock, self._conn:
            self._conn.execute(
                "UPDATE functions SET config = ?, code_digest = ?, tags = ? "
                "WHERE scope = ? AND name = ? AND version = ?",
                (
                    json.dumps(row.config),
                    row.code_digest,
                    json.dumps(row.tags),
                    self._scope,
                    row.name,
                    row.version,
                ),
            )

    def publish_version(self, row: FunctionRow) -> FunctionRow:
        """Store published version ``row.version`` (a number) and raise the function's counter to
        it, in one transaction; returns the row with its ``seq``.

        Raises sqlite3.IntegrityError if that version exists.
        """
        with self._lock, self._conn:
            seq = self._insert(row)
            self._conn.execute(
                "INSERT INTO version_counters (scope, name, last) VALUES (?, ?, ?) "
                "ON CONFLICT (scope, name) DO UPDATE SET last = MAX(last, excluded.last)",
                (self._scope, row.name, int(row.version)),
            )
        return FunctionRow(row.name, row.version, row.config, row.code_digest, row.tags, seq)

    def _insert(self, row: FunctionRow) -> int:
        """Insert ``row`` as this scope's newest version; its ``seq``. Under the lock, in a
        transaction."""
        (seq,) = self._conn.execute(
            "SELECT COALESCE(MAX(seq), 0) + 1 FROM functions WHERE scope = ?", (self._scope,)
        ).fetchone()
        self._conn.execute(
            "INSERT INTO functions (scope, name, version, seq, config, code_digest, tags) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                self._scope,
                row.name,
                row.version,
                seq,
                json.dumps(row.config),
                row.code_digest,
                json.dumps(row.tags),
            ),
        )
        return int(seq)

    def version_counters(self) -> dict[str, int]:
        """The highest version number ever published, per function name."""
        with self._lock:
            return dict(
                self._conn.execute(
                    "SELECT name, last FROM version_counters WHERE scope = ?", (self._scope,)
                ).fetchall()
            )

    def version_counter(self, name: str) -> int | None:
        """The highest version number ever published for ``name`` (None: none)."""
        with self._lock:
            found = self._conn.execute(
                "SELECT last FROM version_counters WHERE scope = ? AND name = ?", (self._scope, name)
            ).fetchone()
        return None if found is None else int(found[0])

    def delete_function(self, name: str) -> int:
        """Delete every version, alias and the version counter of ``name`` in one transaction;
        returns how many versions went."""
        with self._lock, self._conn:
            key = (self._scope, name)
            self._conn.execute("DELETE FROM aliases WHERE scope = ? AND name = ?", key)
            self._conn.execute("DELETE FROM version_counters WHERE scope = ? AND name = ?", key)
            return self._conn.execute("DELETE FROM functions WHERE scope = ? AND name = ?", key).rowcount

    def delete_version(self, name: str, version: str) -> int:
        """Delete one version; returns 1 if it existed, else 0."""
        with self._lock, self._conn:
            cursor = self._conn.execute(
                "DELETE FROM functions WHERE scope = ? AND name = ? AND version = ?",
                (self._scope, name, version),
            )
            return cursor.rowcount

    def get_function(self, name: str, version: str) -> FunctionRow | None:
        with self._lock:
            record = self._conn.execute(
                "SELECT name, version, seq, config, code_digest, tags FROM functions "
                "WHERE scope = ? AND name = ? AND version = ?",
                (self._scope, name, version),
            ).fetchone()
        return None if record is None else _row(record)

    def function_rows(self, name: str) -> list[FunctionRow]:
        """Every stored version of ``name``, in creation order."""
        with self._lock:
            records = self._conn.execute(
                "SELECT name, version, seq, config, code_digest, tags FROM functions "
                "WHERE scope = ? AND name = ? ORDER BY seq",
                (self._scope, name),
            ).fetchall()
        return [_row(record) for record in records]

    def all_functions(self) -> list[FunctionRow]:
        """Every stored version, in creation order."""
        with self._lock:
            records = self._conn.execute(
                "SELECT name, version, seq, config, code_digest, tags FROM functions "
                "WHERE scope = ? ORDER BY seq",
                (self._scope,),
            ).fetchall()
        return [_row(record) for record in records]

    def code_digests(self) -> set[str]:
        """Every code digest some stored version of *any* scope still uses: the blob store is
        one for every scope (content-addressed, shared), so what may be deleted from it is
        decided across them all."""
        with self._lock:
            return {digest for (digest,) in self._conn.execute("SELECT DISTINCT code_digest FROM functions")}

    def put_alias(self, row: AliasRow, expected_revision: str | None = None) -> None:
        """Insert or replace one alias. ``expected_revision`` is not checked: this store has one
        writer, the registry whose cache it is (see ``update_function``)."""
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO aliases (scope, name, alias, config) VALUES (?, ?, ?, ?)",
                (self._scope, row.name, row.alias, json.dumps(row.config)),
            )

    def delete_alias(self, name: str, alias: str) -> int:
        """Delete one alias; returns 1 if it existed, else 0."""
        with self._lock, self._conn:
            return self._conn.execute(
                "DELETE FROM aliases WHERE scope = ? AND name = ? AND alias = ?", (self._scope, name, alias)
            ).rowcount

    def function_aliases(self, name: str) -> list[AliasRow]:
        """The aliases of ``name``, by alias name."""
        with self._lock:
            records = self._conn.execute(
                "SELECT name, alias, config FROM aliases WHERE scope = ? AND name = ? ORDER BY alias",
                (self._scope, name),
            ).fetchall()
        return [AliasRow(n, alias, json.loads(config)) for n, alias, config in records]

    def all_aliases(self) -> list[AliasRow]:
        """Every stored alias, by function then alias name."""
        with self._lock:
            records = self._conn.execute(
                "SELECT name, alias, config FROM aliases WHERE scope = ? ORDER BY name, alias", (self._scope,)
            )
            return [AliasRow(name, alias, json.loads(config)) for name, alias, config in records]
