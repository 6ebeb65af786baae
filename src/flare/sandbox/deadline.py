"""An environment's invocation deadline on one lazily re-armed timer.

Each invocation has a deadline (its start plus the function's timeout). Arming and cancelling a
loop timer for every invocation costs a timer allocation and two heap operations on the invoke
path; here one timer serves every invocation of an environment. ``start`` records the new
deadline and arms the timer only when none is pending (or the pending one would fire too late);
``stop`` forgets the deadline and leaves the timer be. When the timer fires it compares the
clock with the deadline in force: none (the invocation ended) does nothing, one still ahead
re-arms the timer for the rest, one reached calls ``on_expired``. Deadlines of an environment's
successive invocations only move later (one timeout, later starts), so a warm environment
serving back to back re-arms about once per timeout instead of once per invocation.

Times are the injected clock's (``Clock.now``); used from the event loop's thread only.
"""

from __future__ import annotations

from collections.abc import Callable

from flare.clock import Clock, TimerHandle

RESOLUTION_S = 0.001
"""A loop may run a timer up to its clock's resolution early (uvloop counts in milliseconds): a
deadline that close is reached, as the per-invocation timer this replaces would have fired."""


class DeadlineTimer:
    """See the module docstring. ``on_expired`` runs once per deadline reached."""

    __slots__ = ("_clock", "_deadline", "_due", "_on_expired", "_timer")

    def __init__(self, clock: Clock, on_expired: Callable[[], None]) -> None:
        self._clock = clock
        self._on_expired = on_expired
        self._deadline: float | None = None
        self._timer: TimerHandle | None = None
        self._due = 0.0  # when the pending timer fires (``Clock.now`` time)

    def start(self, deadline: float) -> None:
        """The current invocation must end by ``deadline`` (a ``Clock.now`` time)."""
        self._deadline = deadline
        if self._timer is None or self._due > deadline:
            if self._timer is not None:
                self._timer.cancel()
            self._arm(deadline)

    def stop(self) -> None:
        """The current invocation ended: its deadline no longer applies."""
        self._deadline = None

    def close(self) -> None:
        """No more invocations: cancel the pending timer."""
        self._deadline = None
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _arm(self, due: float) -> None:
        self._due = due
        self._timer = self._clock.call_later(due - self._clock.now(), self._fire)

    def _fire(self) -> None:
        self._timer = None
        deadline = self._deadline
        if deadline is None:
            return
        if self._clock.now() < deadline - RESOLUTION_S:
            self._arm(deadline)
            return
        self._deadline = None
        self._on_expired()


__all__ = ["DeadlineTimer"]
