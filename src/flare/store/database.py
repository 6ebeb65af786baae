"""Flare's one SQLite database: the file, its one connection, and the transactions around it.

Every durable table of one Flare (functions, their versions and aliases, concurrency settings,
policies, code signing, layers, function URLs, schedules, async events, event source mappings,
queues and streams, the log index, Flare's own keys, execution roles' policies) lives in
``<data dir>/flare.db`` and is reached through this one connection. Each concern keeps its SQL
in a module of its own under ``store/``, built on ``Tables``; none opens a file of its own.

Scopes. Every resource belongs to one account in one region (``flare.scope.Scope``), and so does
every row of a *scoped* table: its ``scope`` column holds ``Scope.key``
(``"123456789012:us-east-1"``) and leads every key and index that names a resource, so two
scopes may each have a function, queue, layer, log group... of the same name. A scoped store
(``ScopedTables``) is built for one scope and reads, counts, writes and deletes only that
scope's rows; Flare builds one set of them per scope in use (``Database.scopes_in_use``).
``SecretStore`` (Flare's own keys) and ``RolePolicyStore`` (execution roles' policies: a role
ARN names its account, and roles span regions) are the global concerns.

Transactions nest. The outermost ``with db.connection:`` (every store method writes inside one,
as ``with self._lock, self._conn:``) begins a transaction and commits it when it ends, or rolls
it back when it raises; inner ones join it. So several stores' changes made inside one outer
``with db.transaction():`` are one commit or none: deleting a function and what belongs to it
is one. The lock is re-entrant and serialises every thread's use of the connection. WAL
journal, ``synchronous=NORMAL``: a commit survives a ``kill -9`` of the engine.

Schemas. Each concern records its schema version in ``schema_versions`` (SQLite's one
``user_version`` cannot serve several). Its tables are made and upgraded once per ``Database``
in a process, when its first store is built: building the stores of one more scope runs no DDL.

Older files, nothing lost. Tables written before scopes existed have no ``scope`` column; the
first open by this code rebuilds each of them to its new DDL (one transaction per concern) and
files every old row under ``legacy_scope``, the scope the engine serves by default. A data
directory written by a Flare that kept the async events and the embedded services in files of
their own (``events.db``, ``services.db``) has their rows moved in once (``absorb``), also into
``legacy_scope``; the old file is kept as ``<name>.merged``.
"""

from __future__ import annotations

import re
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar

from flare.scope import Scope

SCOPE_COLUMN = "scope"
_VERSIONS = """
CREATE TABLE IF NOT EXISTS schema_versions (
    concern TEXT    NOT NULL PRIMARY KEY,
    version INTEGER NOT NULL
);
"""
_CREATE_TABLE = re.compile(r"CREATE\s+TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?(\w+)", re.IGNORECASE)
_ASIDE = "{}__unscoped"  # where a table of before scopes waits while its successor is filled


class Connection:
    """The one ``sqlite3`` connection, with transactions that nest (see the module docstring).

    Use it under the database's lock; ``execute`` and friends pass straight through.
    """

    def __init__(self, raw: sqlite3.Connection) -> None:
        self._raw = raw
        self._depth = 0

    def __enter__(self) -> Connection:
        if self._depth == 0:
            self._raw.execute("BEGIN")
        self._depth += 1
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, trace: TracebackType | None
    ) -> None:
        self._depth -= 1
        if self._depth == 0:
            if kind is None:
                self._raw.execute("COMMIT")
            else:
                self._raw.execute("ROLLBACK")

    def execute(self, sql: str, parameters: Sequence[Any] = ()) -> sqlite3.Cursor:
        return self._raw.execute(sql, parameters)

    def executemany(self, sql: str, rows: Any) -> sqlite3.Cursor:
        return self._raw.executemany(sql, rows)

    def executescript(self, script: str) -> None:
        """Run DDL outside any transaction (SQLite's ``executescript`` commits first)."""
        if self._depth:
            raise RuntimeError("executescript inside a transaction would commit it")
        self._raw.executescript(script)

    @property
    def total_changes(self) -> int:
        return self._raw.total_changes

    def close(self) -> None:
        self._raw.close()


