"""The engine's one source of time.

Every engine timer (init limit, invoke deadline, idle TTL, retry backoff, ...) goes through a
``Clock``, never through ``time`` or ``loop.call_later`` directly, so a test can run hours of
Lambda time in milliseconds with ``ManualClock``.

Contract of a clock:

* ``now()`` — monotonic seconds, for durations and deadlines inside the engine;
* ``wall()`` — epoch seconds, for anything shown to a client (timestamps, ``Deadline-Ms``);
* ``call_later(delay, callback)`` — runs ``callback()`` on the event loop once ``delay`` seconds
  of this clock have passed; returns a handle whose ``cancel()`` stops it;
* ``sleep(delay)`` — an awaitable built on ``call_later``.

Both clocks must be used from the event loop's thread.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import logging
import time
from collections.abc import Callable
from typing import Protocol

log = logging.getLogger("flare.clock")


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    def now(self) -> float: ...

    def wall(self) -> float: ...

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle: ...

    async def sleep(self, delay: float) -> None: ...


async def _sleep_on(clock: Clock, delay: float) -> None:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()

    def wake() -> None:
        if not future.done():
            future.set_result(None)

    handle = clock.call_later(delay, wake)
    try:
        await future
    finally:
        handle.cancel()


class SystemClock:
    """Real time: the event loop's timers, ``time.monotonic`` and ``time.time``."""

    def __init__(self) -> None:
        self._loop: asyncio.AbstractEventLoop | None = None

    def now(self) -> float:
        return time.monotonic()

    def wall(self) -> float:
        return time.time()

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        loop = self._loop
        if loop is None or not loop.is_running():
            # Asked once per loop: on Python 3.11, each get_running_loop() is a getpid() syscall.
            loop = self._loop = asyncio.get_running_loop()
        return loop.call_later(max(0.0, delay), callback)

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(delay)


class _ManualTimer:
    __slots__ = ("callback", "cancelled")

    def __init__(self, callback: Callable[[], None]) -> None:
        self.callback = callback
        self.cancelled = False

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """A clock that only moves when told to. ``advance(s)`` fires every timer that falls due,
    in order, each seeing ``now()`` equal to its own due time."""

    def __init__(self, start: float = 1_000.0, wall_start: float = 1_767_225_600.0) -> None:
        self._now = start
        self._wall_offset = wall_start - start
        self._timers: list[tuple[float, int, _ManualTimer]] = []
        self._seq = itertools.count()

    def now(self) -> float:
        return self._now

    def wall(self) -> float:
        return self._now + self._wall_offset

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        timer = _ManualTimer(callback)
        heapq.heappush(self._timers, (self._now + max(0.0, delay), next(self._seq), timer))
        return timer

    async def sleep(self, delay: float) -> None:
        await _sleep_on(self, delay)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``, firing due timers in due order."""
        target = self._now + seconds
        while self._timers and self._timers[0][0] <= target:
            due, _, timer = heapq.heappop(self._timers)
            self._now = max(self._now, due)
            if not timer.cancelled:
                timer.callback()
        self._now = target

    def pending(self) -> int:
        """Timers not yet fired or cancelled."""
        return sum(1 for _, _, timer in self._timers if not timer.cancelled)


class _JumpTimer:
    __slots__ = ("_callback", "_clock", "_handle", "due")

    def __init__(self, clock: JumpClock, due: float, callback: Callable[[], None]) -> None:
        self._clock = clock
        self.due = due
        self._callback = callback
        self._handle: asyncio.TimerHandle | None = None

    def arm(self) -> None:
        if self._handle is not None:
            self._handle.cancel()
        loop = asyncio.get_running_loop()
        self._handle = loop.call_later(max(0.0, self.due - self._clock.now()), self._fire)

    def _fire(self) -> None:
        self._clock._pending.discard(self)
        self._callback()

    def fire_now(self) -> None:
        """Fire at once (a jump passed the due time), as the event loop would have."""
        if self._handle is not None:
            self._handle.cancel()
        try:
            self._fire()
        except Exception:
            log.exception("a timer's callback failed after the clock was advanced")

    def cancel(self) -> None:
        self._clock._pending.discard(self)
        if self._handle is not None:
            self._handle.cancel()


class JumpClock:
    """Real time that can be moved forward (``flare serve --test-clock``): ``advance(s)`` adds
    ``s`` to ``now()`` and ``wall()`` and fires every timer that falls due before it returns, in
    due order, so a test of a 30-day wait runs in seconds while everything else keeps real time,
    and nothing that arrives after a jump finds a timer of before it still pending (an idle
    environment past its keep-alive, say). Each timer is an event-loop timer, re-armed after a
    jump; used from the event loop's thread."""

    def __init__(self) -> None:
        self._offset = 0.0
        self._pending: set[_JumpTimer] = set()

    def now(self) -> float:
        return time.monotonic() + self._offset

    def wall(self) -> float:
        return time.time() + self._offset

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        timer = _JumpTimer(self, self.now() + max(0.0, delay), callback)
        self._pending.add(timer)
        timer.arm()
        return timer

    async def sleep(self, delay: float) -> None:
        await _sleep_on(self, delay)

    def advance(self, seconds: float) -> None:
        """Move time forward by ``seconds``: timers now due fire now, in due order (one that
        raises is logged, as the event loop would), the others are re-armed. A timer set by one
        that fires, due by now, fires too."""
        self._offset += max(0.0, seconds)
        while True:
            due = [timer for timer in self._pending if timer.due <= self.now()]
            if not due:
                break
            for timer in sorted(due, key=lambda pending: pending.due):
                if timer in self._pending:
                    timer.fire_now()
        for timer in sorted(self._pending, key=lambda pending: pending.due):
            timer.arm()

    @property
    def offset(self) -> float:
        """How far this clock has been moved ahead of real time, in seconds."""
        return self._offset
