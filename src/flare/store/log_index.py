"""The index of the embedded CloudWatch Logs service: log groups and log streams, durable.

The events themselves live in files (``observe/logs.py``); this module keeps what is asked of
groups and streams without reading them. Schema (version ``SCHEMA_VERSION`` of concern
``log_index``; every table scoped: ``scope`` holds the owning account and region's
``Scope.key`` and leads each key, see ``store/database.py``; schema 1, never recorded, had no
``scope``: its tables are rebuilt, their rows in the database's legacy scope)::

    log_groups
        scope        TEXT
        name         TEXT     the log group's name
        created_ms   INTEGER  creationTime, epoch milliseconds
        retention    INTEGER  retentionInDays, NULL for never expire
        group_class  TEXT     logGroupClass (STANDARD unless asked otherwise)
        next_seq     INTEGER  the sequence number the group's next event gets (events of a group
                              are numbered 0, 1, 2, ... in the order they were stored)
        PRIMARY KEY (scope, name)

    log_streams
        scope        TEXT
        grp          TEXT     the log group's name
        name         TEXT     the log stream's name
        created_ms   INTEGER  creationTime
        first_ms     INTEGER  firstEventTimestamp, NULL while the stream has no event
        last_ms      INTEGER  lastEventTimestamp, NULL likewise
        ingested_ms  INTEGER  lastIngestionTime, NULL likewise
        bytes        INTEGER  bytes of event text stored
        last_seq     INTEGER  the group sequence number of the stream's newest event, -1 if none
        PRIMARY KEY (scope, grp, name)

Tables of Flare's one database (``store/database.py``), made if missing; all their SQL is here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from flare.scope import Scope
from flare.store.database import Database, ScopedTables

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS log_groups (
    scope       TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    created_ms  INTEGER NOT NULL,
    retention   INTEGER,
    group_class TEXT    NOT NULL DEFAULT 'STANDARD',
    next_seq    INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (scope, name)
);
CREATE TABLE IF NOT EXISTS log_streams (
    scope       TEXT    NOT NULL,
    grp         TEXT    NOT NULL,
    name        TEXT    NOT NULL,
    created_ms  INTEGER NOT NULL,
    first_ms    INTEGER,
    last_ms     INTEGER,
    ingested_ms INTEGER,
    bytes       INTEGER NOT NULL DEFAULT 0,
    last_seq    INTEGER NOT NULL DEFAULT -1,
    PRIMARY KEY (scope, grp, name)
);
"""

_GROUP_COLUMNS = "name, created_ms, retention, group_class, next_seq"
_STREAM_COLUMNS = "grp, name, created_ms, first_ms, last_ms, ingested_ms, bytes, last_seq"


@dataclass(frozen=True)
class GroupRow:
    name: str
    created_ms: int
    retention_days: int | None
    group_class: str
    next_seq: int


@dataclass(frozen=True)
class StreamRow:
    group: str
    name: str
    created_ms: int
    first_ms: int | None
    last_ms: int | None
    ingested_ms: int | None
    stored_bytes: int
    last_seq: int


@dataclass(frozen=True)
class StreamGrowth:
    """What was appended to one stream since the last report: merged into its row (and the
    stream and its group created if missing, stamped ``created_ms``)."""

    group: str
    stream: str
    created_ms: int
    first_ms: int
    last_ms: int
    ingested_ms: int
    added_bytes: int
    last_seq: int


