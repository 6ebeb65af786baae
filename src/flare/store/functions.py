"""Functions, their published versions and their aliases: their tables and all their SQL.

Schema (version ``SCHEMA_VERSION`` of concern ``functions`` in ``schema_versions``)::

    functions
        name         TEXT     function name
        version      TEXT     '$LATEST' or a published version number '1', '2', ...
        seq          INTEGER  creation order, increasing, never reused
        config       TEXT     the version's FunctionConfiguration, as JSON with AWS field names
        code_digest  TEXT     SHA-256 hex of the code zip (the BlobStore key)
        tags         TEXT     the function's tags as a JSON object (kept on the $LATEST row)
        PRIMARY KEY (name, version)

    version_counters                                      (since schema 2)
        name         TEXT     function name
        last         INTEGER  the highest version number ever published for it (never lowered, so
                              numbers are not reused after a version is deleted)
        PRIMARY KEY (name)

    aliases                                               (since schema 2)
        name         TEXT     function name
        alias        TEXT     alias name
        config       TEXT     the alias's AliasConfiguration, as JSON with AWS field names
        PRIMARY KEY (name, alias)

Published versions are more rows of ``functions``. Deleting a function deletes its rows in all
three tables in one transaction. Opening an older file adds the missing tables (and seeds the
counters from the versions already stored). The connection may be used from several threads; a
lock serialises it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from flare.store.database import Database, Tables

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS functions (
    name        TEXT    NOT NULL,
    version     TEXT    NOT NULL,
    seq         INTEGER NOT NULL,
    config      TEXT    NOT NULL,
    code_digest TEXT    NOT NULL,
    tags        TEXT    NOT NULL DEFAULT '{}',
    PRIMARY KEY (name, version)
);
CREATE TABLE IF NOT EXISTS version_counters (
    name        TEXT    NOT NULL PRIMARY KEY,
    last        INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS aliases (
    name        TEXT    NOT NULL,
    alias       TEXT    NOT NULL,
    config      TEXT    NOT NULL,
    PRIMARY KEY (name, alias)
);
"""

_SEED_COUNTERS = """
INSERT OR IGNORE INTO version_counters (name, last)
SELECT name, MAX(CAST(version AS INTEGER)) FROM functions WHERE version != '$LATEST' GROUP BY name
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


class FunctionStore(Tables):
    """The function tables of ``db`` (made if missing)."""

    concern = "functions"
    version = SCHEMA_VERSION

    def __init__(self, db: Database) -> None:
        super().__init__(db, _SCHEMA)

    def _upgrade(self, found: int) -> None:
        if found < 2:
            self._conn.execute(_SEED_COUNTERS)

    def schema_version(self) -> int:
        return self.db.schema_version(self.concern)

    def insert_function(self, row: FunctionRow) -> FunctionRow:
        """Store a new version; returns it with its creation ``seq``.

        Raises sqlite3.IntegrityError if (name, version) exists.
        """
        with self._lock, self._conn:
            (seq,) = self._conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM functions").fetchone()
            self._conn.execute(
                "INSERT INTO functions (name, version, seq, config, code_digest, tags) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (row.name, row.version, seq, json.dumps(row.config), row.code_digest, json.dumps(row.tags)),
            )
        return FunctionRow(row.name, row.version, row.config, row.code_digest, row.tags, seq)

    def update_function(self, row: FunctionRow) -> None:
        """Replace config, code and tags of an existing version (its ``seq`` is kept)."""
        with self._lock, self._conn:
            self._conn.execute(
                "UPDATE functions SET config = ?, code_digest = ?, tags = ? WHERE name = ? AND version = ?",
                (json.dumps(row.config), row.code_digest, json.dumps(row.tags), row.name, row.version),
            )

    def publish_version(self, row: FunctionRow) -> FunctionRow:
        """Store published version ``row.version`` (a number) and raise the function's counter to
        it, in one transaction; returns the row with its ``seq``.

        Raises sqlite3.IntegrityError if that version exists.
        """
        with self._lock, self._conn:
            (seq,) = self._conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM functions").fetchone()
            self._conn.execute(
                "INSERT INTO functions (name, version, seq, config, code_digest, tags) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                (row.name, row.version, seq, json.dumps(row.config), row.code_digest, json.dumps(row.tags)),
            )
            self._conn.execute(
                "INSERT INTO version_counters (name, last) VALUES (?, ?) "
                "ON CONFLICT (name) DO UPDATE SET last = MAX(last, excluded.last)",
                (row.name, int(row.version)),
            )
        return FunctionRow(row.name, row.version, row.config, row.code_digest, row.tags, seq)

    def version_counters(self) -> dict[str, int]:
        """The highest version number ever published, per function name."""
        with self._lock:
            return dict(self._conn.execute("SELECT name, last FROM version_counters").fetchall())

    def delete_function(self, name: str) -> int:
        """Delete every version, alias and the version counter of ``name`` in one transaction;
        returns how many versions went."""
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM aliases WHERE name = ?", (name,))
            self._conn.execute("DELETE FROM version_counters WHERE name = ?", (name,))
            return self._conn.execute("DELETE FROM functions WHERE name = ?", (name,)).rowcount

    def delete_version(self, name: str, version: str) -> int:
        """Delete one version; returns 1 if it existed, else 0."""
        with self._lock, self._conn:
            cursor = self._conn.execute(
                "DELETE FROM functions WHERE name = ? AND version = ?", (name, version)
            )
            return cursor.rowcount

    def get_function(self, name: str, version: str) -> FunctionRow | None:
        with self._lock:
            record = self._conn.execute(
                "SELECT name, version, seq, config, code_digest, tags FROM functions "
                "WHERE name = ? AND version = ?",
                (name, version),
            ).fetchone()
        return None if record is None else _row(record)

    def all_functions(self) -> list[FunctionRow]:
        """Every stored version, in creation order."""
        with self._lock:
            records = self._conn.execute(
                "SELECT name, version, seq, config, code_digest, tags FROM functions ORDER BY seq"
            ).fetchall()
        return [_row(record) for record in records]

    def code_digests(self) -> set[str]:
        """Every code digest some stored version still uses."""
        with self._lock:
            return {digest for (digest,) in self._conn.execute("SELECT DISTINCT code_digest FROM functions")}

    def put_alias(self, row: AliasRow) -> None:
        """Insert or replace one alias."""
        with self._lock, self._conn:
            self._conn.execute(
                "INSERT OR REPLACE INTO aliases (name, alias, config) VALUES (?, ?, ?)",
                (row.name, row.alias, json.dumps(row.config)),
            )

    def delete_alias(self, name: str, alias: str) -> int:
        """Delete one alias; returns 1 if it existed, else 0."""
        with self._lock, self._conn:
            return self._conn.execute(
                "DELETE FROM aliases WHERE name = ? AND alias = ?", (name, alias)
            ).rowcount

    def all_aliases(self) -> list[AliasRow]:
        """Every stored alias, by function then alias name."""
        with self._lock:
            records = self._conn.execute("SELECT name, alias, config FROM aliases ORDER BY name, alias")
            return [AliasRow(name, alias, json.loads(config)) for name, alias, config in records]
