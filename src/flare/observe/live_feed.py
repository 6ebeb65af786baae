"""The engine's one live feed: what its execution environments and invocations do, as it happens.

Three kinds of event, each a dataclass whose fields are its wire form (``as_wire``)::

    EnvironmentSeen   an environment entered a phase (``Phase``): its function, version, id,
                      memory, and how it was initialised
    InvocationSeen    an invocation finished: function, request id, duration, how it started
                      (cold, warm, restore), the init it paid for, its error type
    ThrottleSeen      an invocation was refused with 429 before it was placed

One ``LiveFeed`` per engine. The engine publishes (``publish``) from its event loop; readers
(the console, ``flare top``) ``subscribe`` and then read batches (``Subscription.next_batch``).
Each subscriber has a bounded queue of its own: a publish appends to every queue that has room
and counts a miss on every one that has none, so a slow reader never slows the invoke path; its
next batch starts with ``Dropped(count)``, which tells it to start again from ``snapshot()``
(every live environment now, from the pools). Publishers ask ``active`` first, so that with
nobody reading an event is never even built.

A new field (a cost, say) is one line on its dataclass, filled where the event is built; the
wire form follows by itself. An event is never changed once built (every subscriber holds the
same one); its dataclass is not ``frozen`` only because a frozen one takes five times as long to
build (~0.9 µs against ~0.2), on the invoke path. Used from the event loop's thread only.
"""

from __future__ import annotations

import asyncio
import collections
import dataclasses
import enum
from collections.abc import Callable, Iterable
from typing import Any, ClassVar

DEFAULT_BOUND = 2000
"""How many events a subscriber may have unread before it starts missing them."""


class Phase(enum.StrEnum):
    """An environment's lifecycle as someone watching it sees it: ``sandbox.lifecycle``'s
    states, with IDLE told apart as idle (not yet frozen) and frozen, and a SnapStart
    environment's INIT told as restoring."""

    STARTING = "starting"
    INITIALIZING = "initializing"
    RESTORING = "restoring"
    IDLE = "idle"
    FROZEN = "frozen"
    BUSY = "busy"
    FAILED = "failed"
    SHUTTING_DOWN = "shutting-down"
    GONE = "gone"


class Start(enum.StrEnum):
    """How an invocation's environment came to serve it."""

    COLD = "cold"  # an INIT ran for it (on demand)
    RESTORE = "restore"  # a SnapStart restore ran for it
    WARM = "warm"  # the environment was ready (warm, or provisioned)


@dataclasses.dataclass(slots=True)
class EnvironmentSeen:
    kind: ClassVar[str] = "environment"
    at: float  # wall-clock seconds
    account: str
    region: str
    function: str
    version: str
    environment_id: str
    memory_mb: int
    initialization_type: str  # on-demand, provisioned-concurrency, snap-start
    phase: Phase


@dataclasses.dataclass(slots=True)
class InvocationSeen:
    kind: ClassVar[str] = "invocation"
    at: float
    account: str
    region: str
    function: str
    version: str
    request_id: str
    duration_ms: float
    start: Start
    init_ms: float | None  # the INIT or restore this invocation waited for
    error_type: str | None
    memory_mb: int
    cost_usd: float = 0.0  # what it would cost on Lambda, from REPORT's figures (observe/pricing.py)


@dataclasses.dataclass(slots=True)
class ThrottleSeen:
    kind: ClassVar[str] = "throttle"
    at: float
    account: str
    region: str
    function: str


@dataclasses.dataclass(slots=True)
class Dropped:
    """This subscriber missed ``count`` events (its queue was full): start again from a
    snapshot."""

    kind: ClassVar[str] = "dropped"
    count: int


Event = EnvironmentSeen | InvocationSeen | ThrottleSeen | Dropped


_FIELDS: dict[type, tuple[str, ...]] = {}


def as_wire(event: Event) -> dict[str, Any]:
    """``event`` as a JSON object: ``{"kind": ..., <its fields>}`` (floats to 3 decimals, but
    amounts in USD, which are millionths)."""
    names = _FIELDS.get(type(event))
    if names is None:
        names = _FIELDS[type(event)] = tuple(field.name for field in dataclasses.fields(event))
    wire: dict[str, Any] = {"kind": event.kind}
    for name in names:
        value = getattr(event, name)
        wire[name] = round(value, 3) if type(value) is float and not name.endswith("_usd") else value
    return wire


class Subscription:
    """One reader's bounded queue of events (see the module docstring). Made by
    ``LiveFeed.subscribe`` inside a running event loop; ``close`` ends it."""

    def __init__(self, feed: LiveFeed, bound: int) -> None:
        self._feed = feed
        self._bound = bound
        self._queue: collections.deque[Event] = collections.deque()
        self._ready = asyncio.Event()
        self.missed = 0  # events not queued since the last batch
        self.closed = False
        self._woken = False

    def offer(self, event: Event) -> None:
        """Queue ``event`` if there is room, else count it missed. Never blocks."""
        if len(self._queue) < self._bound:
            self._queue.append(event)
        else:
            self.missed += 1
        self._ready.set()

    async def next_batch(self) -> list[Event]:
        """Every event queued, oldest first, waiting for one if there is none; a ``Dropped``
        first when some were missed. After ``close`` or a ``wake``: possibly an empty list."""
        while not self._queue and not self.missed and not self.closed and not self._woken:
            self._ready.clear()
            await self._ready.wait()
        self._woken = False
        batch: list[Event] = [Dropped(self.missed)] if self.missed else []
        self.missed = 0
        batch.extend(self._queue)
        self._queue.clear()
        return batch

    def wake(self) -> None:
        """Make a waiting (or the next) ``next_batch`` return even with nothing queued (a
        reader's heartbeat)."""
        self._woken = True
        self._ready.set()

    def close(self) -> None:
        """Stop receiving; a reader waiting in ``next_batch`` gets an empty batch."""
        if not self.closed:
            self.closed = True
            self._feed.unsubscribe(self)
            self._ready.set()

    def __enter__(self) -> Subscription:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class LiveFeed:
    """The engine's feed (see the module docstring). ``environments()`` lists every live
    environment's current ``EnvironmentSeen`` (the engine sets it to read its pools)."""

    def __init__(self) -> None:
        self._subscribers: list[Subscription] = []
        self.environments: Callable[[], Iterable[EnvironmentSeen]] = lambda: ()
        self.active = False
        """Whether anyone is subscribed (publishers build no event otherwise): a plain
        attribute, as every lifecycle move reads it."""

    def publish(self, event: Event) -> None:
        for subscriber in self._subscribers:
            subscriber.offer(event)

    def subscribe(self, bound: int = DEFAULT_BOUND) -> Subscription:
        """A new subscription holding up to ``bound`` unread events; take ``snapshot()`` right
        after, before awaiting anything, and no event is missed between the two."""
        subscription = Subscription(self, bound)
        self._subscribers.append(subscription)
        self.active = True
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        if subscription in self._subscribers:
            self._subscribers.remove(subscription)
        self.active = bool(self._subscribers)

    def snapshot(self) -> list[EnvironmentSeen]:
        """Every live environment as it is now, by function, version and id."""
        return sorted(self.environments(), key=lambda env: (env.function, env.version, env.environment_id))

    def close(self) -> None:
        """End every subscription (at shutdown)."""
        for subscriber in list(self._subscribers):
            subscriber.close()
