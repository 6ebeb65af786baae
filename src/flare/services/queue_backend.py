"""What ``QueueService`` needs from where its queues and messages are kept.

Two implementations: ``store.services.ServiceStore`` (one node's SQLite database, the queues
cached by the service) and ``cluster.redis_queue_store.RedisQueueStore`` (the cluster's Redis,
shared by every node, so nothing of it may be cached). Every method that changes something is
durable when it returns. Times are epoch seconds of the injected clock's ``wall()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Protocol

from flare.store.services import MessageRow, QueueRow

# rows receivable now -> (rows delivered, in their new state; {message id: dead-letter queue})
ReceivePlan = Callable[[list[MessageRow]], tuple[list[MessageRow], dict[str, str]]]


class QueueBackend(Protocol):
    def insert_queue(self, row: QueueRow) -> QueueRow:
        """Store a new queue; returns it with its ``seq``. Raises QueueNameExists if it exists
        (SQLite: IntegrityError, which the service turns into that)."""

    def all_queues(self) -> list[QueueRow]:
        """Every queue, in creation order."""

    def get_queue(self, name: str) -> QueueRow | None: ...

    def update_queue(self, row: QueueRow) -> None:
        """Replace a queue's attributes, tags and modified time."""

    def delete_queue(self, name: str) -> None:
        """Delete a queue and every message in it."""

    def insert_messages(self, queue: str, rows: Iterable[MessageRow]) -> None:
        """Store new messages, all or none."""

    def drop_expired(self, queue: str, sent_by: float) -> int:
        """Delete messages sent at or before ``sent_by`` (retention); returns how many went."""

    def next_visible_at(self, queue: str, now: float) -> float | None:
        """The earliest time after ``now`` some message of ``queue`` becomes receivable."""

    def receive_messages(
        self, queue: str, now: float, limit: int, plan: ReceivePlan, source_arn: str
    ) -> tuple[list[MessageRow], dict[str, str]]:
        """Atomically: up to ``limit`` messages receivable at ``now`` (longest-visible first, then
        send order) given to ``plan``, whose answer is stored: delivered rows get their new
        receive state, each moved id goes to its dead-letter queue (visible from ``now``, receive
        count reset, ``source_arn`` as its DeadLetterQueueSourceArn). Returns ``plan``'s answer;
        no other receive, on this node or another, sees the same rows receivable."""

    def get_message(self, queue: str, message_id: str) -> MessageRow | None: ...

    def set_visible_at(self, queue: str, changes: dict[str, float]) -> None:
        """Set ``visible_at`` of each message id in ``changes``, all or none."""

    def delete_messages(self, queue: str, message_ids: Iterable[str]) -> None:
        """Delete messages by id; ids not present are ignored."""

    def purge(self, queue: str) -> None: ...

    def counts(self, queue: str, now: float) -> tuple[int, int, int]:
        """(receivable, in flight, delayed) messages of ``queue`` at ``now``."""
