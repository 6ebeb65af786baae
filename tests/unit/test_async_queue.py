"""The async queue with a ManualClock, a scripted router and a real events.db: retries at the
configured delays, throttle backoff for hours of clock time, event age, reserved concurrency 0,
destinations and dead letters, and events that outlive the queue that accepted them."""

from __future__ import annotations

import asyncio
import dataclasses
import itertools
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import pytest

from flare.clock import ManualClock
from flare.control.model import FunctionVersion
from flare.errors import InvalidParameterValue, ResourceNotFound, ResourceNotReady, TooManyRequests
from flare.events.async_queue import AsyncQueue
from flare.events.destinations import Destinations
from flare.events.event_book import LocalEventBook
from flare.events.invoke_config import InvokeConfigs
from flare.sandbox.invocation import Invocation, InvocationLog, InvocationResult
from flare.scope import Scope
from flare.services.queue import QueueService
from flare.store.database import Database
from flare.store.events import EventStore
from flare.store.services import ServiceStore

SCOPE = Scope("000000000000", "us-east-1")

ARN = "arn:aws:lambda:us-east-1:000000000000:function:fn"


def version(name: str = "fn") -> FunctionVersion:
    return FunctionVersion(
        name=name,
        version="$LATEST",
        function_arn=f"arn:aws:lambda:us-east-1:000000000000:function:{name}",
        runtime="python3.11",
        handler="app.handler",
        memory_mb=128,
        timeout_s=3,
        ephemeral_mb=512,
        environment={},
        code_sha256="",
        code_dir=Path("/nonexistent"),
        revision_id="r1",
        region="us-east-1",
        account_id="000000000000",
    )


class FakeRegistry:
    def __init__(self) -> None:
        self.functions = {"fn": version()}
        self.dead_letter: str | None = None

    def resolve(self, name: str, qualifier: str | None) -> FunctionVersion:
        found = self.functions.get(name.rsplit(":", 1)[-1] if name.startswith("arn:") else name)
        if found is None:
            raise ResourceNotFound(f"Function not found: {name}")
        return found

    def resolve_invocation(self, name: str, qualifier: str | None) -> tuple[FunctionVersion, str]:
        found = self.resolve(name, qualifier)
        return found, found.function_arn

    def get_configuration(self, name: str, qualifier: str | None) -> dict[str, Any]:
        return {"DeadLetterConfig": {"TargetArn": self.dead_letter}} if self.dead_letter else {}


class ScriptedRouter:
    """Answers tries in order from ``script``: ok, error, throttle, system."""

    def __init__(self, *script: str) -> None:
        self.script = list(script)
        self.tries: list[tuple[float, Invocation]] = []
        self.clock: ManualClock | None = None

    @asynccontextmanager
    async def invoke(
        self, version: FunctionVersion, invocation: Invocation
    ) -> AsyncIterator[InvocationResult]:
        assert self.clock is not None
        self.tries.append((self.clock.now(), invocation))
        step = self.script.pop(0) if self.script else "ok"
        if step == "throttle":
            raise TooManyRequests("ConcurrentInvocationLimitExceeded")
        if step == "system":
            raise ResourceNotReady("no environment")
        if step == "error":
            yield InvocationResult(
                b'{"errorMessage":"boom","errorType":"ValueError"}',
                "Unhandled",
                "$LATEST",
                InvocationLog.of([]),
            )
        else:
            yield InvocationResult(b'"done"', None, "$LATEST", InvocationLog.of([]))


