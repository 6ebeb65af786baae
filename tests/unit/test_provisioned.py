"""Provisioned concurrency below the edge: the pure decisions from tables, the pool's provisioned
tier and the provisioner with fake environments and a manual clock, the router's choice, and
the control plane's checks."""

from __future__ import annotations

import asyncio
import gc
import itertools
from collections.abc import Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any, cast

import pytest

from flare.clock import ManualClock
from flare.control.concurrency import PROVISIONED_OVER_RESERVED, check_provisioned
from flare.control.provisioned_concurrency import UNPUBLISHED, published_qualifier
from flare.errors import InvalidParameterValue
from flare.placement.ledger import Ledger
from flare.placement.pool import PROVISIONED_INIT, Pool
from flare.placement.prewarm import (
    MAX_INIT_FAILURES,
    Provisioner,
    Status,
    choose_surplus,
    init_limit_s,
    status,
)
from flare.placement.router import Router
from flare.sandbox.invocation import InvocationLog, InvocationResult
from flare.sandbox.lifecycle import EnvState

IDLE_TIMEOUT = 300.0
STARTING, IDLE, BUSY, FAILED = EnvState.STARTING, EnvState.IDLE, EnvState.BUSY, EnvState.FAILED


@dataclass(frozen=True)
class FakeVersion:
    name: str = "fn"
    version: str = "1"
    revision_id: str = "rev-1"
    timeout_s: int = 3
    state: str = "Active"
    tenant_isolated: bool = False
    tenant_id: str | None = None

    @property
    def key(self) -> tuple[str, str, str, str | None]:
        return (self.name, self.version, self.revision_id, self.tenant_id)


@dataclass
class Stub:
    state: EnvState


class FakeEnv:
    """What the pool, provisioner and router touch: start(limit, kind), invoke, freeze, stop."""

    _ids = itertools.count(1)

    def __init__(self, version: FakeVersion, fail_init: bool, fail_start: bool = False) -> None:
        self.id = f"env{next(self._ids)}"
        self.version = version
        self.state = STARTING
        self.fail_init = fail_init
        self.fail_start = fail_start
        self.init_failure: Any = None
        self.init_timed_out = False
        self.restore_error: Exception | None = None
        self.starts: list[tuple[float, str]] = []
        self.stops = 0
        self.invocations = 0
        self._pending_init_ms: float | None = None
        self.gate: asyncio.Event | None = None

    def post_invoke_pending(self) -> asyncio.Future[None] | None:
        """The extensions' post-runtime phase (tests set ``holding``)."""
        holding: asyncio.Future[None] | None = getattr(self, "holding", None)
        return holding if holding is not None and not holding.done() else None

    def __repr__(self) -> str:
        return f"<FakeEnv {self.id} {self.state.value}>"

    async def start(self, limit: float, kind: str = "on-demand", cpu_burst: bool = True) -> None:
        self.starts.append((limit, kind))
        await asyncio.sleep(0)
        if self.fail_start:
            raise OSError(28, "No space left on device")
        if self.fail_init:
            self.init_failure = type("Failure", (), {"error_type": "Runtime.ExitError"})()
            self.state = FAILED
        else:
            self.state = IDLE
            # As Environment: only an on-demand INIT is reported by the first invocation.
            self._pending_init_ms = 12.0 if kind == "on-demand" else None

    async def invoke(self, invocation: object) -> InvocationResult:
        self.state = BUSY
        self.invocations += 1
        if self.gate is not None:
            await self.gate.wait()
        self.state = IDLE
        return InvocationResult(f"ran on {self.id}".encode(), None, "1", InvocationLog.of([]))

    def freeze(self) -> None:
        pass

    def settle(self) -> None:
        pass

    async def stop(self) -> None:
        self.stops += 1
        self.state = EnvState.STOPPED


class Factory:
    def __init__(self) -> None:
        self.made: list[FakeEnv] = []
        self.fail_init = False
        self.fail_start = False

    def __call__(self, version: FakeVersion, pool: Pool) -> FakeEnv:
        env = FakeEnv(version, self.fail_init, self.fail_start)
        self.made.append(env)
        return env


