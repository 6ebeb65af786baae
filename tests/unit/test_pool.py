"""The pool with fake environments: which environment serves, when one is parked or stopped."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, cast

import pytest

from flare.clock import ManualClock
from flare.placement.freeze_window import FREEZE_DELAY_S
from flare.placement.pool import Pool, choose_idle, idle_expired
from flare.sandbox.lifecycle import EnvState

IDLE_TIMEOUT = 300.0
INIT_TIMEOUT = 10.0


@dataclass(frozen=True)
class FakeVersion:
    name: str = "fn"
    version: str = "$LATEST"
    revision_id: str = "rev-1"
    tenant_id: str | None = None

    @property
    def key(self) -> tuple[str, str, str, str | None]:
        return (self.name, self.version, self.revision_id, self.tenant_id)


class FakeEnv:
    """Has what the pool touches: version, state, freeze(), settle(), start(limit), stop()."""

    _ids = itertools.count(1)

    def __init__(self, version: FakeVersion, state: EnvState = EnvState.STARTING, fail_init: bool = False):
        self.id = next(self._ids)
        self.version = version
        self.state = state
        self.fail_init = fail_init
        self.init_failure: object | None = None
        self.init_timed_out = False
        self.start_limits: list[float] = []
        self.start_bursts: list[bool] = []
        self.freezes = 0
        self.settles = 0
        self.stops = 0

    def post_invoke_pending(self) -> asyncio.Future[None] | None:
        """The extensions' post-runtime phase (tests set ``holding``)."""
        holding: asyncio.Future[None] | None = getattr(self, "holding", None)
        return holding if holding is not None and not holding.done() else None

    def __repr__(self) -> str:
        return f"<FakeEnv {self.id} {self.state.value}>"

    async def start(self, limit: float, cpu_burst: bool = True) -> None:
        self.start_limits.append(limit)
        self.start_bursts.append(cpu_burst)
        await asyncio.sleep(0)
        if self.fail_init:
            self.init_failure = "init error"
            self.state = EnvState.FAILED
        else:
            self.state = EnvState.IDLE

    def freeze(self) -> None:
        if self.state is EnvState.IDLE:  # as Environment.freeze: only an idle one is frozen
            self.freezes += 1

    def settle(self) -> None:
        self.settles += 1

    async def stop(self) -> None:
        await asyncio.sleep(0)
        self.stops += 1
        self.state = EnvState.STOPPED

    @property
    def stopped(self) -> bool:
        return self.stops > 0


class Factory:
    def __init__(self, fail_init: bool = False) -> None:
        self.made: list[FakeEnv] = []
        self.fail_init = fail_init

    def __call__(self, version: FakeVersion, pool: Pool) -> FakeEnv:
        env = FakeEnv(version, fail_init=self.fail_init)
        self.made.append(env)
        return env


def make_pool(factory: Factory | None = None) -> tuple[Any, Factory, ManualClock]:
    """A pool over fake environments (typed Any: the fakes only duck-type ``Environment``)."""
    factory = factory or Factory()
    clock = ManualClock()
    pool = Pool(cast(Any, factory), clock, idle_timeout_s=IDLE_TIMEOUT, init_timeout_s=INIT_TIMEOUT)
    return pool, factory, clock


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(cast(Coroutine[Any, Any, Any], scenario()))


async def settle() -> None:
    """Let the pool's stop tasks run."""
    for _ in range(5):
        await asyncio.sleep(0)


V1 = FakeVersion()
V2 = FakeVersion(revision_id="rev-2")


# -- choose_idle ------------------------------------------------------------------------------

IDLE, BUSY, FAILED, STOPPED = EnvState.IDLE, EnvState.BUSY, EnvState.FAILED, EnvState.STOPPED


@pytest.mark.parametrize(
    ("states", "chosen", "left"),
    [
        ([], None, []),
        ([IDLE], 0, []),
        ([IDLE, IDLE], 1, [0]),
        ([IDLE, IDLE, IDLE], 2, [0, 1]),
        ([IDLE, BUSY], 0, []),
        ([IDLE, FAILED, STOPPED], 0, []),
        ([FAILED, STOPPED, BUSY], None, []),
        ([IDLE, BUSY, IDLE], 2, [0, 1]),
        ([EnvState.STOPPING], None, []),
    ],
)
def test_choose_idle_takes_the_last_idle_environment_and_drops_non_idle_ones_above_it(
    states: list[EnvState], chosen: int | None, left: list[int]
) -> None:
    envs = [FakeEnv(V1, state) for state in states]
    idle = list(envs)
    got: Any = choose_idle(cast(Any, idle))
    assert got is (None if chosen is None else envs[chosen])
    assert idle == [envs[i] for i in left]


