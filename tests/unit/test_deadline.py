"""The environment's deadline timer (``sandbox/deadline.py``) on a manual clock."""

from __future__ import annotations

from collections.abc import Callable

from flare.clock import ManualClock, TimerHandle
from flare.sandbox.deadline import DeadlineTimer


class CountingClock(ManualClock):
    """A manual clock that counts the timers asked of it."""

    def __init__(self) -> None:
        super().__init__()
        self.timers_made = 0

    def call_later(self, delay: float, callback: Callable[[], None]) -> TimerHandle:
        self.timers_made += 1
        return super().call_later(delay, callback)


def timer_on(clock: ManualClock) -> tuple[DeadlineTimer, list[float]]:
    expired: list[float] = []
    return DeadlineTimer(clock, lambda: expired.append(clock.now())), expired


def test_a_deadline_reached_expires_once() -> None:
    clock = ManualClock()
    timer, expired = timer_on(clock)
    timer.start(clock.now() + 3)
    clock.advance(2.9)
    assert expired == []
    clock.advance(10)
    assert expired == [1003.0]


def test_a_later_invocation_gets_its_own_full_timeout() -> None:
    """The first invocation's timer is still pending when the second starts: it must not end
    the second at the first's deadline, but at the second's own."""
    clock = ManualClock()
    timer, expired = timer_on(clock)
    timer.start(clock.now() + 3)
    clock.advance(2)
    timer.stop()
    timer.start(clock.now() + 3)  # due at 1005, not 1003
    clock.advance(1.5)
    assert expired == []
    clock.advance(1.4)
    assert expired == []
    clock.advance(0.2)
    assert expired == [1005.0]


def test_an_ended_invocation_never_expires_and_back_to_back_invocations_share_one_timer() -> None:
    clock = CountingClock()
    timer, expired = timer_on(clock)
    for _ in range(100):
        timer.start(clock.now() + 3)
        clock.advance(0.01)
        timer.stop()
    assert clock.timers_made == 1
    assert clock.pending() == 1
    clock.advance(60)
    assert expired == []
    assert clock.pending() == 0


def test_a_shorter_deadline_than_the_pending_timer_is_kept() -> None:
    clock = ManualClock()
    timer, expired = timer_on(clock)
    timer.start(clock.now() + 900)
    timer.stop()
    timer.start(clock.now() + 1)
    clock.advance(1)
    assert expired == [1001.0]


def test_close_cancels_the_pending_timer() -> None:
    clock = ManualClock()
    timer, expired = timer_on(clock)
    timer.start(clock.now() + 1)
    timer.close()
    assert clock.pending() == 0
    clock.advance(5)
    assert expired == []