@dataclass
class World:
    pool: Any
    ledger: Ledger
    provisioner: Provisioner
    factory: Factory
    clock: ManualClock


def world(account: int = 10) -> World:
    clock = ManualClock()
    factory = Factory()
    pool = Pool(cast(Any, factory), clock, idle_timeout_s=IDLE_TIMEOUT, init_timeout_s=10.0)
    ledger = Ledger(clock, account, scaling_rate=1000)
    return World(pool, ledger, Provisioner(pool, ledger), factory, clock)


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(cast(Coroutine[Any, Any, Any], scenario()))


async def settle(w: World) -> None:
    await w.provisioner.settle()
    for _ in range(5):
        await asyncio.sleep(0)


V1 = FakeVersion()
V2 = FakeVersion(version="2", revision_id="rev-2")


def version(v: FakeVersion) -> Any:
    return cast(Any, v)


# -- pure decisions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("states", "count", "chosen"),
    [
        ([IDLE, IDLE], 0, []),
        ([IDLE, IDLE], -1, []),
        ([IDLE, STARTING], 1, [1]),
        ([BUSY, IDLE], 1, [1]),
        ([BUSY, STARTING, IDLE], 2, [1, 2]),
        ([BUSY, BUSY], 1, [0]),
        ([IDLE, BUSY, EnvState.INITIALISING, IDLE], 3, [2, 0, 3]),
        ([IDLE], 5, [0]),
    ],
)
def test_choose_surplus_retires_starting_then_idle_then_busy(
    states: list[EnvState], count: int, chosen: list[int]
) -> None:
    envs = [Stub(state) for state in states]
    assert choose_surplus(envs, count) == [envs[i] for i in chosen]


@pytest.mark.parametrize(
    ("requested", "available", "failure", "expected"),
    [
        (4, 0, None, Status.IN_PROGRESS),
        (4, 3, None, Status.IN_PROGRESS),
        (4, 4, None, Status.READY),
        (2, 3, None, Status.READY),
        (4, 4, "FUNCTION_ERROR_INIT_FAILURE: x", Status.FAILED),
        (4, 0, "FUNCTION_ERROR_INIT_FAILURE: x", Status.FAILED),
    ],
)
def test_status_table(requested: int, available: int, failure: str | None, expected: Status) -> None:
    assert status(requested, available, failure) is expected


@pytest.mark.parametrize(("timeout", "limit"), [(3, 130.0), (130, 130.0), (300, 300.0), (900, 900.0)])
def test_provisioned_init_limit_is_130_s_or_the_timeout_up_to_15_minutes(timeout: int, limit: float) -> None:
    assert init_limit_s(timeout) == limit


# -- control-plane checks ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reserved", "provisioned", "function", "total", "error"),
    [
        ({"f": 5}, {}, "f", 5, None),
        ({"f": 5}, {}, "f", 6, PROVISIONED_OVER_RESERVED),
        ({}, {}, "f", 5, None),  # 10 - 5 = 5 left
        ({}, {}, "f", 6, "minimum value of [5]"),
        ({"g": 3}, {}, "f", 3, "minimum value of [5]"),
        ({}, {"g": 2}, "f", 3, None),
        ({}, {"g": 2}, "f", 4, "minimum value of [5]"),
        ({"g": 3}, {"g": 3}, "f", 2, None),  # g's provisioned is inside its reservation
        ({}, {"f": 4}, "f", 5, None),  # replaces f's own total
    ],
)
def test_check_provisioned_table(
    reserved: dict[str, int], provisioned: dict[str, int], function: str, total: int, error: str | None
) -> None:
    if error is None:
        check_provisioned(10, 5, reserved, provisioned, function, total)
    else:
        with pytest.raises(InvalidParameterValue, match=error.replace("[", r"\[").replace("]", r"\]")):
            check_provisioned(10, 5, reserved, provisioned, function, total)


