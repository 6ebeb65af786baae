"""Spares: Node.js environments started ahead of their cold start, with fake environments; and
which functions a late-bound spare may serve (``late_binding.py``)."""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Coroutine
from pathlib import Path
from typing import Any, cast

from flare.clock import ManualClock
from flare.placement.spares import Spares, wants_spare
from flare.sandbox.late_binding import LateKey, boot_variables, late_key
from flare.sandbox.lifecycle import EnvState
from tests.unit.test_launcher import version

NODE = version("nodejs20.x")


class FakeProcess:
    alive = True


class FakeEnvironment:
    """What Spares uses of an Environment: prestart, adopt, stop, state and process."""

    def __init__(
        self, fn: Any, boot: asyncio.Event | None = None, fails: bool = False, refuses_code: bool = False
    ) -> None:
        self.version = fn
        self.state = EnvState.STARTING
        self.process: FakeProcess | None = None
        self.stopped = False
        self.late_bound = False
        self.adopted: list[Any] = []
        self._boot = boot
        self._fails = fails
        self._refuses_code = refuses_code

    def adopt(self, fn: Any) -> None:
        if self._refuses_code:
            raise OSError("mount refused")
        self.adopted.append(fn)
        self.version = fn

    async def prestart(self, late_bound: bool = False) -> None:
        self.late_bound = late_bound
        if self._boot is not None:
            await self._boot.wait()
        if self._fails:
            raise OSError("no sandbox uid")
        self.process = FakeProcess()

    async def stop(self) -> None:
        self.stopped = True
        self.state = EnvState.STOPPED


def run(scenario: Any) -> Any:
    return asyncio.run(cast(Coroutine[Any, Any, Any], scenario()))


def spares_of(
    made: list[FakeEnvironment],
    limit: int = 8,
    clock: ManualClock | None = None,
    late: bool = False,
    **options: Any,
) -> Spares:
    def factory(fn: Any) -> Any:
        made.append(FakeEnvironment(fn, **options))
        return made[-1]

    def late_key_of(fn: Any) -> LateKey | None:
        return late_key(fn, "default") if late else None

    return Spares(factory, limit, clock or ManualClock(), idle_s=60, late_key_of=late_key_of)


async def settle() -> None:
    for _ in range(5):
        await asyncio.sleep(0)


def test_only_on_demand_nodejs_without_tenant_snapstart_or_debugger_wants_a_spare() -> None:
    assert wants_spare(NODE, snap_start=False)
    assert not wants_spare(NODE, snap_start=True)
    assert not wants_spare(version("python3.12"), snap_start=False)
    assert not wants_spare(dataclasses.replace(NODE, tenant_id="blue"), snap_start=False)
    assert not wants_spare(dataclasses.replace(NODE, environment={"FLARE_DEBUG": "1"}), snap_start=False)
    # nor the function's own version: its cold starts are each tenant's, never that spare's
    assert not wants_spare(dataclasses.replace(NODE, tenant_isolated=True), snap_start=False)


def test_a_prepared_spare_is_taken_once() -> None:
    async def scenario() -> tuple[Any, Any, int]:
        made: list[FakeEnvironment] = []
        spares = spares_of(made)
        spares.prepare(NODE)
        spares.prepare(NODE)  # one per version
        await settle()
        return await spares.take(NODE), await spares.take(NODE), len(made)

    first, second, made = run(scenario)
    assert isinstance(first, FakeEnvironment)
    assert second is None
    assert made == 1


def test_a_cold_start_waits_for_a_spare_that_is_still_starting() -> None:
    async def scenario() -> Any:
        boot = asyncio.Event()
        spares = spares_of([], boot=boot)
        spares.prepare(NODE)
        asyncio.get_running_loop().call_soon(boot.set)
        return await spares.take(NODE)

    assert isinstance(run(scenario), FakeEnvironment)


