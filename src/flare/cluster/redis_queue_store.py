"""The SQS-compatible queues of one account and region in the cluster's Redis: every node's
``QueueService`` reads and writes the same queues and messages (``services/queue_backend.py``).

Keys (one hash slot per scope, ``ClusterLink.scoped``)::

    flare:{<scope>}:sqs:queues              hash  queue name -> the queue as JSON (created,
                                                  modified, attributes, tags, seq)
    flare:{<scope>}:sqs:queue-seq           counter of queues created (creation order)
    flare:{<scope>}:sqs:message-seq         counter of messages sent (send order)
    flare:{<scope>}:sqs:q:<name>:messages   hash  message id -> the message as JSON
    flare:{<scope>}:sqs:q:<name>:visible    zset  member -> visible_at (injected-clock epoch s)
    flare:{<scope>}:sqs:q:<name>:sent       zset  member -> sent (for retention)
    flare:{<scope>}:sqs:q:<name>:fresh      set   members never received (for the delayed count)

A member is ``<seq, 16 digits>:<message id>``, so messages visible at the same time are
received in send order. A receive is one optimistic transaction: ``WATCH`` the queue's visible
set, read what is receivable, let the service's plan decide, ``MULTI``/``EXEC`` its writes; any
change to the queue in between (every change touches the visible set) makes it read again, so
two nodes never receive the same message at once. A node that dies with messages received
leaves them hidden until their visibility timeout ends: then any node receives them again.

Calls block the event loop for their round trips (redis-py's synchronous client), as the
SQLite store's do for their writes; none is on the Lambda invoke path. A Redis that does not
answer is a ServiceException (500) for the caller.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

import redis
import redis.client
import redis.exceptions

from flare.cluster.link import ClusterLink
from flare.errors import ServiceException
from flare.scope import Scope
from flare.services.errors import QueueNameExists
from flare.services.queue_backend import ReceivePlan
from flare.store.services import MessageRow, QueueRow

T = TypeVar("T")

# KEYS visible fresh; ARGV now -> {receivable, in flight, delayed}
_COUNTS = """
local visible = redis.call('ZCOUNT', KEYS[1], '-inf', ARGV[1])
local hidden = redis.call('ZRANGE', KEYS[1], '(' .. ARGV[1], '+inf', 'BYSCORE')
local delayed = 0
for _, member in ipairs(hidden) do delayed = delayed + redis.call('SISMEMBER', KEYS[2], member) end
return {visible, #hidden - delayed, delayed}
"""


def member(row: MessageRow) -> str:
    return f"{row.seq:016d}:{row.id}"


def encode_message(row: MessageRow) -> str:
    return json.dumps(row.__dict__, separators=(",", ":"))


def decode_message(text: str | bytes) -> MessageRow:
    return MessageRow(**json.loads(text))


@contextmanager
def answered() -> Iterator[None]:
    try:
        yield
    except redis.exceptions.RedisError as error:
        raise ServiceException(f"The cluster's Redis did not answer: {error}") from error


class RedisQueueStore:
    """``scope``'s queues and messages in Redis (module docstring)."""

    def __init__(self, link: ClusterLink, scope: Scope) -> None:
        self._redis: redis.Redis = link.sync
        self._scope = scope
        self._queues = self._key("queues")
        self._counts = self._redis.register_script(_COUNTS)

    def __repr__(self) -> str:
        return f"<RedisQueueStore {self._scope.key}>"

    def _key(self, *parts: str) -> str:
        return ClusterLink.scoped(self._scope, "sqs", *parts)

    def _of(self, queue: str) -> tuple[str, str, str, str]:
        """The messages, visible, sent and fresh keys of ``queue``."""
        return (
            self._key("q", queue, "messages"),
            self._key("q", queue, "visible"),
            self._key("q", queue, "sent"),
            self._key("q", queue, "fresh"),
        )

    # -- queues ---------------------------------------------------------------------------------

    def insert_queue(self, row: QueueRow) -> QueueRow:
        with answered():
            seq = int(self._redis.incr(self._key("queue-seq")))
            stored = QueueRow(row.name, row.created, row.modified, row.attributes, row.tags, seq)
            if not self._redis.hsetnx(self._queues, row.name, json.dumps(stored.__dict__)):
                raise QueueNameExists(f"A queue named {row.name} already exists")
        return stored

    def get_queue(self, name: str) -> QueueRow | None:
        with answered():
            text = self._redis.hget(self._queues, name)
        return None if text is None else QueueRow(**json.loads(text))

    def all_queues(self) -> list[QueueRow]:
        with answered():
            rows = [QueueRow(**json.loads(text)) for text in self._redis.hvals(self._queues)]
        return sorted(rows, key=lambda row: row.seq)

    def update_queue(self, row: QueueRow) -> None:
        with answered():
            self._redis.hset(self._queues, row.name, json.dumps(row.__dict__))

    def delete_queue(self, name: str) -> None:
        with answered(), self._redis.pipeline(transaction=True) as pipe:
            pipe.hdel(self._queues, name)
            pipe.delete(*self._of(name))
            pipe.execute()

    # -- messages -------------------------------------------------------------------------------

    def insert_messages(self, queue: str, rows: Iterable[MessageRow]) -> None:
        batch = list(rows)
        if not batch:
            return
        messages, visible, sent, fresh = self._of(queue)
        with answered():
            last = int(self._redis.incrby(self._key("message-seq"), len(batch)))
            numbered = [
                MessageRow(**{**row.__dict__, "seq": last - len(batch) + 1 + index})
                for index, row in enumerate(batch)
            ]
            with self._redis.pipeline(transaction=True) as pipe:
                pipe.hset(messages, mapping={row.id: encode_message(row) for row in numbered})
                pipe.zadd(visible, {member(row): row.visible_at for row in numbered})
                pipe.zadd(sent, {member(row): row.sent for row in numbered})
                pipe.sadd(fresh, *(member(row) for row in numbered))
                pipe.execute()

    def drop_expired(self, queue: str, sent_by: float) -> int:
        messages, visible, sent, fresh = self._of(queue)
        with answered():
            gone = [_text(m) for m in self._redis.zrangebyscore(sent, "-inf", sent_by)]
            if gone:
                with self._redis.pipeline(transaction=True) as pipe:
                    pipe.hdel(messages, *(m.split(":", 1)[1] for m in gone))
                    for key in (visible, sent):
                        pipe.zrem(key, *gone)
                    pipe.srem(fresh, *gone)
                    pipe.execute()
        return len(gone)

    def next_visible_at(self, queue: str, now: float) -> float | None:
        with answered():
            found = self._redis.zrangebyscore(self._of(queue)[1], f"({now!r}", "+inf", 0, 1, withscores=True)
        return float(found[0][1]) if found else None

    def receive_messages(
        self, queue: str, now: float, limit: int, plan: ReceivePlan, source_arn: str
    ) -> tuple[list[MessageRow], dict[str, str]]:
        def step(pipe: redis.client.Pipeline) -> tuple[list[MessageRow], dict[str, str]]:
            messages, visible = self._of(queue)[:2]
            ids = [_text(m).split(":", 1)[1] for m in pipe.zrangebyscore(visible, "-inf", now, 0, limit)]
            rows = (
                [decode_message(text) for text in pipe.hmget(messages, ids) if text is not None]
                if ids
                else []
            )
            ready, moves = plan(rows)
            pipe.multi()
            for row in ready:
                self._write(pipe, queue, row)
                pipe.srem(self._of(queue)[3], member(row))
            by_id = {row.id: row for row in rows}
            for message_id, target in moves.items():
                self._move(pipe, queue, target, by_id[message_id], now, source_arn)
            return ready, moves

        return self._atomically(queue, step)

    def _write(self, pipe: redis.client.Pipeline, queue: str, row: MessageRow) -> None:
        messages, visible = self._of(queue)[:2]
        pipe.hset(messages, row.id, encode_message(row))
        pipe.zadd(visible, {member(row): row.visible_at})

    def _move(
        self,
        pipe: redis.client.Pipeline,
        queue: str,
        target: str,
        row: MessageRow,
        now: float,
        source_arn: str,
    ) -> None:
        """Queue the writes that move ``row`` to ``target``, a dead-letter queue."""
        self._forget(pipe, queue, [row])
        moved = MessageRow(
            **{
                **row.__dict__,
                "visible_at": now,
                "receive_count": 0,
                "first_receive": None,
                "receipt": None,
                "system": row.system | {"DeadLetterQueueSourceArn": source_arn},
            }
        )
        self._write(pipe, target, moved)
        pipe.zadd(self._of(target)[2], {member(moved): moved.sent})
        pipe.sadd(self._of(target)[3], member(moved))

    def _forget(self, pipe: redis.client.Pipeline, queue: str, rows: list[MessageRow]) -> None:
        if not rows:
            return
        messages, visible, sent, fresh = self._of(queue)
        members = [member(row) for row in rows]
        pipe.hdel(messages, *(row.id for row in rows))
        pipe.zrem(visible, *members)
        pipe.zrem(sent, *members)
        pipe.srem(fresh, *members)

    def get_message(self, queue: str, message_id: str) -> MessageRow | None:
        with answered():
            text = self._redis.hget(self._of(queue)[0], message_id)
        return None if text is None else decode_message(text)

    def set_visible_at(self, queue: str, changes: dict[str, float]) -> None:
        def step(pipe: redis.client.Pipeline) -> None:
            ids = list(changes)
            rows = [decode_message(text) for text in pipe.hmget(self._of(queue)[0], ids) if text is not None]
            pipe.multi()
            for row in rows:
                self._write(pipe, queue, MessageRow(**{**row.__dict__, "visible_at": changes[row.id]}))

        if changes:
            self._atomically(queue, step)

    def delete_messages(self, queue: str, message_ids: Iterable[str]) -> None:
        def step(pipe: redis.client.Pipeline) -> None:
            ids = list(message_ids)
            rows = [decode_message(text) for text in pipe.hmget(self._of(queue)[0], ids) if text is not None]
            pipe.multi()
            self._forget(pipe, queue, rows)

        self._atomically(queue, step)

    def purge(self, queue: str) -> None:
        with answered():
            self._redis.delete(*self._of(queue))

    def counts(self, queue: str, now: float) -> tuple[int, int, int]:
        _, visible, _, fresh = self._of(queue)
        with answered():
            found = self._counts(keys=[visible, fresh], args=[repr(now)])
        return int(found[0]), int(found[1]), int(found[2])

    def _atomically(self, queue: str, step: Callable[[redis.client.Pipeline], T]) -> T:
        """``step`` (reads, then ``multi()`` and writes) with the queue's visible set watched,
        again until no other change to the queue came in between."""
        with answered(), self._redis.pipeline(transaction=True) as pipe:
            while True:
                try:
                    pipe.watch(self._of(queue)[1])  # type: ignore[no-untyped-call]
                    result = step(pipe)
                    pipe.execute()
                    return result
                except redis.exceptions.WatchError:
                    pipe.reset()


def _text(value: Any) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)