# -- reserve / release ------------------------------------------------------------------------


def test_reserve_with_no_idle_environment_starts_a_new_one_with_the_init_timeout() -> None:
    async def scenario() -> None:
        pool, factory, _ = make_pool()
        env = await pool.reserve(V1)
        assert factory.made == [env]
        assert env.start_limits == [INIT_TIMEOUT]
        assert env.start_bursts == [True], "INIT runs with burst CPU"
        assert env.state is EnvState.IDLE
        assert pool.environments() == [env]

    run(scenario)


def test_reserve_passes_an_explicit_init_limit_for_a_suppressed_init_without_burst_cpu() -> None:
    async def scenario() -> None:
        pool, factory, _ = make_pool()
        await pool.reserve(V1, init_limit_s=2.5)
        assert factory.made[0].start_limits == [2.5]
        assert factory.made[0].start_bursts == [False]

    run(scenario)


def test_released_idle_environment_is_frozen_and_reused_by_the_next_reserve() -> None:
    async def scenario() -> None:
        pool, factory, clock = make_pool()
        env = await pool.reserve(V1)
        pool.release(env)
        assert env.settles == 1, "release records the invocation's log"
        assert env.freezes == 0, "the freeze waits for the freeze window"
        clock.advance(FREEZE_DELAY_S)
        assert env.freezes == 1
        assert clock.pending() == 1
        again = await pool.reserve(V1)
        assert again is env
        assert len(factory.made) == 1
        assert clock.pending() == 0, "reuse cancels the idle timer"
        await settle()
        assert not env.stopped

    run(scenario)


def test_an_environment_in_its_extensions_post_runtime_phase_stays_busy_until_it_ends() -> None:
    async def scenario() -> None:
        pool, _, clock = make_pool()
        env = await pool.reserve(V1)
        env.holding = asyncio.get_running_loop().create_future()
        pool.release(env)
        assert env.settles == 0, "its log waits for the whole invocation"
        other = await pool.reserve(V1)
        assert other is not env, "the next invoke gets another environment"
        assert pool.busy() == 2
        env.holding.set_result(None)
        await settle()
        assert env.settles == 1
        assert pool.busy() == 1
        clock.advance(FREEZE_DELAY_S)
        assert env.freezes == 1

    run(scenario)


def test_environment_reused_within_the_freeze_window_is_never_frozen() -> None:
    async def scenario() -> None:
        pool, _, clock = make_pool()
        env = await pool.reserve(V1)
        pool.release(env)
        assert await pool.reserve(V1) is env
        env.state = EnvState.BUSY
        clock.advance(FREEZE_DELAY_S)
        assert env.freezes == 0
        env.state = EnvState.IDLE
        pool.release(env)
        clock.advance(FREEZE_DELAY_S)
        assert env.freezes == 1

    run(scenario)


def test_two_concurrent_reserves_get_two_environments() -> None:
    async def scenario() -> None:
        pool, factory, _ = make_pool()
        first, second = await asyncio.gather(pool.reserve(V1), pool.reserve(V1))
        assert first is not second
        assert len(factory.made) == 2
        assert repr(pool) == "<Pool idle=0 busy=2>"

    run(scenario)


def test_one_parked_environment_serves_only_one_of_two_concurrent_reserves() -> None:
    async def scenario() -> None:
        pool, factory, _ = make_pool()
        warm = await pool.reserve(V1)
        pool.release(warm)
        first, second = await asyncio.gather(pool.reserve(V1), pool.reserve(V1))
        assert first is warm
        assert second is not warm
        assert len(factory.made) == 2

    run(scenario)


def test_environments_of_another_revision_are_not_reused() -> None:
    async def scenario() -> None:
        pool, factory, _ = make_pool()
        env = await pool.reserve(V1)
        pool.release(env)
        other = await pool.reserve(FakeVersion(name="other"))
        assert other is not env
        assert len(factory.made) == 2

    run(scenario)


def test_releasing_a_failed_environment_stops_it_instead_of_parking_it() -> None:
    async def scenario() -> None:
        pool, factory, clock = make_pool()
        env = await pool.reserve(V1)
        env.state = EnvState.FAILED
        pool.release(env)
        await settle()
        assert env.stopped
        assert env.freezes == 0
        assert clock.pending() == 0
        assert await pool.reserve(V1) is not env
        assert len(factory.made) == 2

    run(scenario)


def test_a_failed_init_is_returned_failed_and_stopped_on_release() -> None:
    async def scenario() -> None:
        pool, _, _ = make_pool(Factory(fail_init=True))
        env = await pool.reserve(V1)
        assert env.state is EnvState.FAILED
        assert env.init_failure is not None
        pool.release(env)
        await settle()
        assert env.stopped
        assert pool.environments() == []

    run(scenario)