def test_latest_cannot_carry_a_config() -> None:
    with pytest.raises(InvalidParameterValue, match="unpublished"):
        published_qualifier("$LATEST")
    assert published_qualifier("live") == "live"
    assert UNPUBLISHED.startswith("Provisioned Concurrency Configs")


# -- provisioner and pool ---------------------------------------------------------------------


def test_set_starts_environments_up_front_each_holding_a_lease() -> None:
    async def scenario() -> None:
        w = world()
        w.provisioner.set(version(V1), 3)
        assert w.provisioner.counts(version(V1)) == (0, 0)
        assert w.ledger.in_use("fn") == 3  # held from the moment they exist
        await settle(w)
        assert w.provisioner.counts(version(V1)) == (3, 3)
        assert [env.starts for env in w.factory.made] == [[(130.0, PROVISIONED_INIT)]] * 3
        assert all(start[1] == "provisioned-concurrency" for env in w.factory.made for start in env.starts)

    run(scenario)


def test_idle_provisioned_environments_ignore_the_idle_timer() -> None:
    async def scenario() -> None:
        w = world()
        w.provisioner.set(version(V1), 1)
        await settle(w)
        w.clock.advance(IDLE_TIMEOUT * 10)
        await settle(w)
        assert w.provisioner.counts(version(V1)) == (1, 1)
        assert w.factory.made[0].stops == 0

    run(scenario)


def test_reducing_retires_idle_ones_now_and_busy_ones_on_release() -> None:
    async def scenario() -> None:
        w = world()
        w.provisioner.set(version(V1), 3)
        await settle(w)
        busy = w.pool.try_reserve_provisioned(V1)
        busy.state = BUSY
        w.provisioner.set(version(V1), 0)
        await settle(w)
        assert w.provisioner.counts(version(V1)) == (0, 0)
        assert sorted(env.stops for env in w.factory.made) == [0, 1, 1]
        assert w.ledger.in_use("fn") == 1  # the busy one still holds its share
        busy.state = IDLE
        w.pool.release(busy)
        await settle(w)
        assert busy.stops == 1
        assert w.ledger.in_use("fn") == 0
        assert len(w.factory.made) == 3  # nothing replaced

    run(scenario)


def test_reducing_while_starting_stops_the_surplus_once_init_ends() -> None:
    async def scenario() -> None:
        w = world()
        w.provisioner.set(version(V1), 4)
        w.provisioner.set(version(V1), 1)
        await settle(w)
        assert w.provisioner.counts(version(V1)) == (1, 1)
        assert sum(env.stops for env in w.factory.made) == 3
        assert w.ledger.in_use("fn") == 1

    run(scenario)


def test_a_provisioned_environment_that_dies_is_replaced_and_its_lease_released() -> None:
    async def scenario() -> None:
        w = world()
        w.provisioner.set(version(V1), 2)
        await settle(w)
        dead = w.factory.made[0]
        dead.state = FAILED
        w.pool.environment_exited(dead)
        assert w.ledger.in_use("fn") == 2  # the replacement holds the share at once
        await settle(w)
        assert len(w.factory.made) == 3
        assert w.provisioner.counts(version(V1)) == (2, 2)
        assert dead.stops == 1

    run(scenario)


def test_init_failures_are_retried_then_mark_the_allocation_failed_until_it_is_set_again() -> None:
    async def scenario() -> None:
        w = world()
        w.factory.fail_init = True
        w.provisioner.set(version(V1), 2)
        await settle(w)
        assert w.provisioner.failure(version(V1)) == "FUNCTION_ERROR_INIT_FAILURE: Runtime.ExitError"
        assert w.provisioner.counts(version(V1)) == (0, 0)
        assert w.ledger.in_use("fn") == 0
        tried = len(w.factory.made)
        assert MAX_INIT_FAILURES <= tried < MAX_INIT_FAILURES + 2  # retried, then given up
        w.provisioner.set(version(V1), 2)  # the same target keeps the failure
        await settle(w)
        assert len(w.factory.made) == tried
        w.factory.fail_init = False
        w.provisioner.set(version(V1), 2, retry=True)
        await settle(w)
        assert w.provisioner.failure(version(V1)) is None
        assert w.provisioner.counts(version(V1)) == (2, 2)

    run(scenario)