class LogIndex(ScopedTables):
    """``scope``'s groups by name, streams by (group, name). Opening creates the tables if
    missing."""

    concern = "log_index"
    version = SCHEMA_VERSION

    def __init__(self, db: Database, scope: Scope) -> None:
        super().__init__(db, scope, _SCHEMA)

    # ---- groups -----------------------------------------------------------------------------

    def create_group(self, name: str, created_ms: int, group_class: str = "STANDARD") -> bool:
        """Add group ``name``; False (and nothing changed) if it exists."""
        with self._lock, self._conn:
            cursor = self._conn.execute(
                "INSERT OR IGNORE INTO log_groups (scope, name, created_ms, group_class) VALUES (?, ?, ?, ?)",
                (self._scope, name, created_ms, group_class),
            )
            return cursor.rowcount > 0

    def group(self, name: str) -> GroupRow | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_GROUP_COLUMNS} FROM log_groups WHERE scope = ? AND name = ?", (self._scope, name)
            ).fetchone()
        return None if row is None else GroupRow(*row)

    def groups(self, prefix: str = "") -> list[GroupRow]:
        """Every group whose name starts with ``prefix``, by name."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_GROUP_COLUMNS} FROM log_groups "
                "WHERE scope = ? AND substr(name, 1, ?) = ? ORDER BY name",
                (self._scope, len(prefix), prefix),
            ).fetchall()
        return [GroupRow(*row) for row in rows]

    def set_retention(self, name: str, days: int | None) -> bool:
        """Set (or with None, clear) the group's retention; False if there is no such group."""
        with self._lock, self._conn:
            cursor = self._conn.execute(
                "UPDATE log_groups SET retention = ? WHERE scope = ? AND name = ?", (days, self._scope, name)
            )
            return cursor.rowcount > 0

    def delete_group(self, name: str) -> bool:
        """Drop the group and all its streams; False if there was no such group."""
        with self._lock, self._conn:
            key = (self._scope, name)
            self._conn.execute("DELETE FROM log_streams WHERE scope = ? AND grp = ?", key)
            return self._conn.execute("DELETE FROM log_groups WHERE scope = ? AND name = ?", key).rowcount > 0

    # ---- streams ----------------------------------------------------------------------------

    def create_stream(self, group: str, name: str, created_ms: int) -> bool:
        """Add stream ``name`` to ``group`` (which must exist); False if the stream exists."""
        with self._lock, self._conn:
            cursor = self._conn.execute(
                "INSERT OR IGNORE INTO log_streams (scope, grp, name, created_ms) VALUES (?, ?, ?, ?)",
                (self._scope, group, name, created_ms),
            )
            return cursor.rowcount > 0

    def stream(self, group: str, name: str) -> StreamRow | None:
        with self._lock:
            row = self._conn.execute(
                f"SELECT {_STREAM_COLUMNS} FROM log_streams WHERE scope = ? AND grp = ? AND name = ?",
                (self._scope, group, name),
            ).fetchone()
        return None if row is None else StreamRow(*row)

    def streams(self, group: str, prefix: str = "") -> list[StreamRow]:
        """The group's streams whose names start with ``prefix``, by name."""
        with self._lock:
            rows = self._conn.execute(
                f"SELECT {_STREAM_COLUMNS} FROM log_streams "
                "WHERE scope = ? AND grp = ? AND substr(name, 1, ?) = ? ORDER BY name",
                (self._scope, group, len(prefix), prefix),
            ).fetchall()
        return [StreamRow(*row) for row in rows]

    def delete_stream(self, group: str, name: str) -> bool:
        """Drop one stream; False if there was no such stream."""
        with self._lock, self._conn:
            cursor = self._conn.execute(
                "DELETE FROM log_streams WHERE scope = ? AND grp = ? AND name = ?", (self._scope, group, name)
            )
            return cursor.rowcount > 0

    def stored_bytes(self, group: str) -> int:
        with self._lock:
            row = self._conn.execute(
                "SELECT COALESCE(SUM(bytes), 0) FROM log_streams WHERE scope = ? AND grp = ?",
                (self._scope, group),
            ).fetchone()
        return int(row[0])

    def record(self, growth: Iterable[StreamGrowth]) -> None:
        """Merge appended events into their streams (one transaction), creating what is missing
        (as Lambda creates its log group and stream on first write), and move each group's
        ``next_seq`` past the newest sequence number."""
        with self._lock, self._conn:
            for item in growth:
                self._conn.execute(
                    "INSERT OR IGNORE INTO log_groups (scope, name, created_ms) VALUES (?, ?, ?)",
                    (self._scope, item.group, item.created_ms),
                )
                self._conn.execute(
                    "UPDATE log_groups SET next_seq = MAX(next_seq, ?) WHERE scope = ? AND name = ?",
                    (item.last_seq + 1, self._scope, item.group),
                )
                self._conn.execute(
                    f"INSERT INTO log_streams (scope, {_STREAM_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (scope, grp, name) DO UPDATE SET "
                    "first_ms = MIN(COALESCE(first_ms, excluded.first_ms), excluded.first_ms), "
                    "last_ms = MAX(COALESCE(last_ms, excluded.last_ms), excluded.last_ms), "
                    "ingested_ms = MAX(COALESCE(ingested_ms, excluded.ingested_ms), excluded.ingested_ms), "
                    "bytes = bytes + excluded.bytes, last_seq = MAX(last_seq, excluded.last_seq)",
                    (
                        self._scope,
                        item.group,
                        item.stream,
                        item.created_ms,
                        item.first_ms,
                        item.last_ms,
                        item.ingested_ms,
                        item.added_bytes,
                        item.last_seq,
                    ),
                )
