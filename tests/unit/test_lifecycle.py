"""The environment state machine: one transition table, enforced by ``Lifecycle.move``."""

from __future__ import annotations

import itertools

import pytest

from flare.errors import IllegalTransition
from flare.sandbox.lifecycle import ALLOWED, EnvState, Lifecycle

PAIRS = list(itertools.product(EnvState, EnvState))


def lifecycle_in(state: EnvState) -> Lifecycle:
    lifecycle = Lifecycle()
    lifecycle.state = state
    return lifecycle


def test_table_covers_every_state() -> None:
    assert set(ALLOWED) == set(EnvState)


def test_new_lifecycle_is_starting() -> None:
    assert Lifecycle().state is EnvState.STARTING


@pytest.mark.parametrize(
    ("start", "to", "allowed"),
    [
        (EnvState.STARTING, EnvState.INITIALISING, True),
        (EnvState.STARTING, EnvState.FAILED, True),
        (EnvState.STARTING, EnvState.STOPPING, True),
        (EnvState.INITIALISING, EnvState.IDLE, True),
        (EnvState.INITIALISING, EnvState.FAILED, True),
        (EnvState.INITIALISING, EnvState.STOPPING, True),
        (EnvState.IDLE, EnvState.BUSY, True),
        (EnvState.IDLE, EnvState.FAILED, True),
        (EnvState.IDLE, EnvState.STOPPING, True),
        (EnvState.BUSY, EnvState.IDLE, True),
        (EnvState.BUSY, EnvState.FAILED, True),
        (EnvState.BUSY, EnvState.STOPPING, True),
        (EnvState.FAILED, EnvState.STOPPING, True),
        (EnvState.STOPPING, EnvState.STOPPED, True),
        (EnvState.STARTING, EnvState.IDLE, False),
        (EnvState.STARTING, EnvState.BUSY, False),
        (EnvState.INITIALISING, EnvState.BUSY, False),
        (EnvState.IDLE, EnvState.INITIALISING, False),
        (EnvState.BUSY, EnvState.BUSY, False),
        (EnvState.FAILED, EnvState.IDLE, False),
        (EnvState.STOPPING, EnvState.IDLE, False),
        (EnvState.STARTING, EnvState.STOPPED, False),
    ],
)
def test_the_diagram_in_the_docstring_matches_the_table(start: EnvState, to: EnvState, allowed: bool) -> None:
    assert (to in ALLOWED[start]) is allowed


@pytest.mark.parametrize(("start", "to"), PAIRS, ids=[f"{a.value}->{b.value}" for a, b in PAIRS])
def test_move_succeeds_exactly_when_the_table_allows_it(start: EnvState, to: EnvState) -> None:
    lifecycle = lifecycle_in(start)
    assert lifecycle.can_move(to) is (to in ALLOWED[start])
    if to in ALLOWED[start]:
        lifecycle.move(to)
        assert lifecycle.state is to
    else:
        with pytest.raises(IllegalTransition) as caught:
            lifecycle.move(to)
        assert lifecycle.state is start
        assert caught.value.current is start
        assert caught.value.wanted is to


@pytest.mark.parametrize("to", list(EnvState))
def test_stopped_is_terminal(to: EnvState) -> None:
    lifecycle = lifecycle_in(EnvState.STOPPED)
    assert not lifecycle.can_move(to)
    with pytest.raises(IllegalTransition):
        lifecycle.move(to)
    assert lifecycle.state is EnvState.STOPPED


@pytest.mark.parametrize("start", list(EnvState))
def test_every_state_can_reach_stopped(start: EnvState) -> None:
    reached, todo = {start}, [start]
    while todo:
        for nxt in ALLOWED[todo.pop()]:
            if nxt not in reached:
                reached.add(nxt)
                todo.append(nxt)
    assert EnvState.STOPPED in reached


@pytest.mark.parametrize("start", [s for s in EnvState if s is not EnvState.STOPPED])
def test_every_state_before_stopped_stops_through_stopping(start: EnvState) -> None:
    lifecycle = lifecycle_in(start)
    if start is not EnvState.STOPPING:
        lifecycle.move(EnvState.STOPPING)
    lifecycle.move(EnvState.STOPPED)
    assert lifecycle.state is EnvState.STOPPED


@pytest.mark.parametrize(
    ("state", "live"),
    [
        (EnvState.STARTING, True),
        (EnvState.INITIALISING, True),
        (EnvState.IDLE, True),
        (EnvState.BUSY, True),
        (EnvState.FAILED, True),
        (EnvState.STOPPING, False),
        (EnvState.STOPPED, False),
    ],
)
def test_live_is_false_only_once_stopping_has_begun(state: EnvState, live: bool) -> None:
    assert lifecycle_in(state).live is live


def test_a_cold_start_then_invoke_then_shutdown_walks_the_happy_path() -> None:
    lifecycle = Lifecycle()
    for state in (
        EnvState.INITIALISING,
        EnvState.IDLE,
        EnvState.BUSY,
        EnvState.IDLE,
        EnvState.STOPPING,
        EnvState.STOPPED,
    ):
        lifecycle.move(state)
    assert lifecycle.state is EnvState.STOPPED
    assert not lifecycle.live


class Watchers:
    active = True


def test_the_observer_is_told_every_state_moved_to_and_not_a_refused_one() -> None:
    told: list[EnvState] = []
    lifecycle = Lifecycle(told.append, Watchers())
    lifecycle.move(EnvState.INITIALISING)
    lifecycle.move(EnvState.IDLE)
    with pytest.raises(IllegalTransition):
        lifecycle.move(EnvState.STOPPED)
    lifecycle.move(EnvState.BUSY)
    assert told == [EnvState.INITIALISING, EnvState.IDLE, EnvState.BUSY]


def test_the_observer_is_not_called_while_nobody_watches() -> None:
    told: list[EnvState] = []
    watchers = Watchers()
    watchers.active = False
    lifecycle = Lifecycle(told.append, watchers)
    lifecycle.move(EnvState.INITIALISING)
    watchers.active = True
    lifecycle.move(EnvState.IDLE)
    assert told == [EnvState.IDLE]