def test_a_start_that_raises_stops_the_environment_and_propagates() -> None:
    class Boom(Exception):
        pass

    class RaisingEnv(FakeEnv):
        async def start(self, limit: float, cpu_burst: bool = True) -> None:
            raise Boom

    class RaisingFactory(Factory):
        def __call__(self, version: FakeVersion, pool: Pool) -> FakeEnv:
            env = RaisingEnv(version)
            self.made.append(env)
            return env

    async def scenario() -> None:
        pool, factory, _ = make_pool(RaisingFactory())
        with pytest.raises(Boom):
            await pool.reserve(V1)
        await settle()
        assert factory.made[0].stopped
        assert pool.environments() == []

    run(scenario)


# -- idle timer -------------------------------------------------------------------------------


def test_parked_environment_is_stopped_after_the_idle_timeout() -> None:
    async def scenario() -> None:
        pool, factory, clock = make_pool()
        env = await pool.reserve(V1)
        pool.release(env)
        clock.advance(IDLE_TIMEOUT)
        await settle()
        assert env.stopped
        assert pool.environments() == []
        fresh = await pool.reserve(V1)
        assert fresh is not env
        assert len(factory.made) == 2

    run(scenario)


def test_parked_environment_survives_just_short_of_the_idle_timeout() -> None:
    async def scenario() -> None:
        pool, factory, clock = make_pool()
        env = await pool.reserve(V1)
        pool.release(env)
        clock.advance(IDLE_TIMEOUT - 1)
        await settle()
        assert not env.stopped
        assert await pool.reserve(V1) is env
        assert len(factory.made) == 1

    run(scenario)


def test_each_release_restarts_the_idle_timer() -> None:
    async def scenario() -> None:
        pool, _, clock = make_pool()
        env = await pool.reserve(V1)
        pool.release(env)
        clock.advance(IDLE_TIMEOUT - 1)
        assert await pool.reserve(V1) is env
        pool.release(env)
        clock.advance(IDLE_TIMEOUT - 1)
        await settle()
        assert not env.stopped
        clock.advance(1)
        await settle()
        assert env.stopped

    run(scenario)


def test_environments_parked_at_different_times_expire_each_at_its_own_ttl_on_one_timer() -> None:
    async def scenario() -> None:
        pool, _, clock = make_pool()
        first, second = await asyncio.gather(pool.reserve(V1), pool.reserve(V1))
        pool.release(first)
        clock.advance(10)
        pool.release(second)
        clock.advance(FREEZE_DELAY_S)
        assert clock.pending() == 1, "one idle timer for the pool, not one per environment"
        clock.advance(IDLE_TIMEOUT - 10 - FREEZE_DELAY_S)
        await settle()
        assert first.stopped and not second.stopped
        assert clock.pending() == 1, "set again for the one still parked"
        clock.advance(10)
        await settle()
        assert second.stopped
        assert clock.pending() == 0

    run(scenario)


def test_a_busy_environment_is_not_stopped_by_its_old_idle_timer() -> None:
    async def scenario() -> None:
        pool, _, clock = make_pool()
        env = await pool.reserve(V1)
        pool.release(env)
        await pool.reserve(V1)
        clock.advance(IDLE_TIMEOUT * 2)
        await settle()
        assert not env.stopped

    run(scenario)


# -- retire, exit, close ----------------------------------------------------------------------


def test_retire_with_a_new_revision_stops_idle_environments_now() -> None:
    async def scenario() -> None:
        pool, _, clock = make_pool()
        first, second = await asyncio.gather(pool.reserve(V1), pool.reserve(V1))
        pool.release(first)
        pool.release(second)
        pool.retire("fn", "rev-2")
        await settle()
        assert first.stopped and second.stopped
        assert clock.pending() == 0
        assert pool.environments() == []

    run(scenario)


def test_retire_stops_a_busy_old_revision_environment_at_release() -> None:
    async def scenario() -> None:
        pool, _, clock = make_pool()
        busy = await pool.reserve(V1)
        pool.retire("fn", "rev-2")
        await settle()
        assert not busy.stopped
        pool.release(busy)
        await settle()
        assert busy.stopped
        assert busy.freezes == 0
        assert clock.pending() == 0

    run(scenario)


def test_retire_keeps_environments_of_the_new_revision() -> None:
    async def scenario() -> None:
        pool, _, _ = make_pool()
        env = await pool.reserve(V2)
        pool.retire("fn", "rev-2")
        pool.release(env)
        await settle()
        assert not env.stopped
        assert await pool.reserve(V2) is env

    run(scenario)