class World:
    def __init__(self, tmp_path: Path, router: ScriptedRouter, reserved: int | None = None) -> None:
        self.tmp_path = tmp_path
        self.clock = ManualClock()
        router.clock = self.clock
        self.router = router
        self.registry = FakeRegistry()
        self.store = EventStore(Database(tmp_path / "events.db", SCOPE), SCOPE)
        self.services = ServiceStore(Database(tmp_path / "services.db", SCOPE), SCOPE)
        self.queues = QueueService(self.services, self.clock, "us-east-1", "000000000000")
        self.queues.create_queue("dest")
        self.configs = InvokeConfigs(self.store, cast(Any, self.registry), self.clock)
        self.reserved = reserved
        self.queue = self.new_queue()

    def new_queue(self) -> AsyncQueue:
        return AsyncQueue(
            LocalEventBook(self.store, self.clock.wall),
            cast(Any, self.registry),
            cast(Any, self.router),
            self.configs,
            Destinations(self.queues),
            lambda name: self.reserved,
            self.clock,
            base_delay_s=60,
        )

    def destinations(self, **config: Any) -> None:
        arn = self.queues.arn("dest")
        self.configs.put(
            "fn",
            None,
            {"DestinationConfig": {"OnSuccess": {"Destination": arn}, "OnFailure": {"Destination": arn}}}
            | config,
        )

    async def records(self) -> list[dict[str, Any]]:
        received = await self.queues.receive("dest", 10, wait_seconds=0)
        return [json.loads(message.body) for message in received]

    async def advance(self, seconds: float) -> None:
        """Move the clock timer by timer, letting the tries each timer starts run at its time."""
        target = self.clock.now() + seconds
        while True:
            for _ in range(30):
                await asyncio.sleep(0)
            due = min((at for at, _, timer in self.clock._timers if not timer.cancelled), default=None)
            if due is None or due > target:
                break
            self.clock.advance(max(0.0, due - self.clock.now()))
        self.clock.advance(target - self.clock.now())
        for _ in range(30):
            await asyncio.sleep(0)

    def close(self) -> None:
        self.store.close()
        self.services.close()


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(cast(Coroutine[Any, Any, Any], scenario()))


@pytest.fixture
def tmp(tmp_path: Path) -> Path:
    return tmp_path


def test_function_errors_retry_after_base_and_twice_base_then_on_failure(tmp: Path) -> None:
    world = World(tmp, ScriptedRouter("error", "error", "error"))

    async def scenario() -> None:
        world.destinations()
        world.queue.start()
        start = world.clock.now()
        request_id = world.queue.submit(version(), None, ARN, b'{"k": 1}')
        await world.advance(400)
        assert [at - start for at, _ in world.router.tries] == [0, 60, 180]
        assert world.router.tries[0][1].request_id == request_id
        (record,) = await world.records()
        assert record["requestContext"]["requestId"] == request_id
        assert record["requestContext"]["condition"] == "RetriesExhausted"
        assert record["requestContext"]["approximateInvokeCount"] == 3
        assert record["requestPayload"] == {"k": 1}
        assert record["responseContext"]["functionError"] == "Unhandled"
        counters = world.queue.stats()["fn"]
        assert (counters["received"], counters["failed"], counters["retried"]) == (1, 3, 2)
        assert (counters["dead_lettered"], counters["waiting"]) == (1, 0)
        await world.queue.stop()

    run(scenario)
    world.close()


def test_throttles_back_off_for_hours_without_using_retries(tmp: Path) -> None:
    world = World(tmp, ScriptedRouter(*["throttle"] * 12, "error", "ok"))

    async def scenario() -> None:
        world.destinations()
        world.queue.start()
        start = world.clock.now()
        world.queue.submit(version(), None, ARN, b"{}")
        await world.advance(3 * 3600)
        offsets = [round(at - start) for at, _ in world.router.tries]
        assert offsets[:6] == [0, 1, 3, 7, 15, 31]
        gaps = [b - a for a, b in itertools.pairwise(offsets)]
        assert max(gaps[:12]) <= 300 + 10
        (record,) = await world.records()
        assert record["requestContext"]["condition"] == "Success"
        assert record["requestContext"]["approximateInvokeCount"] == 14
        await world.queue.stop()

    run(scenario)
    world.close()


def test_endless_system_errors_end_at_maximum_event_age(tmp: Path) -> None:
    world = World(tmp, ScriptedRouter(*["system"] * 10_000))

    async def scenario() -> None:
        world.destinations()
        world.queue.start()
        start = world.clock.now()
        world.queue.submit(version(), None, ARN, b"{}")
        await world.advance(7 * 3600)
        (record,) = await world.records()
        assert record["requestContext"]["condition"] == "EventAgeExceeded"
        assert record["responseContext"]["statusCode"] == 502
        last = world.router.tries[-1][0] - start
        assert 6 * 3600 - 300 <= last <= 6 * 3600
        await world.queue.stop()

    run(scenario)
    world.close()