def test_a_spare_of_another_revision_is_not_taken() -> None:
    async def scenario() -> Any:
        spares = spares_of([])
        spares.prepare(NODE)
        await settle()
        return await spares.take(dataclasses.replace(NODE, revision_id="rev-2"))

    assert run(scenario) is None


def test_retiring_a_function_stops_its_spares_ready_and_starting() -> None:
    async def scenario() -> tuple[list[FakeEnvironment], Any]:
        made: list[FakeEnvironment] = []
        boot = asyncio.Event()
        spares = spares_of(made, boot=boot)
        spares.prepare(NODE)
        boot.set()
        await settle()
        spares.retire(NODE.name)
        changed = dataclasses.replace(NODE, revision_id="rev-2")
        boot.clear()
        spares.prepare(changed)
        spares.retire(NODE.name)  # changed again while this one starts
        boot.set()
        await settle()
        return made, await spares.take(changed)

    made, taken = run(scenario)
    assert [env.stopped for env in made] == [True, True]
    assert taken is None


def test_past_the_limit_the_oldest_spare_is_given_up() -> None:
    async def scenario() -> tuple[list[FakeEnvironment], Any, Any]:
        made: list[FakeEnvironment] = []
        spares = spares_of(made, limit=2)
        others = [dataclasses.replace(NODE, name=f"fn{i}") for i in range(3)]
        for fn in others:
            spares.prepare(fn)
            await settle()
        return made, await spares.take(others[0]), await spares.take(others[2])

    made, oldest, newest = run(scenario)
    assert [env.stopped for env in made] == [True, False, False]
    assert oldest is None
    assert newest is made[2]


def test_a_spare_that_died_or_failed_to_start_is_not_taken() -> None:
    async def scenario() -> tuple[Any, Any, list[FakeEnvironment]]:
        made: list[FakeEnvironment] = []
        failing = spares_of(made, fails=True)
        failing.prepare(NODE)
        await settle()
        dying = spares_of(made)
        dying.prepare(NODE)
        await settle()
        made[-1].state = EnvState.FAILED
        return await failing.take(NODE), await dying.take(NODE), made

    failed, died, made = run(scenario)
    assert (failed, died) == (None, None)
    assert all(env.stopped for env in made)


def test_close_stops_every_spare() -> None:
    async def scenario() -> list[FakeEnvironment]:
        made: list[FakeEnvironment] = []
        spares = spares_of(made)
        spares.prepare(NODE)
        await settle()
        spares.prepare(dataclasses.replace(NODE, name="other"))
        await spares.close()
        spares.prepare(dataclasses.replace(NODE, name="late"))  # refused once closed
        return made

    made = run(scenario)
    assert len(made) == 2
    assert all(env.stopped for env in made)


def test_a_spare_nobody_takes_within_the_idle_timeout_is_stopped() -> None:
    async def scenario() -> tuple[list[FakeEnvironment], Any, Any]:
        made: list[FakeEnvironment] = []
        clock = ManualClock()
        spares = spares_of(made, clock=clock)
        spares.prepare(NODE)
        await settle()
        clock.advance(59)
        kept = await spares.take(NODE)  # taken in time: its expiry goes with it
        spares.prepare(NODE)
        await settle()
        clock.advance(61)
        await settle()
        return made, kept, await spares.take(NODE)

    made, kept, expired = run(scenario)
    assert kept is made[0] and not made[0].stopped
    assert expired is None and made[1].stopped


