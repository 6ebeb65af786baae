"""Parked environments frozen once idle a whole window (``placement/freeze_window.py``)."""

from __future__ import annotations

import pytest

from flare.clock import ManualClock
from flare.placement.freeze_window import FREEZE_DELAY_S, RESOLUTION_S, FreezeWindow, freeze_due


class Env:
    def __init__(self, name: str) -> None:
        self.name = name
        self.frozen_at: list[float] = []
        self.clock: ManualClock | None = None

    def freeze(self) -> None:
        assert self.clock is not None
        self.frozen_at.append(self.clock.now())


@pytest.mark.parametrize(
    ("parked", "now", "ready", "next_due"),
    [
        ({}, 10.0, [], None),
        ({"a": 10.0}, 10.5, [], 11.0),
        ({"a": 10.0}, 11.0, ["a"], None),
        ({"a": 10.0}, 11.0 - RESOLUTION_S, ["a"], None),  # a timer that fired a little early
        ({"a": 10.0}, 11.0 - 2 * RESOLUTION_S, [], 11.0),
        ({"a": 10.0, "b": 10.2, "c": 10.9}, 11.3, ["a", "b"], 11.9),
    ],
)
def test_freeze_due_takes_those_idle_a_whole_window(
    parked: dict[str, float], now: float, ready: list[str], next_due: float | None
) -> None:
    assert freeze_due(parked, now, 1.0) == (ready, next_due)


def window_with(*names: str) -> tuple[ManualClock, FreezeWindow, list[Env]]:
    clock = ManualClock()
    envs = [Env(name) for name in names]
    for env in envs:
        env.clock = clock
    return clock, FreezeWindow(clock), envs


def test_an_environment_parked_late_in_anothers_window_gets_its_own_whole_window() -> None:
    clock, window, (first, second) = window_with("first", "second")
    window.add(first)
    clock.advance(0.9 * FREEZE_DELAY_S)
    window.add(second)
    clock.advance(0.1 * FREEZE_DELAY_S)
    assert first.frozen_at == [clock.now()]
    assert second.frozen_at == [], "idle only a tenth of the window"
    clock.advance(0.9 * FREEZE_DELAY_S)
    assert second.frozen_at == [pytest.approx(1000 + 1.9 * FREEZE_DELAY_S)]
    assert clock.pending() == 0


def test_an_environment_served_again_within_its_window_is_never_frozen() -> None:
    clock, window, (env,) = window_with("env")
    for _ in range(50):
        window.add(env)
        clock.advance(0.4 * FREEZE_DELAY_S)
        window.discard(env)
        clock.advance(0.1 * FREEZE_DELAY_S)
    clock.advance(10 * FREEZE_DELAY_S)
    assert env.frozen_at == []
    assert clock.pending() == 0


def test_close_freezes_nothing_more() -> None:
    clock, window, (env,) = window_with("env")
    window.add(env)
    window.close()
    clock.advance(10 * FREEZE_DELAY_S)
    assert env.frozen_at == []
