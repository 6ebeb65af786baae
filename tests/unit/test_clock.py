"""ManualClock fires timers deterministically; SystemClock delegates to the running loop."""

from __future__ import annotations

import asyncio
from functools import partial

import pytest

from flare.clock import JumpClock, ManualClock, SystemClock


def test_manual_clock_starts_at_the_given_times() -> None:
    clock = ManualClock(start=5.0, wall_start=100.0)
    assert clock.now() == 5.0
    assert clock.wall() == 100.0


def test_advance_fires_timers_in_due_order_each_seeing_its_own_due_time() -> None:
    clock = ManualClock(start=0.0)
    fired: list[tuple[str, float]] = []

    def record(name: str) -> None:
        fired.append((name, clock.now()))

    for name, delay in [("c", 3.0), ("a", 1.0), ("b", 2.0)]:
        clock.call_later(delay, partial(record, name))
    clock.advance(10.0)
    assert fired == [("a", 1.0), ("b", 2.0), ("c", 3.0)]
    assert clock.now() == 10.0


def test_timers_due_at_the_same_time_fire_in_scheduling_order() -> None:
    clock = ManualClock(start=0.0)
    fired: list[int] = []
    for i in range(5):
        clock.call_later(1.0, partial(fired.append, i))
    clock.advance(1.0)
    assert fired == [0, 1, 2, 3, 4]


@pytest.mark.parametrize(
    ("advance", "fired"),
    [
        (0.0, []),
        (0.999, []),
        (1.0, ["a"]),
        (2.5, ["a", "b"]),
        (3.0, ["a", "b", "c"]),
    ],
)
def test_advance_fires_only_timers_due_within_the_window(advance: float, fired: list[str]) -> None:
    clock = ManualClock(start=0.0)
    seen: list[str] = []
    for name, delay in [("a", 1.0), ("b", 2.0), ("c", 3.0)]:
        clock.call_later(delay, partial(seen.append, name))
    clock.advance(advance)
    assert seen == fired
    assert clock.pending() == 3 - len(fired)


def test_negative_delay_fires_on_the_next_advance_at_the_current_time() -> None:
    clock = ManualClock(start=7.0)
    seen: list[float] = []
    clock.call_later(-5.0, lambda: seen.append(clock.now()))
    clock.advance(0.0)
    assert seen == [7.0]


def test_cancelled_timer_does_not_fire() -> None:
    clock = ManualClock(start=0.0)
    seen: list[str] = []
    handle = clock.call_later(1.0, lambda: seen.append("cancelled"))
    clock.call_later(2.0, lambda: seen.append("kept"))
    handle.cancel()
    clock.advance(5.0)
    assert seen == ["kept"]


def test_timer_scheduled_by_a_firing_callback_fires_if_due_within_the_window() -> None:
    clock = ManualClock(start=0.0)
    seen: list[tuple[str, float]] = []

    def first() -> None:
        seen.append(("first", clock.now()))
        clock.call_later(1.0, lambda: seen.append(("inside", clock.now())))
        clock.call_later(10.0, lambda: seen.append(("outside", clock.now())))

    clock.call_later(1.0, first)
    clock.advance(3.0)
    assert seen == [("first", 1.0), ("inside", 2.0)]
    assert clock.pending() == 1
    clock.advance(8.0)
    assert seen[-1] == ("outside", 11.0)


def test_a_callback_can_cancel_a_later_timer_in_the_same_advance() -> None:
    clock = ManualClock(start=0.0)
    seen: list[str] = []
    later = clock.call_later(2.0, lambda: seen.append("later"))
    clock.call_later(1.0, later.cancel)
    clock.advance(5.0)
    assert seen == []


def test_pending_counts_timers_not_yet_fired_or_cancelled() -> None:
    clock = ManualClock(start=0.0)
    assert clock.pending() == 0
    first = clock.call_later(1.0, lambda: None)
    clock.call_later(2.0, lambda: None)
    clock.call_later(3.0, lambda: None)
    assert clock.pending() == 3
    first.cancel()
    assert clock.pending() == 2
    clock.advance(2.0)
    assert clock.pending() == 1
    clock.advance(1.0)
    assert clock.pending() == 0


