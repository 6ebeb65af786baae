"""The live feed: bounded subscribers that drop and are told, snapshots, the phase table."""

from __future__ import annotations

import asyncio

import pytest

from flare.observe.live_feed import (
    Dropped,
    EnvironmentSeen,
    Event,
    InvocationSeen,
    LiveFeed,
    Phase,
    Start,
    ThrottleSeen,
    as_wire,
)
from flare.sandbox.lifecycle import EnvState
from flare.sandbox.phase import phase_of


def throttle(n: int) -> ThrottleSeen:
    return ThrottleSeen(float(n), "123456789012", "us-east-1", f"fn{n}")


def environment(env_id: str, function: str = "fn", phase: Phase = Phase.BUSY) -> EnvironmentSeen:
    return EnvironmentSeen(
        1.0, "123456789012", "us-east-1", function, "$LATEST", env_id, 128, "on-demand", phase
    )


def test_a_subscriber_gets_every_event_published_since_it_subscribed_in_order() -> None:
    async def scenario() -> list[Event]:
        feed = LiveFeed()
        feed.publish(throttle(0))  # before anyone subscribed: nobody gets it
        with feed.subscribe() as subscription:
            for n in (1, 2, 3):
                feed.publish(throttle(n))
            return list(await subscription.next_batch())

    assert asyncio.run(scenario()) == [throttle(1), throttle(2), throttle(3)]


def test_a_full_subscriber_misses_events_and_its_next_batch_says_how_many() -> None:
    async def scenario() -> tuple[list[Event], list[Event]]:
        feed = LiveFeed()
        slow, fast = feed.subscribe(bound=2), feed.subscribe(bound=100)
        for n in range(5):
            feed.publish(throttle(n))
        return list(await slow.next_batch()), list(await fast.next_batch())

    slow, fast = asyncio.run(scenario())
    assert slow == [Dropped(3), throttle(0), throttle(1)]
    assert fast == [throttle(n) for n in range(5)]


def test_after_a_drop_the_next_batch_is_whole_again() -> None:
    async def scenario() -> list[Event]:
        feed = LiveFeed()
        subscription = feed.subscribe(bound=1)
        feed.publish(throttle(0))
        feed.publish(throttle(1))
        await subscription.next_batch()
        feed.publish(throttle(2))
        return list(await subscription.next_batch())

    assert asyncio.run(scenario()) == [throttle(2)]


def test_a_waiting_reader_wakes_on_publish_and_on_close() -> None:
    async def scenario() -> tuple[list[Event], list[Event], bool]:
        feed = LiveFeed()
        subscription = feed.subscribe()
        waiting = asyncio.create_task(subscription.next_batch())
        await asyncio.sleep(0)
        feed.publish(throttle(7))
        first = list(await waiting)
        waiting = asyncio.create_task(subscription.next_batch())
        await asyncio.sleep(0)
        feed.close()
        return first, list(await waiting), feed.active

    first, after_close, active = asyncio.run(scenario())
    assert first == [throttle(7)]
    assert after_close == []
    assert not active


def test_the_feed_is_active_only_while_someone_is_subscribed() -> None:
    async def scenario() -> list[bool]:
        feed = LiveFeed()
        seen = [feed.active]
        with feed.subscribe():
            seen.append(feed.active)
        seen.append(feed.active)
        return seen

    assert asyncio.run(scenario()) == [False, True, False]


def test_the_snapshot_lists_what_the_engine_says_is_live_in_a_stable_order() -> None:
    feed = LiveFeed()
    assert feed.snapshot() == []
    feed.environments = lambda: [environment("b", "g"), environment("z", "f"), environment("a", "f")]
    assert [seen.environment_id for seen in feed.snapshot()] == ["a", "z", "b"]


def test_an_event_on_the_wire_is_its_kind_and_its_fields() -> None:
    seen = InvocationSeen(
        2.5, "123456789012", "us-east-1", "fn", "1", "req", 1.23456, Start.COLD, 80.0, None, 256, 4.25e-7
    )
    assert as_wire(seen) == {
        "kind": "invocation",
        "at": 2.5,
        "account": "123456789012",
        "region": "us-east-1",
        "function": "fn",
        "version": "1",
        "request_id": "req",
        "duration_ms": 1.235,
        "start": "cold",
        "init_ms": 80.0,
        "error_type": None,
        "memory_mb": 256,
        "cost_usd": 4.25e-7,  # millionths of a dollar: not rounded
    }
    assert as_wire(Dropped(4)) == {"kind": "dropped", "count": 4}


@pytest.mark.parametrize(
    ("state", "frozen", "restoring", "phase"),
    [
        (EnvState.STARTING, False, False, Phase.STARTING),
        (EnvState.INITIALISING, False, False, Phase.INITIALIZING),
        (EnvState.INITIALISING, False, True, Phase.RESTORING),
        (EnvState.IDLE, False, False, Phase.IDLE),
        (EnvState.IDLE, True, False, Phase.FROZEN),
        (EnvState.BUSY, False, False, Phase.BUSY),
        (EnvState.BUSY, True, True, Phase.BUSY),
        (EnvState.FAILED, False, False, Phase.FAILED),
        (EnvState.STOPPING, False, False, Phase.SHUTTING_DOWN),
        (EnvState.STOPPED, False, False, Phase.GONE),
    ],
)
def test_an_environments_phase_from_its_state(
    state: EnvState, frozen: bool, restoring: bool, phase: Phase
) -> None:
    assert phase_of(state, frozen, restoring) is phase
