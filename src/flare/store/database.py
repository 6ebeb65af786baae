"""Flare's one SQLite database: the file, its one connection, and the transactions around it.

Every durable table of one Flare (functions, their versions and aliases, concurrency settings,
policies, code signing, layers, function URLs, schedules, async events, event source mappings,
queues and streams, the log index, Flare's own keys) lives in ``<data dir>/flare.db`` and is
reached through this one connection. Each concern keeps its SQL in a module of its own under
``store/``, built on ``Tables``; none opens a file of its own.

Transactions nest. The outermost ``with db.connection:`` (every store method writes inside one,
as ``with self._lock, self._conn:``) begins a transaction and commits it when it ends, or rolls
it back when it raises; inner ones join it. So several stores' changes made inside one outer
``with db.transaction():`` are one commit or none: deleting a function and what belongs to it
is one. The lock is re-entrant and serialises every thread's use of the connection. WAL
journal, ``synchronous=NORMAL``: a commit survives a ``kill -9`` of the engine.

Each concern records its schema version in ``schema_versions`` (SQLite's one ``user_version``
cannot serve several). A data directory written by a Flare that kept the async events and the
embedded services in files of their own (``events.db``, ``services.db``) has their rows moved in
once (``absorb``); the old file is kept as ``<name>.merged``.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

_VERSIONS = """
CREATE TABLE IF NOT EXISTS schema_versions (
    concern TEXT    NOT NULL PRIMARY KEY,
    version INTEGER NOT NULL
);
"""


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
    """``path`` opened once: ``connection``, ``lock``, ``transaction()``, schema versions."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self.lock = threading.RLock()
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

    def absorb(self, old: Path) -> int:
        """Move every row of the database file ``old`` (a file an older Flare kept apart) into
        the same-named tables here, column by common column, in one transaction; then keep it
        as ``<name>.merged``. Returns how many rows came. Call after every concern's tables
        exist. Does nothing when ``old`` does not exist."""
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
        mine = {row[1] for row in self.connection.execute(f"PRAGMA main.table_info({table})")}
        theirs = [row[1] for row in self.connection.execute(f"PRAGMA old.table_info({table})")]
        columns = ", ".join(name for name in theirs if name in mine)
        if not mine or not columns:
            return 0
        cursor = self.connection.execute(
            f"INSERT OR IGNORE INTO main.{table} ({columns}) SELECT {columns} FROM old.{table}"
        )
        return cursor.rowcount

    def close(self) -> None:
        with self.lock:
            self.connection.close()


class Tables:
    """What every concern's store shares: the database's connection and lock, and its own
    tables made (``schema``, idempotent DDL) when it is built. Subclasses keep all their SQL.

    ``concern`` and ``version`` name the schema version recorded in ``schema_versions``;
    ``_upgrade(found)`` brings tables written at an older version (``found``) up to date.
    """

    concern = ""
    version = 1

    def __init__(self, db: Database, schema: str) -> None:
        self.db = db
        self._lock = db.lock
        self._conn = db.connection
        with self._lock:
            found = db.schema_version(self.concern) if self.concern else 0
            self._conn.executescript(schema)
            with self._conn:
                self._upgrade(found)
            if self.concern:
                db.set_schema_version(self.concern, self.version)

    def _upgrade(self, found: int) -> None:
        """Bring tables written at schema version ``found`` (0: new, or never recorded) up to
        this version; runs inside a transaction, under the lock. Nothing by default."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.db.path}>"

    def close(self) -> None:
        """Nothing to do: the database closes once, for every concern."""
