"""Where the asynchronous invocation queue keeps its events: the seam between ``AsyncQueue``
(which decides what happens to an event) and the storage that makes an accepted event durable.

An ``EventBook`` holds every accepted event until its last try. ``AsyncQueue`` asks it to
``take`` an event before each try and then either ``put_back`` (a retry, due later) or
``remove`` it (done); a try that failed unexpectedly ``release``s it. Two books:

    LocalEventBook      one node: the ``async_events`` table of ``store/events.py`` (SQLite);
                        ``take`` is a read, since only this node ever tries its events
    RedisEventBook      a cluster (``cluster/redis_event_queue.py``): ``take`` leases the event to
                        this node, so one node at a time tries it, and a node that dies holding
                        a lease loses it when the lease runs out

``add`` is durable when it returns (the caller then answers 202). ``start(arm)`` hands the book
the queue's ``arm(event_id, delay_s)``: the book calls it for each event the queue must try
(at start, and in a cluster for events other nodes accepted or gave up). Contract: used from
the event loop's thread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from flare.store.events import EventRow, EventStore

Arm = Callable[[str, float], None]


class EventBook(Protocol):
    """The durable home of queued async events (see the module docstring)."""

    def add(self, row: EventRow) -> None:
        """Store a new event, due at ``row.due``; durable on return (off the event loop's hot
        path: destinations, durable executions)."""

    async def accept(self, row: EventRow) -> None:
        """``add`` for an Event invoke's request: durable on return."""

    async def take(self, event_id: str) -> EventRow | None:
        """The event, if this node may try it now; None if it is gone or another node has it."""

    async def put_back(
        self,
        event_id: str,
        due: float,
        function_errors: int,
        other_failures: int,
        last: dict[str, Any] | None,
    ) -> None:
        """A taken event is to be tried again at ``due`` (injected-clock wall time)."""

    async def remove(self, event_id: str) -> None:
        """A taken event is done: forget it."""

    async def release(self, event_id: str) -> None:
        """A taken event's try failed unexpectedly: it stays queued as it was."""

    def waiting(self) -> dict[str, tuple[int, float]]:
        """Per function: (events queued, oldest ``enqueued``)."""

    def start(self, arm: Arm) -> None:
        """Begin: ``arm`` every event that is waiting now (and, in a cluster, later)."""

    async def stop(self) -> None:
        """Stop arming; events this node holds are left for the next start or another node."""


class LocalEventBook:
    """One node's events in its SQLite database: every event is this node's to try."""

    def __init__(self, store: EventStore, wall: Callable[[], float]) -> None:
        self._store = store
        self._wall = wall

    def __repr__(self) -> str:
        return "<LocalEventBook>"

    def add(self, row: EventRow) -> None:
        self._store.insert_event(row)

    async def accept(self, row: EventRow) -> None:
        self._store.insert_event(row)

    async def take(self, event_id: str) -> EventRow | None:
        return self._store.get_event(event_id)

    async def put_back(
        self,
        event_id: str,
        due: float,
        function_errors: int,
        other_failures: int,
        last: dict[str, Any] | None,
    ) -> None:
        self._store.reschedule_event(event_id, due, function_errors, other_failures, last)

    async def remove(self, event_id: str) -> None:
        self._store.delete_event(event_id)

    async def release(self, event_id: str) -> None:
        return None

    def waiting(self) -> dict[str, tuple[int, float]]:
        return self._store.event_stats()

    def start(self, arm: Arm) -> None:
        """Arm every stored event (those a crash interrupted are due again)."""
        now = self._wall()
        for event_id, due in self._store.event_schedule():
            arm(event_id, due - now)

    async def stop(self) -> None:
        return None