class Database:
    """``path`` opened once: ``connection``, ``lock``, ``transaction()``, schema versions.

    ``legacy_scope`` is the scope that rows written before scopes existed belong to (the
    engine's default account and region): older tables and absorbed files land there.
    """

    def __init__(self, path: Path, legacy_scope: Scope) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.legacy_scope = legacy_scope
        self.lock = threading.RLock()
        self._made: set[str] = set()  # concerns whose tables this object made (or found) and upgraded
        self._scoped_tables: set[str] = set()  # the tables of those that are scoped
        raw = sqlite3.connect(path, check_same_thread=False, timeout=10, isolation_level=None)
        raw.execute("PRAGMA journal_mode=WAL")
        raw.execute("PRAGMA synchronous=NORMAL")
        self.connection = Connection(raw)
        with self.lock:
            new = raw.execute("SELECT 1 FROM sqlite_master WHERE name = 'schema_versions'").fetchone() is None
            self.connection.executescript(_VERSIONS)
            (legacy,) = raw.execute("PRAGMA user_version").fetchone()
            if new and legacy:  # a file of an older Flare: user_version was the functions' schema
                self.set_schema_version("functions", int(legacy))

    def __repr__(self) -> str:
        return f"<Database {self.path}>"

    @contextmanager
    def transaction(self) -> Iterator[Connection]:
        """One transaction around everything done inside (nested ones join it)."""
        with self.lock, self.connection:
            yield self.connection

    def schema_version(self, concern: str) -> int:
        """The schema version ``concern``'s tables were last migrated to (0: never)."""
        with self.lock:
            found = self.connection.execute(
                "SELECT version FROM schema_versions WHERE concern = ?", (concern,)
            ).fetchone()
        return 0 if found is None else int(found[0])

    def set_schema_version(self, concern: str, version: int) -> None:
        with self.lock, self.connection:
            self.connection.execute(
                "INSERT INTO schema_versions (concern, version) VALUES (?, ?) "
                "ON CONFLICT (concern) DO UPDATE SET version = excluded.version",
                (concern, version),
            )

    def scopes_in_use(self) -> set[Scope]:
        """Every scope with at least one row in a scoped table of a concern some store was built
        for in this process (build the default scope's stores first, then ask). Counters that
        outlive what they count (a deleted queue's or layer's) keep their scope in use. Walks
        each table's scope-led index from one distinct scope to the next, not every row."""
        found: set[str] = set()
        with self.lock:
            for table in sorted(self._scoped_tables):
                key = ""
                while True:
                    (key,) = self.connection.execute(
                        f"SELECT MIN({SCOPE_COLUMN}) FROM {table} WHERE {SCOPE_COLUMN} > ?", (key,)
                    ).fetchone()
                    if key is None:
                        break
                    found.add(key)
        return {Scope.from_key(key) for key in found}

    def absorb(self, old: Path) -> int:
        """Move every row of the database file ``old`` (a file an older Flare kept apart) into
        the same-named tables here, column by common column, in one transaction, rows of
        scoped tables into ``legacy_scope``; then keep it as ``<name>.merged``. Returns how
        many rows came. Call after every concern's tables exist. Does nothing when ``old`` does
        not exist."""
        if not old.exists():
            return 0
        moved = 0
        with self.lock:
            self.connection.execute("ATTACH DATABASE ? AS old", (str(old),))
            try:
                with self.connection:
                    for (table,) in self.connection.execute(
                        "SELECT name FROM old.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
                    ).fetchall():
                        moved += self._copy(table)
            finally:
                self.connection.execute("DETACH DATABASE old")
        for suffix in ("", "-wal", "-shm"):
            part = old.with_name(old.name + suffix)
            if part.exists():
                part.rename(part.with_name(part.name.replace(old.name, old.name + ".merged", 1)))
        return moved

    def _copy(self, table: str) -> int:
        mine = _columns(self.connection, table, "main")
        theirs = _columns(self.connection, table, "old")
        columns = ", ".join(name for name in theirs if name in mine)
        if not mine or not columns:
            return 0
        if SCOPE_COLUMN in mine and SCOPE_COLUMN not in theirs:
            cursor = self.connection.execute(
                f"INSERT OR IGNORE INTO main.{table} ({SCOPE_COLUMN}, {columns}) "
                f"SELECT ?, {columns} FROM old.{table}",
                (self.legacy_scope.key,),
            )
        else:
            cursor = self.connection.execute(
                f"INSERT OR IGNORE INTO main.{table} ({columns}) SELECT {columns} FROM old.{table}"
            )
        return cursor.rowcount

    def close(self) -> None:
        with self.lock:
            self.connection.close()


def _columns(connection: Connection, table: str, schema: str = "main") -> list[str]:
    """The column names of ``schema.table``, in order ([] when there is no such table)."""
    return [row[1] for row in connection.execute(f"PRAGMA {schema}.table_info({table})")]