def test_maximum_event_age_config_is_obeyed(tmp: Path) -> None:
    world = World(tmp, ScriptedRouter(*["throttle"] * 1000))

    async def scenario() -> None:
        world.destinations(MaximumEventAgeInSeconds=60)
        world.queue.start()
        world.queue.submit(version(), None, ARN, b"{}")
        await world.advance(200)
        (record,) = await world.records()
        assert record["requestContext"]["condition"] == "EventAgeExceeded"
        assert len(world.router.tries) == 6  # at 0, 1, 3, 7, 15, 31; the next (63) is past 60
        await world.queue.stop()

    run(scenario)
    world.close()


def test_reserved_zero_skips_tries_and_dead_letters(tmp: Path) -> None:
    world = World(tmp, ScriptedRouter(), reserved=0)

    async def scenario() -> None:
        world.queues.create_queue("dlq")
        world.registry.dead_letter = world.queues.arn("dlq")
        world.queue.start()
        request_id = world.queue.submit(version(), None, ARN, b'{"x": 1}')
        await world.advance(1)
        assert world.router.tries == []
        (message,) = await world.queues.receive("dlq", 10, wait_seconds=0)
        assert message.body == '{"x": 1}'
        assert message.attributes["RequestID"].string_value == request_id
        assert message.attributes["ErrorCode"].string_value == "429"
        assert message.attributes["ErrorMessage"].string_value == "Rate Exceeded."
        await world.queue.stop()

    run(scenario)
    world.close()


def test_the_tenant_of_an_event_reaches_every_try_also_after_a_restart(tmp: Path) -> None:
    world = World(tmp, ScriptedRouter("error", "error"))

    async def scenario() -> None:
        world.queue.start()
        isolated = dataclasses.replace(version(), tenant_isolated=True)
        world.queue.submit(isolated, None, ARN, b"{}", tenant_id="blue")
        world.queue.submit(version(), None, ARN, b"{}")
        await world.advance(1)
        assert [invocation.tenant_id for _, invocation in world.router.tries] == ["blue", None]
        await world.queue.stop()
        second = world.new_queue()  # the retries come from the store
        second.start()
        await world.advance(100)
        assert [invocation.tenant_id for _, invocation in world.router.tries[2:]] == ["blue", None]
        await second.stop()

    run(scenario)
    world.close()


def test_an_event_without_the_tenant_its_function_needs_is_refused_before_it_is_stored(tmp: Path) -> None:
    world = World(tmp, ScriptedRouter())
    isolated = dataclasses.replace(version(), tenant_isolated=True)
    with pytest.raises(InvalidParameterValue, match="tenant ID"):
        world.queue.submit(isolated, None, ARN, b"{}")  # e.g. a destination's invocation
    with pytest.raises(InvalidParameterValue, match="not enabled"):
        world.queue.submit(version(), None, ARN, b"{}", tenant_id="blue")
    assert world.store.event_schedule() == []
    world.close()


def test_events_of_a_stopped_queue_run_in_the_next(tmp: Path) -> None:
    world = World(tmp, ScriptedRouter("error"))

    async def scenario() -> None:
        world.destinations()
        world.queue.start()
        world.queue.submit(version(), None, ARN, b'{"n": 1}')
        await world.advance(1)
        assert len(world.router.tries) == 1
        await world.queue.stop()
        await world.advance(600)
        assert len(world.router.tries) == 1
        reopened = EventStore(Database(tmp / "events.db", SCOPE), SCOPE)
        assert len(reopened.event_schedule()) == 1
        reopened.close()
        second = world.new_queue()
        second.start()
        await world.advance(1)
        assert len(world.router.tries) == 2
        (record,) = await world.records()
        assert record["requestContext"]["condition"] == "Success"
        assert record["requestContext"]["approximateInvokeCount"] == 2
        await second.stop()

    run(scenario)
    world.close()


def test_events_of_a_deleted_function_are_dropped(tmp: Path) -> None:
    world = World(tmp, ScriptedRouter("error"))

    async def scenario() -> None:
        world.queue.start()
        world.queue.submit(version(), None, ARN, b"{}")
        await world.advance(1)
        del world.registry.functions["fn"]
        await world.advance(120)
        assert len(world.router.tries) == 1
        assert world.store.event_schedule() == []
        await world.queue.stop()

    run(scenario)
    world.close()