def test_retire_of_a_deleted_function_stops_its_busy_environment_at_release() -> None:
    async def scenario() -> None:
        pool, _, _ = make_pool()
        env = await pool.reserve(V1)
        pool.retire("fn")
        pool.release(env)
        await settle()
        assert env.stopped

    run(scenario)


def test_retire_leaves_other_functions_alone() -> None:
    async def scenario() -> None:
        pool, _, _ = make_pool()
        other = await pool.reserve(FakeVersion(name="other"))
        pool.release(other)
        pool.retire("fn", "rev-2")
        await settle()
        assert not other.stopped

    run(scenario)


def test_an_idle_environment_that_exits_on_its_own_is_dropped_and_stopped() -> None:
    async def scenario() -> None:
        pool, factory, clock = make_pool()
        env = await pool.reserve(V1)
        pool.release(env)
        pool.environment_exited(env)
        await settle()
        assert env.stopped
        assert clock.pending() == 0
        assert await pool.reserve(V1) is not env
        assert len(factory.made) == 2

    run(scenario)


def test_a_busy_environment_that_exits_is_left_to_its_caller() -> None:
    async def scenario() -> None:
        pool, _, _ = make_pool()
        env = await pool.reserve(V1)
        pool.environment_exited(env)
        await settle()
        assert not env.stopped
        assert pool.environments() == [env]

    run(scenario)


def test_close_stops_idle_and_busy_environments_and_cancels_timers() -> None:
    async def scenario() -> None:
        pool, _, clock = make_pool()
        idle, busy = await asyncio.gather(pool.reserve(V1), pool.reserve(V1))
        pool.release(idle)
        await pool.close()
        assert idle.stopped and busy.stopped
        assert clock.pending() == 0
        assert pool.environments() == []

    run(scenario)


def test_release_after_close_stops_instead_of_parking() -> None:
    async def scenario() -> None:
        pool, _, clock = make_pool()
        env = await pool.reserve(V1)
        await pool.close()
        before = env.stops
        pool.release(env)
        await settle()
        assert env.stops > before
        assert env.freezes == 0
        assert clock.pending() == 0

    run(scenario)


def test_environments_of_two_versions_of_one_function_are_both_parked() -> None:
    latest = FakeVersion(version="$LATEST", revision_id="rev-latest")
    published = FakeVersion(version="1", revision_id="rev-v1")

    async def scenario() -> None:
        pool, factory, _ = make_pool()
        a = await pool.reserve(latest)
        b = await pool.reserve(published)
        pool.release(a)
        pool.release(b)
        await settle()
        assert not a.stopped and not b.stopped
        assert await pool.reserve(latest) is a
        assert len(factory.made) == 2

    run(scenario)


@pytest.mark.parametrize(
    ("parked", "now", "expired", "next_due"),
    [
        ({}, 100.0, [], None),
        ({"a": 0.0, "b": 50.0}, 59.9, [], 60.0),
        ({"a": 0.0, "b": 50.0}, 60.0, ["a"], 110.0),
        ({"a": 0.0, "b": 50.0}, 500.0, ["a", "b"], None),
    ],
)
def test_idle_expired_names_the_environments_idle_for_the_timeout_and_the_next_due(
    parked: dict[str, float], now: float, expired: list[str], next_due: float | None
) -> None:
    assert idle_expired(parked, 60.0, now) == (expired, next_due)


class CountingEnv(FakeEnv):
    """A fake environment that counts reads of its ``version``."""

    reads = 0

    def __init__(self, version: FakeVersion) -> None:
        self._version = version
        super().__init__(version)

    @property
    def version(self) -> FakeVersion:
        CountingEnv.reads += 1
        return self._version

    @version.setter
    def version(self, value: FakeVersion) -> None:
        self._version = value


def test_a_versions_provisioned_environments_are_found_without_reading_the_others() -> None:
    """``provisioned(key)`` (every status poll, every replacement) costs the same beside 1,000
    provisioned environments of another version as beside none."""
    pool, _, _ = make_pool(cast(Any, lambda version, pool: CountingEnv(version)))
    crowd, lone = FakeVersion(name="crowd"), FakeVersion(name="lone")
    for _ in range(1000):
        pool.add_provisioned(crowd)
    mine = pool.add_provisioned(lone)
    CountingEnv.reads = 0
    assert pool.provisioned(lone.key) == [mine]
    assert CountingEnv.reads == 0
    assert len(pool.provisioned(crowd.key)) == 1000
    pool.retire_provisioned(mine)
    assert pool.provisioned(lone.key) == []