@dataclass(frozen=True)
class _Schema:
    """A concern's DDL script as its statements, and each table's own ``CREATE TABLE``."""

    statements: tuple[str, ...]
    tables: dict[str, str]

    @classmethod
    def parse(cls, script: str) -> _Schema:
        statements: list[str] = []
        pending = ""
        for line in script.splitlines(keepends=True):
            pending += line
            if sqlite3.complete_statement(pending):
                statements.append(pending.strip())
                pending = ""
        if pending.strip():
            raise ValueError(f"incomplete DDL statement: {pending.strip()!r}")
        tables = {}
        for statement in statements:
            match = _CREATE_TABLE.match(statement)
            if match:
                tables[match.group(1)] = statement
        return cls(tuple(statements), tables)


class Tables:
    """What every concern's store shares: the database's connection and lock, and its own
    tables made (``schema``, idempotent DDL) when its first store is built on ``db``.
    Subclasses keep all their SQL.

    ``concern`` and ``version`` name the schema version recorded in ``schema_versions``;
    ``_upgrade(found)`` brings tables written at an older version (``found``) up to date. Both
    run once per concern and ``Database``: building more stores of the concern (for more scopes)
    costs no DDL.
    """

    concern = ""
    version = 1
    scoped: ClassVar[bool] = False

    def __init__(self, db: Database, schema: str) -> None:
        self.db = db
        self._lock = db.lock
        self._conn = db.connection
        made = self.concern or type(self).__qualname__
        with self._lock:
            if made in db._made:
                return
            self._make(_Schema.parse(schema))
            db._made.add(made)

    def _make(self, schema: _Schema) -> None:
        """In one transaction: rebuild the tables of before scopes (scoped concerns, when the
        recorded version is older), run the DDL, ``_upgrade`` and record the version (when it
        changed: a second open writes nothing)."""
        found = self.db.schema_version(self.concern) if self.concern else 0
        with self._conn:
            if self.scoped and found < self.version:
                for table, create in schema.tables.items():
                    self._rescope(table, create)
            for statement in schema.statements:
                self._conn.execute(statement)
            self._upgrade(found)
            if self.concern and found != self.version:
                self.db.set_schema_version(self.concern, self.version)
        if self.scoped:
            self.db._scoped_tables.update(schema.tables)

    def _rescope(self, table: str, create: str) -> int:
        """Rebuild ``table``, if it exists without a ``scope`` column, to its new DDL
        ``create``: set the old table aside (its indexes dropped), create the new one, copy
        every row with the columns both have and ``scope`` = the database's legacy scope, drop
        the old one. The caller's DDL run recreates the indexes. SQLite cannot change a primary
        key in place, hence the rebuild. Runs inside the caller's transaction; returns how many
        rows were copied (0 when there was nothing to do)."""
        old = _columns(self._conn, table)
        if not old or SCOPE_COLUMN in old:
            return 0
        indexes = self._conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? AND sql IS NOT NULL",
            (table,),
        ).fetchall()
        for (index,) in indexes:
            self._conn.execute(f'DROP INDEX "{index}"')
        aside = _ASIDE.format(table)
        self._conn.execute(f"ALTER TABLE {table} RENAME TO {aside}")
        self._conn.execute(create)
        new = _columns(self._conn, table)
        columns = ", ".join(name for name in old if name in new)
        cursor = self._conn.execute(
            f"INSERT INTO {table} ({SCOPE_COLUMN}, {columns}) SELECT ?, {columns} FROM {aside}",
            (self.db.legacy_scope.key,),
        )
        self._conn.execute(f"DROP TABLE {aside}")
        return cursor.rowcount

    def _upgrade(self, found: int) -> None:
        """Bring tables written at schema version ``found`` (0: new, or never recorded) up to
        this version, after the DDL ran; runs inside a transaction, under the lock, once per
        concern and ``Database``. Nothing by default."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.db.path}>"

    def close(self) -> None:
        """Nothing to do: the database closes once, for every concern."""


class ScopedTables(Tables):
    """The tables of a concern whose rows belong to an account in a region, seen from
    ``scope``: every query of a subclass filters on (or inserts) ``self._scope``, the scope's
    key, in the ``scope`` column that leads each of its keys and indexes. Bump ``version`` when
    the tables first get their ``scope`` column: ``Tables`` then rebuilds older tables and
    files their rows under the database's legacy scope."""

    scoped = True

    def __init__(self, db: Database, scope: Scope, schema: str) -> None:
        self.scope = scope
        self._scope = scope.key
        super().__init__(db, schema)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.scope.key} {self.db.path}>"
