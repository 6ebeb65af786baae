"""Idle environments frozen once they have been idle for ``FREEZE_DELAY_S``, on one timer.

The pool parks an environment when its caller has the answer (``add``); once it has been idle
``FREEZE_DELAY_S`` it is frozen (no CPU until its next invocation thaws it). One served again
before then (``discard``) is never frozen: under load an environment is usually reused within
the window and then costs neither a freeze nor a thaw (a cgroup freezer write each, and a
wake-up of each of its processes for each). Each environment gets its whole window, counted
from its own parking; one timer serves them all, due for the oldest waiting and re-armed for
the next. (A window shared by every environment parked in it, as before, froze one parked
just before the window's end almost at once, and with it, under load, about one invocation
in four.)

A loop may run a timer up to ``RESOLUTION_S`` early (uvloop counts whole milliseconds,
rounding): an environment that close to its due time is frozen then, rather than the timer
spinning until it is; and a re-armed timer may run up to a millisecond late, so an idle
environment is frozen between about a half and two windows after its parking.

Times are the injected clock's (``Clock.now``); used from the event loop's thread only.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, TypeVar

from flare.clock import Clock, TimerHandle

FREEZE_DELAY_S = 0.001
RESOLUTION_S = 0.0005


class Freezable(Protocol):
    def freeze(self) -> None: ...


T = TypeVar("T")


def freeze_due(parked: Mapping[T, float], now: float, delay_s: float) -> tuple[list[T], float | None]:
    """Which of ``parked`` (each with when it was parked, in parking order) have been idle
    ``delay_s`` at ``now`` (within ``RESOLUTION_S``), and when the first of the rest falls
    due (None when none is left). Pure."""
    ready: list[T] = []
    for item, parked_at in parked.items():
        due_at = parked_at + delay_s
        if due_at - RESOLUTION_S > now:
            return ready, due_at
        ready.append(item)
    return ready, None


class FreezeWindow:
    """See the module docstring."""

    def __init__(self, clock: Clock, delay_s: float = FREEZE_DELAY_S) -> None:
        self._clock = clock
        self._delay_s = delay_s
        self._parked: dict[Freezable, float] = {}  # environment => when it was parked, oldest first
        self._timer: TimerHandle | None = None

    def add(self, env: Freezable) -> None:
        """``env`` is idle from now: frozen in ``delay_s`` unless ``discard``-ed before."""
        self._parked.pop(env, None)  # parked again: its place is at the end, with the newest
        self._parked[env] = self._clock.now()
        if self._timer is None:
            self._timer = self._clock.call_later(self._delay_s, self._fire)

    def discard(self, env: Freezable) -> None:
        """``env`` serves again (or goes): it is not to be frozen."""
        if self._parked.pop(env, None) is not None and not self._parked and self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def close(self) -> None:
        """Freeze nothing more."""
        self._parked.clear()
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _fire(self) -> None:
        self._timer = None
        now = self._clock.now()
        ready, next_due = freeze_due(self._parked, now, self._delay_s)
        for env in ready:
            del self._parked[env]
        if next_due is not None:
            self._timer = self._clock.call_later(next_due - now, self._fire)
        for env in ready:
            env.freeze()


__all__ = ["FREEZE_DELAY_S", "FreezeWindow", "freeze_due"]