def test_a_start_the_engine_cannot_make_is_retried_then_fails_the_allocation_with_its_error() -> None:
    async def scenario() -> None:
        unretrieved: list[dict[str, Any]] = []
        asyncio.get_running_loop().set_exception_handler(lambda loop, context: unretrieved.append(context))
        w = world()
        w.factory.fail_start = True
        w.provisioner.set(version(V1), 1)
        await settle(w)
        assert w.provisioner.failure(version(V1)) == (
            "Flare could not start an environment: OSError: [Errno 28] No space left on device"
        )
        assert len(w.factory.made) == MAX_INIT_FAILURES
        assert w.ledger.in_use("fn") == 0
        w.factory.fail_start = False
        w.provisioner.set(version(V1), 1, retry=True)
        await settle(w)
        assert w.provisioner.counts(version(V1)) == (1, 1)
        gc.collect()  # a task whose exception nobody retrieved reports it when collected
        await asyncio.sleep(0)
        assert unretrieved == []

    run(scenario)


def test_one_failed_init_is_retried_without_failing_the_allocation() -> None:
    async def scenario() -> None:
        w = world()
        w.factory.fail_init = True
        w.provisioner.set(version(V1), 1)
        w.factory.fail_init = False  # only the first environment was made failing
        await settle(w)
        assert w.provisioner.failure(version(V1)) is None
        assert w.provisioner.counts(version(V1)) == (1, 1)
        assert len(w.factory.made) == 2

    run(scenario)


def test_reconcile_zeroes_versions_no_longer_wanted() -> None:
    async def scenario() -> None:
        w = world()
        w.provisioner.reconcile({V1.key: (version(V1), 1), V2.key: (version(V2), 1)})
        await settle(w)
        w.provisioner.reconcile({V2.key: (version(V2), 2)})
        await settle(w)
        assert w.provisioner.counts(version(V1)) == (0, 0)
        assert w.provisioner.counts(version(V2)) == (2, 2)
        assert w.provisioner.targets() == {V2.key: 2}

    run(scenario)


def test_a_deleted_version_stops_its_provisioned_environments_without_replacement() -> None:
    async def scenario() -> None:
        w = world()
        w.provisioner.set(version(V1), 1)
        await settle(w)
        w.provisioner.set(version(V1), 0)
        w.pool.retire("fn", "", "1")
        await settle(w)
        assert [env.stops for env in w.factory.made] == [1]

    run(scenario)


def test_close_stops_converging_and_the_pool_stops_everything() -> None:
    async def scenario() -> None:
        w = world()
        w.provisioner.set(version(V1), 2)
        await w.provisioner.close()
        await w.pool.close()
        assert all(env.stops >= 1 for env in w.factory.made)
        assert w.provisioner.targets() == {}

    run(scenario)


# -- router -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    request_id: str
    tenant_id: str | None = None


def test_router_uses_a_provisioned_environment_without_a_lease_then_spills_over() -> None:
    async def scenario() -> None:
        w = world()
        router = Router(w.pool, w.ledger)
        w.provisioner.set(version(V1), 1)
        await settle(w)
        provisioned = w.factory.made[0]
        provisioned.gate = asyncio.Event()

        async def call(request_id: str) -> str:
            async with router.invoke(version(V1), cast(Any, Call(request_id))) as result:
                return result.payload.decode()

        first = asyncio.create_task(call("r1"))
        await asyncio.sleep(0)
        assert w.ledger.in_use("fn") == 1  # only the provisioned environment's own lease
        second = await call("r2")  # all provisioned ones busy: on demand, a cold start
        spilled = w.factory.made[1]
        assert second == f"ran on {spilled.id}"
        assert spilled.starts == [(10.0, "on-demand")]
        provisioned.gate.set()
        assert await first == f"ran on {provisioned.id}"
        assert w.ledger.in_use("fn") == 1
        assert await call("r3") == f"ran on {provisioned.id}"

    run(scenario)