def test_wall_moves_with_now() -> None:
    clock = ManualClock(start=1_000.0, wall_start=1_767_225_600.0)
    clock.advance(12.5)
    assert clock.now() == 1_012.5
    assert clock.wall() == 1_767_225_612.5
    assert clock.wall() - clock.now() == 1_767_225_600.0 - 1_000.0


def test_manual_sleep_resolves_only_after_advance() -> None:
    async def scenario() -> list[str]:
        clock = ManualClock(start=0.0)
        steps: list[str] = []

        async def sleeper() -> None:
            await clock.sleep(5.0)
            steps.append(f"woke at {clock.now()}")

        task = asyncio.create_task(sleeper())
        for _ in range(3):
            await asyncio.sleep(0)
        assert not task.done()
        assert clock.pending() == 1
        clock.advance(4.0)
        for _ in range(3):
            await asyncio.sleep(0)
        assert not task.done()
        clock.advance(1.0)
        await asyncio.wait_for(task, timeout=1.0)
        return steps

    assert asyncio.run(scenario()) == ["woke at 5.0"]


def test_cancelled_manual_sleep_cancels_its_timer() -> None:
    async def scenario() -> int:
        clock = ManualClock(start=0.0)
        task = asyncio.create_task(clock.sleep(5.0))
        await asyncio.sleep(0)
        assert clock.pending() == 1
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        return clock.pending()

    assert asyncio.run(scenario()) == 0


def test_system_clock_call_later_fires_in_a_running_loop() -> None:
    async def scenario() -> tuple[bool, bool]:
        clock = SystemClock()
        loop = asyncio.get_running_loop()
        fired = loop.create_future()
        cancelled_fired: list[bool] = []
        clock.call_later(0.01, lambda: fired.set_result(clock.now()))
        clock.call_later(0.01, lambda: cancelled_fired.append(True)).cancel()
        clock.call_later(-1.0, lambda: None)
        began = clock.now()
        at = await asyncio.wait_for(fired, timeout=2.0)
        await clock.sleep(0.02)
        return at >= began, cancelled_fired == []

    assert asyncio.run(scenario()) == (True, True)


def test_system_clock_times_are_monotonic_and_epoch() -> None:
    clock = SystemClock()
    first = clock.now()
    assert clock.now() >= first
    assert clock.wall() > 1_700_000_000


def test_a_jump_clock_fires_a_timer_once_advanced_past_it_and_not_before() -> None:
    async def scenario() -> list[str]:
        clock = JumpClock()
        fired: list[str] = []
        wall = clock.wall()
        clock.call_later(30 * 86400, lambda: fired.append("month"))
        cancelled = clock.call_later(10, lambda: fired.append("cancelled"))
        cancelled.cancel()
        clock.advance(29 * 86400)
        await asyncio.sleep(0.05)
        assert fired == [] and clock.wall() - wall >= 29 * 86400
        clock.advance(86400)
        await asyncio.sleep(0.05)
        return fired

    assert asyncio.run(scenario()) == ["month"]


def test_a_jump_clock_fires_every_timer_it_passes_before_advance_returns_in_due_order() -> None:
    async def scenario() -> None:
        clock = JumpClock()
        fired: list[str] = []

        def set_another() -> None:
            clock.call_later(0, lambda: fired.append("set by one"))

        clock.call_later(60, lambda: fired.append("reaper"))
        clock.call_later(30, set_another)
        clock.call_later(20, lambda: fired.append("first"))
        clock.call_later(300, lambda: fired.append("later"))
        clock.advance(100)
        assert fired == ["first", "reaper", "set by one"]  # no turn of the loop needed
        await asyncio.sleep(0.05)
        assert fired == ["first", "reaper", "set by one"]

    asyncio.run(scenario())