def test_a_late_bound_spare_serves_another_function_and_outlives_an_update() -> None:
    async def scenario() -> tuple[list[FakeEnvironment], Any, Any]:
        made: list[FakeEnvironment] = []
        spares = spares_of(made, late=True)
        spares.prepare(NODE)
        await settle()
        spares.retire(NODE.name)  # NODE was updated: the late-bound spare is no one's
        other = dataclasses.replace(NODE, name="billing", revision_id="rev-9")
        first = await spares.take(other)
        spares.prepare(NODE)
        await settle()
        return made, first, await spares.take(dataclasses.replace(NODE, revision_id="rev-2"))

    made, first, second = run(scenario)
    assert first is made[0] and made[0].late_bound and not made[0].stopped
    assert [fn.name for fn in made[0].adopted] == ["billing"]
    assert second is not first and [fn.revision_id for fn in second.adopted] == ["rev-2"]
    assert len(made) == 3 and all(env.late_bound for env in made)  # two kept per key


def test_two_cold_starts_in_a_row_each_find_a_late_bound_spare() -> None:
    async def scenario() -> tuple[Any, Any, Any]:
        spares = spares_of([], late=True)
        spares.prepare(NODE)
        await settle()
        other = dataclasses.replace(NODE, name="billing")
        return await spares.take(NODE), await spares.take(other), await spares.take(NODE)

    first, second, third = run(scenario)
    assert isinstance(first, FakeEnvironment) and isinstance(second, FakeEnvironment)
    assert third is None  # until the caller prepares the next


def test_a_late_bound_spare_is_kept_by_runtime_memory_and_storage() -> None:
    async def scenario() -> tuple[Any, Any]:
        spares = spares_of([], late=True)
        spares.prepare(NODE)
        await settle()
        bigger = await spares.take(dataclasses.replace(NODE, name="big", memory_mb=1024))
        return bigger, await spares.take(dataclasses.replace(NODE, name="same"))

    bigger, same = run(scenario)
    assert bigger is None
    assert isinstance(same, FakeEnvironment)


def test_a_late_bound_spare_whose_code_cannot_be_mounted_is_stopped_not_taken() -> None:
    async def scenario() -> tuple[list[FakeEnvironment], Any]:
        made: list[FakeEnvironment] = []
        spares = spares_of(made, late=True, refuses_code=True)
        spares.prepare(NODE)
        await settle()
        return made, await spares.take(NODE)

    made, taken = run(scenario)
    assert taken is None and made[0].stopped


def test_only_functions_whose_node_would_start_the_same_are_served_late_bound() -> None:
    assert late_key(NODE, "default") == LateKey("nodejs20.x", 256, 512)
    assert late_key(dataclasses.replace(NODE, environment={"COLOUR": "red"}), "default") is not None
    assert late_key(NODE, "isolated") is None
    assert late_key(dataclasses.replace(NODE, opt_dir=Path("/data/layers/x")), "default") is None
    assert late_key(version("java21"), "default") is None
    for name in ("NODE_OPTIONS", "NODE_EXTRA_CA_CERTS", "UV_THREADPOOL_SIZE", "LD_PRELOAD", "LANG", "TZ"):
        assert late_key(dataclasses.replace(NODE, environment={name: "x"}), "default") is None, name
    assert (
        late_key(dataclasses.replace(NODE, environment={"AWS_LAMBDA_EXEC_WRAPPER": "/opt/w"}), "default")
        is None
    )


def test_a_late_bound_runtime_starts_with_the_shared_variables_only() -> None:
    started = boot_variables({"PATH": "/usr/bin", "NODE_PATH": "/opt/n", "COLOUR": "red", "_HANDLER": "a.b"})
    assert started == {"PATH": "/usr/bin", "NODE_PATH": "/opt/n"}


def test_the_late_bound_spares_of_a_key_start_one_after_the_other() -> None:
    async def scenario() -> tuple[int, int]:
        made: list[FakeEnvironment] = []
        boot = asyncio.Event()
        spares = spares_of(made, late=True, boot=boot)
        spares.prepare(NODE)
        spares.prepare(dataclasses.replace(NODE, name="billing"))  # same key, one is starting
        await settle()
        starting_alone = len(made)
        boot.set()
        await settle()
        return starting_alone, len(made)

    assert run(scenario) == (1, 2)
