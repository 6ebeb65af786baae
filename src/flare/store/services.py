"""Durable state of the embedded queue and stream services: tables of Flare's one database.

All the services' SQL is in this module (before 2026-12 these tables lived in
``<data_dir>/services.db``, whose rows the engine moves in once). Every
method that changes something commits before it returns, so whatever a service acknowledged
survives a ``kill -9`` of the server (``synchronous=NORMAL`` in WAL mode: a committed
transaction is in the OS's hands; only a machine crash could lose the last few).

Times are wall-clock epoch seconds from the injected clock's ``wall()``, so they mean the same
thing after a restart. Schema (version ``SCHEMA_VERSION`` of concern ``services``). Every table
is scoped (``store/database.py``): ``scope`` holds the owning account and region's
``Scope.key`` and leads each key and index, so two scopes may each have a queue or stream of
the same name; tables of schema 1 had no ``scope`` and are rebuilt, their rows (and those of
an absorbed ``services.db``) in the database's legacy scope::

    queues
        scope, name    TEXT     the key
        seq            INTEGER  creation order in the scope, increasing, never reused
        created        REAL     creation time
        modified       REAL     last SetQueueAttributes
        attributes     TEXT     the settable attributes as a JSON object, AWS names, string values
        tags           TEXT     tags as a JSON object

    messages
        seq            INTEGER  send order (rowid), the tie-break of receive order
        scope          TEXT     the scope of its queue
        queue          TEXT     the queue it is in now (a redrive moves it to the DLQ)
        id             TEXT     MessageId; UNIQUE (scope, queue, id)
        body           TEXT
        attributes     TEXT     MessageAttributes as a JSON object in wire shape
        system         TEXT     MessageSystemAttributes (AWSTraceHeader) as a JSON object
        sent           REAL     send time (kept across a redrive, as SQS keeps it for retention)
        visible_at     REAL     when it may next be received (after a delay or visibility timeout)
        receive_count  INTEGER  times received (ApproximateReceiveCount)
        first_receive  REAL     first receive time, NULL until received
        receipt        TEXT     nonce of the newest receipt handle, NULL until received

    counters
        scope, name    TEXT     the key
        value          INTEGER  counters that never go back ("queues", "streams"), for seq

    streams
        scope, name    TEXT     the key
        seq            INTEGER  creation order in the scope, never reused: tells a re-created
                                stream apart
        created        REAL     creation time
        shard_count    INTEGER  shards, hash ranges split evenly (no resharding)
        retention_hours INTEGER
        mode           TEXT     PROVISIONED or ON_DEMAND (informational)

    records
        scope          TEXT
        stream, shard  TEXT, INTEGER   shard index 0..shard_count-1
        position       INTEGER  1, 2, 3, ... within the shard (the sequence number's counter)
        partition_key  TEXT
        data           BLOB
        arrival        REAL     ApproximateArrivalTimestamp
        PRIMARY KEY (scope, stream, shard, position)

The connection may be used from several threads; a lock serialises it.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from flare.scope import Scope
from flare.store.database import Database, ScopedTables

SCHEMA_VERSION = 2

_SCHEMA = """
CREATE TABLE IF NOT EXISTS queues (
    scope      TEXT    NOT NULL,
    name       TEXT    NOT NULL,
    seq        INTEGER NOT NULL,
    created    REAL    NOT NULL,
    modified   REAL    NOT NULL,
    attributes TEXT    NOT NULL,
    tags       TEXT    NOT NULL DEFAULT '{}',
    PRIMARY KEY (scope, name)
);
CREATE TABLE IF NOT EXISTS messages (
    seq           INTEGER PRIMARY KEY AUTOINCREMENT,
    scope         TEXT    NOT NULL,
    queue         TEXT    NOT NULL,
    id            TEXT    NOT NULL,
    body          TEXT    NOT NULL,
    attributes    TEXT    NOT NULL,
    system        TEXT    NOT NULL,
    sent          REAL    NOT NULL,
    visible_at    REAL    NOT NULL,
    receive_count INTEGER NOT NULL DEFAULT 0,
    first_receive REAL,
    receipt       TEXT,
    UNIQUE (scope, queue, id)
);
CREATE INDEX IF NOT EXISTS messages_visible ON messages (scope, queue, visible_at, seq);
CREATE INDEX IF NOT EXISTS messages_sent ON messages (scope, queue, sent);
CREATE TABLE IF NOT EXISTS streams (
    scope           TEXT    NOT NULL,
    name            TEXT    NOT NULL,
    seq             INTEGER NOT NULL,
    created         REAL    NOT NULL,
    shard_count     INTEGER NOT NULL,
    retention_hours INTEGER NOT NULL,
    mode            TEXT    NOT NULL,
    PRIMARY KEY (scope, name)
);
CREATE TABLE IF NOT EXISTS counters (
    scope TEXT    NOT NULL,
    name  TEXT    NOT NULL,
    value INTEGER NOT NULL,
    PRIMARY KEY (scope, name)
);
CREATE TABLE IF NOT EXISTS records (
    scope         TEXT    NOT NULL,
    stream        TEXT    NOT NULL,
    shard         INTEGER NOT NULL,
    position      INTEGER NOT NULL,
    partition_key TEXT    NOT NULL,
    data          BLOB    NOT NULL,
    arrival       REAL    NOT NULL,
    PRIMARY KEY (scope, stream, shard, position)
) WITHOUT ROWID;
"""


@dataclass(frozen=True)
class QueueRow:
    name: str
    created: float
    modified: float
    attributes: dict[str, str]
    tags: dict[str, str] = field(default_factory=dict)
    seq: int = 0


@dataclass(frozen=True)
class MessageRow:
    """One stored message. ``receipt`` is the nonce of its newest receipt handle."""

    id: str
    body: str
    attributes: dict[str, Any]
    system: dict[str, Any]
    sent: float
    visible_at: float
    receive_count: int = 0
    first_receive: float | None = None
    receipt: str | None = None
    seq: int = 0


@dataclass(frozen=True)
class StreamRow:
    name: str
    created: float
    shard_count: int
    retention_hours: int
    mode: str
    seq: int = 0


@dataclass(frozen=True)
class RecordRow:
    shard: int
    position: int
    partition_key: str
    data: bytes
    arrival: float


_MESSAGE_COLUMNS = (
    "id, body, attributes, system, sent, visible_at, receive_count, first_receive, receipt, seq"
)


def _message(record: tuple[Any, ...]) -> MessageRow:
    mid, body, attributes, system, sent, visible_at, count, first, receipt, seq = record
    return MessageRow(
        mid, body, json.loads(attributes), json.loads(system), sent, visible_at, count, first, receipt, seq
    )


def _queue(record: tuple[Any, ...]) -> QueueRow:
    name, seq, created, modified, attributes, tags = record
    return QueueRow(name, created, modified, json.loads(attributes), json.loads(tags), seq)


class ServiceStore(ScopedTables):
    """The queues, messages, streams and records of ``scope``. Opening creates the tables if
    they are missing."""

    concern = "services"
    version = SCHEMA_VERSION

    def __init__(self, db: Database, scope: Scope) -> None:
        super().__init__(db, scope, _SCHEMA)

    def _next(self, counter: str) -> int:
        """The next value of a counter that never goes back, even when rows are deleted.
        Call inside a transaction, holding the lock."""
        self._conn.execute(
            "INSERT INTO counters (scope, name, value) VALUES (?, ?, 1) "
            "ON CONFLICT (scope, name) DO UPDATE SET value = value + 1",
            (self._scope, counter),
        )
        (value,) = self._conn.execute(
            "SELECT value FROM counters WHERE scope = ? AND name = ?", (self._scope, counter)
        ).fetchone()
        return int(value)

    # -- queues ---------------------------------------------------------------------------------

    def insert_queue(self, row: QueueRow) -> QueueRow:
        """Store a new queue; returns it with its ``seq``. Raises IntegrityError if it exists."""
        with self._lock, self._conn:
            seq = self._next("queues")
            self._conn.execute(
                "INSERT INTO queues (scope, name, seq, created, modified, attributes, tags) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    self._scope,
                    row.name,
                    seq,
                    row.created,
                    row.modified,
                    json.dumps(row.attributes),
                    json.dumps(row.tags),
                ),
            )
        return QueueRow(row.name, row.created, row.modified, row.attributes, row.tags, seq)

    def all_queues(self) -> list[QueueRow]:
        with self._lock:
            records = self._conn.execute(
                "SELECT name, seq, created, modified, attributes, tags FROM queues "
                "WHERE scope = ? ORDER BY seq",
                (self._scope,),
            ).fetchall()
        return [_queue(record) for record in records]

    def get_queue(self, name: str) -> QueueRow | None:
        with self._lock:
            record = self._conn.execute(
                "SELECT name, seq, created, modified, attributes, tags FROM queues "
                "WHERE scope = ? AND name = ?",
                (self._scope, name),
            ).fetchone()
        return None if record is None else _queue(record)

    def update_queue(self, row: QueueRow) -> None:
        """Replace a queue's attributes, tags and modified time."""
        with self._lock, self._conn:
            self._conn.execute(
                "UPDATE queues SET modified = ?, attributes = ?, tags = ? WHERE scope = ? AND name = ?",
                (row.modified, json.dumps(row.attributes), json.dumps(row.tags), self._scope, row.name),
            )

    def delete_queue(self, name: str) -> None:
        """Delete a queue and every message in it."""
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM messages WHERE scope = ? AND queue = ?", (self._scope, name))
            self._conn.execute("DELETE FROM queues WHERE scope = ? AND name = ?", (self._scope, name))

    # -- messages -------------------------------------------------------------------------------

    def insert_messages(self, queue: str, rows: Iterable[MessageRow]) -> None:
        """Store new messages in one transaction (all or none)."""
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT INTO messages (scope, queue, id, body, attributes, system, sent, visible_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        self._scope,
                        queue,
                        m.id,
                        m.body,
                        json.dumps(m.attributes),
                        json.dumps(m.system),
                        m.sent,
                        m.visible_at,
                    )
                    for m in rows
                ],
            )

    def drop_expired(self, queue: str, sent_by: float) -> int:
        """Delete messages sent at or before ``sent_by`` (retention); returns how many went."""
        with self._lock, self._conn:
            cursor = self._conn.execute(
                "DELETE FROM messages WHERE scope = ? AND queue = ? AND sent <= ?",
                (self._scope, queue, sent_by),
            )
            return cursor.rowcount

    def visible_messages(self, queue: str, now: float, limit: int) -> list[MessageRow]:
        """Up to ``limit`` messages receivable at ``now``, longest-visible first, then send order."""
        with self._lock:
            records = self._conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE scope = ? AND queue = ? AND visible_at <= ? "
                "ORDER BY visible_at, seq LIMIT ?",
                (self._scope, queue, now, limit),
            ).fetchall()
        return [_message(record) for record in records]

    def next_visible_at(self, queue: str, now: float) -> float | None:
        """The earliest time after ``now`` some message of ``queue`` becomes receivable."""
        with self._lock:
            (when,) = self._conn.execute(
                "SELECT MIN(visible_at) FROM messages WHERE scope = ? AND queue = ? AND visible_at > ?",
                (self._scope, queue, now),
            ).fetchone()
        return None if when is None else float(when)

    def record_receives(
        self, queue: str, received: Iterable[MessageRow], moves: dict[str, str], now: float, source_arn: str
    ) -> None:
        """In one transaction: store the new receive state of ``received`` (visible_at,
        receive_count, first_receive, receipt) and move each message id in ``moves`` to its
        target queue, visible from ``now``, its receive count reset, ``source_arn`` recorded as
        its DeadLetterQueueSourceArn."""
        with self._lock, self._conn:
            self._conn.executemany(
                "UPDATE messages SET visible_at = ?, receive_count = ?, first_receive = ?, receipt = ? "
                "WHERE scope = ? AND queue = ? AND id = ?",
                [
                    (m.visible_at, m.receive_count, m.first_receive, m.receipt, self._scope, queue, m.id)
                    for m in received
                ],
            )
            self._conn.executemany(
                "UPDATE messages SET queue = ?, visible_at = ?, receive_count = 0, first_receive = NULL, "
                "receipt = NULL, system = json_set(system, '$.DeadLetterQueueSourceArn', ?) "
                "WHERE scope = ? AND queue = ? AND id = ?",
                [(target, now, source_arn, self._scope, queue, mid) for mid, target in moves.items()],
            )

    def receive_messages(
        self,
        queue: str,
        now: float,
        limit: int,
        plan: Callable[[list[MessageRow]], tuple[list[MessageRow], dict[str, str]]],
        source_arn: str,
    ) -> tuple[list[MessageRow], dict[str, str]]:
        """``visible_messages``, ``plan`` and ``record_receives`` as one step (under the lock;
        ``services/queue_backend.py``)."""
        with self._lock:
            ready, moves = plan(self.visible_messages(queue, now, limit))
            if ready or moves:
                self.record_receives(queue, ready, moves, now, source_arn)
        return ready, moves

    def get_message(self, queue: str, message_id: str) -> MessageRow | None:
        with self._lock:
            record = self._conn.execute(
                f"SELECT {_MESSAGE_COLUMNS} FROM messages WHERE scope = ? AND queue = ? AND id = ?",
                (self._scope, queue, message_id),
            ).fetchone()
        return None if record is None else _message(record)

    def set_visible_at(self, queue: str, changes: dict[str, float]) -> None:
        """Set ``visible_at`` of each message id in ``changes``, in one transaction."""
        with self._lock, self._conn:
            self._conn.executemany(
                "UPDATE messages SET visible_at = ? WHERE scope = ? AND queue = ? AND id = ?",
                [(when, self._scope, queue, mid) for mid, when in changes.items()],
            )

    def delete_messages(self, queue: str, message_ids: Iterable[str]) -> None:
        """Delete messages by id in one transaction; ids not present are ignored."""
        with self._lock, self._conn:
            self._conn.executemany(
                "DELETE FROM messages WHERE scope = ? AND queue = ? AND id = ?",
                [(self._scope, queue, mid) for mid in message_ids],
            )

    def purge(self, queue: str) -> None:
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM messages WHERE scope = ? AND queue = ?", (self._scope, queue))

    def counts(self, queue: str, now: float) -> tuple[int, int, int]:
        """(receivable, in flight, delayed) messages of ``queue`` at ``now``. In flight means
        received and still hidden; delayed means never received and not yet visible."""
        with self._lock:
            record = self._conn.execute(
                "SELECT COALESCE(SUM(visible_at <= ?1), 0), "
                "COALESCE(SUM(visible_at > ?1 AND receive_count > 0), 0), "
                "COALESCE(SUM(visible_at > ?1 AND receive_count = 0), 0) FROM messages "
                "WHERE scope = ?3 AND queue = ?2",
                (now, queue, self._scope),
            ).fetchone()
        return int(record[0]), int(record[1]), int(record[2])

    # -- streams --------------------------------------------------------------------------------

    def insert_stream(self, row: StreamRow) -> StreamRow:
        """Store a new stream; returns it with its ``seq``. Raises IntegrityError if it exists."""
        with self._lock, self._conn:
            seq = self._next("streams")
            self._conn.execute(
                "INSERT INTO streams (scope, name, seq, created, shard_count, retention_hours, mode) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                (self._scope, row.name, seq, row.created, row.shard_count, row.retention_hours, row.mode),
            )
        return StreamRow(row.name, row.created, row.shard_count, row.retention_hours, row.mode, seq)

    def all_streams(self) -> list[StreamRow]:
        with self._lock:
            records = self._conn.execute(
                "SELECT name, created, shard_count, retention_hours, mode, seq FROM streams "
                "WHERE scope = ? ORDER BY name",
                (self._scope,),
            ).fetchall()
        return [StreamRow(*record) for record in records]

    def get_stream(self, name: str) -> StreamRow | None:
        with self._lock:
            record = self._conn.execute(
                "SELECT name, created, shard_count, retention_hours, mode, seq FROM streams "
                "WHERE scope = ? AND name = ?",
                (self._scope, name),
            ).fetchone()
        return None if record is None else StreamRow(*record)

    def set_retention(self, name: str, hours: int) -> None:
        with self._lock, self._conn:
            self._conn.execute(
                "UPDATE streams SET retention_hours = ? WHERE scope = ? AND name = ?",
                (hours, self._scope, name),
            )

    def delete_stream(self, name: str) -> None:
        """Delete a stream and all its records."""
        with self._lock, self._conn:
            self._conn.execute("DELETE FROM records WHERE scope = ? AND stream = ?", (self._scope, name))
            self._conn.execute("DELETE FROM streams WHERE scope = ? AND name = ?", (self._scope, name))

    def append_records(self, stream: str, rows: Iterable[RecordRow]) -> None:
        """Store records in one transaction (all or none)."""
        with self._lock, self._conn:
            self._conn.executemany(
                "INSERT INTO records (scope, stream, shard, position, partition_key, data, arrival) "
                "VALUES (?, ?, ?, ?, ?, ?, ?)",
                [
                    (self._scope, stream, r.shard, r.position, r.partition_key, r.data, r.arrival)
                    for r in rows
                ],
            )

    def append_numbered(self, stream: str, records: list[tuple[int, str, bytes, float]]) -> list[int]:
        """Store (shard, partition key, data, arrival) records, each at the next position of its
        shard, in one transaction; their positions."""
        with self._lock:
            last = self.last_positions(stream)
            positions: list[int] = []
            rows: list[RecordRow] = []
            for shard, key, data, arrival in records:
                position = last[shard] = last.get(shard, 0) + 1
                positions.append(position)
                rows.append(RecordRow(shard, position, key, data, arrival))
            self.append_records(stream, rows)
        return positions

    def last_positions(self, stream: str) -> dict[int, int]:
        """shard index => highest position written (shards without records are absent)."""
        with self._lock:
            records = self._conn.execute(
                "SELECT shard, MAX(position) FROM records WHERE scope = ? AND stream = ? GROUP BY shard",
                (self._scope, stream),
            ).fetchall()
        return {int(shard): int(position) for shard, position in records}

    def read_records(
        self, stream: str, shard: int, start: int, arrived_after: float, limit: int
    ) -> list[RecordRow]:
        """Up to ``limit`` records of one shard from ``start`` on, in position order, skipping
        those that arrived at or before ``arrived_after`` (past retention)."""
        with self._lock:
            records = self._conn.execute(
                "SELECT shard, position, partition_key, data, arrival FROM records "
                "WHERE scope = ? AND stream = ? AND shard = ? AND position >= ? AND arrival > ? "
                "ORDER BY position LIMIT ?",
                (self._scope, stream, shard, start, arrived_after, limit),
            ).fetchall()
        return [RecordRow(s, p, k, bytes(d), a) for s, p, k, d, a in records]

    def first_position_at(self, stream: str, shard: int, timestamp: float) -> int | None:
        """Position of the first record of the shard that arrived at or after ``timestamp``."""
        with self._lock:
            (position,) = self._conn.execute(
                "SELECT MIN(position) FROM records "
                "WHERE scope = ? AND stream = ? AND shard = ? AND arrival >= ?",
                (self._scope, stream, shard, timestamp),
            ).fetchone()
        return None if position is None else int(position)

    def trim(self, stream: str, arrived_by: float) -> int:
        """Delete records that arrived at or before ``arrived_by``; returns how many went."""
        with self._lock, self._conn:
            return self._conn.execute(
                "DELETE FROM records WHERE scope = ? AND stream = ? AND arrival <= ?",
                (self._scope, stream, arrived_by),
            ).rowcount
