"""Keep-warm schedules: expressions and their next times from tables, the scheduler with a
manual clock (hours of schedule in milliseconds), and the CLI's pure helpers."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import pytest

from flare.cli.schedule import cron_expression, rate_expression, table
from flare.clock import ManualClock
from flare.errors import InvalidParameterValue, ResourceNotFound, TooManyRequests
from flare.rules.expression import Cron, Rate, next_fire, parse
from flare.rules.scheduler import Schedules
from flare.scope import Scope
from flare.store.database import Database
from flare.store.schedules import ScheduleStore

SCOPE = Scope("000000000000", "us-east-1")


def epoch(text: str) -> float:
    return dt.datetime.fromisoformat(text).replace(tzinfo=dt.UTC).timestamp()


# -- expressions ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("rate(1 minute)", 60),
        ("rate(5 minutes)", 300),
        ("rate(1 hour)", 3600),
        ("rate(2 days)", 172800),
        ("rate(30 seconds)", 30),
        (" rate( 10 minutes ) ", 600),
    ],
)
def test_rates_parse_to_a_period(text: str, seconds: int) -> None:
    parsed = parse(text)
    assert isinstance(parsed, Rate)
    assert parsed.seconds == seconds


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("every 5 minutes", "expected rate"),
        ("rate(5)", "rate(value unit)"),
        ("rate(0 minutes)", "at least 1"),
        ("rate(-1 minutes)", "at least 1"),
        ("rate(1.5 hours)", "whole number"),
        ("rate(5 weeks)", "minute(s), hour(s) or day(s)"),
        ("rate(1 minutes)", "the unit is 'minute'"),
        ("rate(5 minute)", "the unit is 'minutes'"),
        ("cron(* * * * *)", "6 fields"),
        ("cron(0 12 * * * *)", "exactly one of day-of-month and day-of-week"),
        ("cron(0 12 ? * ? *)", "exactly one of day-of-month and day-of-week"),
        ("cron(60 * * * ? *)", "must be 0-59"),
        ("cron(0 24 * * ? *)", "must be 0-23"),
        ("cron(0 0 0 * ? *)", "must be 1-31"),
        ("cron(0 0 ? FOO MON *)", "JAN-DEC"),
        ("cron(0 0 ? * 8 *)", "SUN-SAT"),
        ("cron(? 0 * * ? *)", "only allowed in day-of-month or day-of-week"),
        ("cron(0 0 L * ? *)", "does not support L, W or #"),
        ("cron(0 0 15W * ? *)", "does not support L, W or #"),
        ("cron(0 0 ? * 6#3 *)", "does not support L, W or #"),
        ("cron(0 0 ? * 6L *)", "does not support L, W or #"),
        ("cron(10-5 * * * ? *)", "must go upwards"),
        ("cron(*/0 * * * ? *)", "at least 1"),
        ("cron(1;2 * * * ? *)", "not a value, range or step"),
    ],
)
def test_invalid_expressions_say_what_is_wrong(text: str, reason: str) -> None:
    with pytest.raises(InvalidParameterValue, match="ScheduleExpression is not valid") as caught:
        parse(text)
    assert reason in caught.value.message


def test_cron_fields_expand_values_ranges_steps_and_names() -> None:
    parsed = parse("cron(0/15 8-10,20 ? JAN,mar-APR MON-FRI 2026-2027)")
    assert isinstance(parsed, Cron)
    assert parsed.minutes == {0, 15, 30, 45}
    assert parsed.hours == {8, 9, 10, 20}
    assert parsed.days is None
    assert parsed.months == {1, 3, 4}
    assert parsed.weekdays == frozenset({2, 3, 4, 5, 6})
    assert parsed.years == {2026, 2027}
    assert parsed.text == "cron(0/15 8-10,20 ? JAN,mar-APR MON-FRI 2026-2027)"


@pytest.mark.parametrize(
    ("text", "after", "expected"),
    [
        ("cron(0/5 * * * ? *)", "2026-01-01T00:00:00", "2026-01-01T00:05:00"),
        ("cron(0/5 * * * ? *)", "2026-01-01T00:04:59", "2026-01-01T00:05:00"),
        ("cron(0/5 * * * ? *)", "2026-01-01T00:05:00", "2026-01-01T00:10:00"),
        ("cron(30 9 * * ? *)", "2026-01-01T09:31:00", "2026-01-02T09:30:00"),
        ("cron(0 12 ? * MON *)", "2026-01-01T00:00:00", "2026-01-05T12:00:00"),  # 1 Jan 2026: a Thursday
        ("cron(0 12 ? * SUN *)", "2026-01-01T00:00:00", "2026-01-04T12:00:00"),
        ("cron(0 0 29 2 ? *)", "2026-01-01T00:00:00", "2028-02-29T00:00:00"),
        ("cron(0 0 1 * ? *)", "2026-12-15T00:00:00", "2027-01-01T00:00:00"),
        ("cron(15 10 ? * * 2030)", "2026-06-01T00:00:00", "2030-01-01T10:15:00"),
        ("cron(59 23 31 12 ? *)", "2026-12-31T23:58:00", "2026-12-31T23:59:00"),
    ],
)
def test_cron_next_fire_table(text: str, after: str, expected: str) -> None:
    assert next_fire(parse(text), epoch(after), 0.0) == epoch(expected)


def test_cron_that_never_fires_has_no_next_time() -> None:
    assert next_fire(parse("cron(0 0 30 2 ? *)"), epoch("2026-01-01T00:00:00"), 0.0) is None
    assert next_fire(parse("cron(0 0 1 1 ? 1999)"), epoch("2026-01-01T00:00:00"), 0.0) is None


@pytest.mark.parametrize(
    ("after", "expected"),
    [(1000.0, 1300.0), (1299.0, 1300.0), (1300.0, 1600.0), (1000.0 + 3000.5, 4300.0), (500.0, 1300.0)],
)
def test_rate_fires_every_period_from_its_anchor(after: float, expected: float) -> None:
    assert next_fire(parse("rate(5 minutes)"), after, anchor=1000.0) == expected


# -- the scheduler ----------------------------------------------------------------------------


@dataclass(frozen=True)
class Version:
    name: str
    version: str = "$LATEST"
    tenant_isolated: bool = False


@dataclass(frozen=True)
class Result:
    function_error: str | None = None


class FakeRegistry:
    def __init__(self) -> None:
        self.functions = {"warm", "per-tenant"}

    def resolve(self, name: str, qualifier: str | None) -> Version:
        if name not in self.functions:
            raise ResourceNotFound(f"Function not found: {name}")
        return Version(name, qualifier or "$LATEST", tenant_isolated=name == "per-tenant")

    def resolve_invocation(self, name: str, qualifier: str | None) -> tuple[Version, str]:
        version = self.resolve(name, qualifier)
        return version, f"arn:aws:lambda:us-east-1:000000000000:function:{name}"


class FakeRouter:
    def __init__(self) -> None:
        self.calls: list[tuple[Version, Any]] = []
        self.throttle = False

    @asynccontextmanager
    async def invoke(self, version: Version, invocation: Any) -> AsyncIterator[Result]:
        self.calls.append((version, invocation))
        if self.throttle:
            raise TooManyRequests("ReservedFunctionConcurrentInvocationLimitExceeded")
        yield Result()


@dataclass
class Harness:
    schedules: Schedules
    clock: ManualClock
    router: FakeRouter
    registry: FakeRegistry
    store: ScheduleStore


def harness(tmp_path: Path, clock: ManualClock | None = None) -> Harness:
    clock = clock or ManualClock(wall_start=epoch("2026-01-01T00:00:00"))
    registry, router = FakeRegistry(), FakeRouter()
    store = ScheduleStore(Database(tmp_path / "flare.db", SCOPE), SCOPE)
    schedules = Schedules(store, cast(Any, registry), cast(Any, router), clock, "us-east-1", "000000000000")
    return Harness(schedules, clock, router, registry, store)


async def advance(h: Harness, seconds: float) -> None:
    h.clock.advance(seconds)
    for _ in range(5):
        await asyncio.sleep(0)


def test_a_rate_schedule_invokes_every_period_with_an_eventbridge_scheduled_event(tmp_path: Path) -> None:
    async def scenario() -> None:
        h = harness(tmp_path)
        h.schedules.start()
        added = h.schedules.add({"FunctionName": "warm", "ScheduleExpression": "rate(5 minutes)"})
        assert added["NextRun"] == "2026-01-01T00:05:00Z"
        await advance(h, 299)
        assert h.router.calls == []
        await advance(h, 1)
        await advance(h, 3 * 300)
        assert len(h.router.calls) == 4
        event = json.loads(h.router.calls[0][1].payload)
        assert event["detail-type"] == "Scheduled Event"
        assert event["source"] == "aws.events"
        assert event["time"] == "2026-01-01T00:05:00Z"
        assert event["resources"] == [
            f"arn:aws:events:us-east-1:000000000000:rule/flare-schedule-{added['Id']}"
        ]
        shown = h.schedules.get(added["Id"])
        assert (shown["Runs"], shown["LastResult"]) == (4, "Succeeded")
        assert shown["LastRun"] == "2026-01-01T00:20:00Z"
        assert shown["NextRun"] == "2026-01-01T00:25:00Z"
        await h.schedules.stop()

    asyncio.run(scenario())


def test_constant_input_and_qualifier_are_what_is_invoked(tmp_path: Path) -> None:
    async def scenario() -> None:
        h = harness(tmp_path)
        h.schedules.start()
        h.schedules.add(
            {
                "FunctionName": "warm:live",
                "ScheduleExpression": "cron(0/10 * * * ? *)",
                "Input": '{"warm": 1}',
            }
        )
        await advance(h, 600)
        version, invocation = h.router.calls[0]
        assert version == Version("warm", "live")
        assert invocation.payload == b'{"warm": 1}'
        await h.schedules.stop()

    asyncio.run(scenario())


def test_a_throttle_is_recorded_not_retried(tmp_path: Path) -> None:
    async def scenario() -> None:
        h = harness(tmp_path)
        h.schedules.start()
        h.router.throttle = True
        added = h.schedules.add({"FunctionName": "warm", "ScheduleExpression": "rate(1 minute)"})
        await advance(h, 60)
        assert len(h.router.calls) == 1
        result = h.schedules.get(added["Id"])["LastResult"]
        assert result == "TooManyRequestsException: ReservedFunctionConcurrentInvocationLimitExceeded"
        await h.schedules.stop()

    asyncio.run(scenario())


def test_removing_a_schedule_disarms_it(tmp_path: Path) -> None:
    async def scenario() -> None:
        h = harness(tmp_path)
        h.schedules.start()
        added = h.schedules.add({"FunctionName": "warm", "ScheduleExpression": "rate(1 minute)"})
        h.schedules.remove(added["Id"])
        await advance(h, 3600)
        assert h.router.calls == []
        assert h.schedules.list() == {"Schedules": []}
        with pytest.raises(ResourceNotFound, match="Schedule not found"):
            h.schedules.remove(added["Id"])
        assert h.clock.pending() == 0

    asyncio.run(scenario())


def test_schedules_survive_a_restart_and_skip_the_times_missed(tmp_path: Path) -> None:
    async def scenario() -> None:
        first = harness(tmp_path)
        first.schedules.start()
        added = first.schedules.add({"FunctionName": "warm", "ScheduleExpression": "rate(1 hour)"})
        await first.schedules.stop()
        clock = ManualClock(start=5_000.0, wall_start=epoch("2026-01-01T05:30:00"))  # down 5.5 hours
        second = harness(tmp_path, clock)
        second.schedules.start()
        assert second.schedules.get(added["Id"])["NextRun"] == "2026-01-01T06:00:00Z"
        await advance(second, 1800)
        assert len(second.router.calls) == 1

    asyncio.run(scenario())


def test_deleting_the_function_removes_its_schedules(tmp_path: Path) -> None:
    async def scenario() -> None:
        h = harness(tmp_path)
        h.schedules.start()
        h.schedules.add({"FunctionName": "warm", "ScheduleExpression": "rate(1 minute)"})
        h.registry.functions.clear()
        h.schedules.function_changed("warm")
        assert h.schedules.list() == {"Schedules": []}
        assert h.store.all() == []

    asyncio.run(scenario())


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ({"ScheduleExpression": "rate(1 minute)"}, InvalidParameterValue),
        ({"FunctionName": "warm"}, InvalidParameterValue),
        ({"FunctionName": "cold", "ScheduleExpression": "rate(1 minute)"}, ResourceNotFound),
        ({"FunctionName": "per-tenant", "ScheduleExpression": "rate(1 minute)"}, InvalidParameterValue),
        ({"FunctionName": "warm", "ScheduleExpression": "rate(1 minutes)"}, InvalidParameterValue),
        ({"FunctionName": "warm", "ScheduleExpression": "cron(0 0 30 2 ? *)"}, InvalidParameterValue),
        (
            {"FunctionName": "warm", "ScheduleExpression": "rate(1 minute)", "Input": "{nope"},
            InvalidParameterValue,
        ),
    ],
)
def test_add_refuses_what_cannot_run(tmp_path: Path, body: dict[str, Any], error: type[Exception]) -> None:
    h = harness(tmp_path)
    with pytest.raises(error):
        h.schedules.add(body)
    assert h.store.all() == []


# -- CLI helpers ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expression"),
    [("5 minutes", "rate(5 minutes)"), ("rate(1 hour)", "rate(1 hour)"), (" 1 day ", "rate(1 day)")],
)
def test_rate_option_wraps_a_bare_rate(given: str, expression: str) -> None:
    assert rate_expression(given) == expression


def test_cron_option_wraps_bare_fields() -> None:
    assert cron_expression("0/5 * * * ? *") == "cron(0/5 * * * ? *)"
    assert cron_expression("cron(0 12 ? * MON *)") == "cron(0 12 ? * MON *)"


def test_ls_table_aligns_columns_and_dashes_what_is_missing() -> None:
    rows = table(
        [
            {"Id": "abc", "FunctionName": "fn", "Qualifier": "live", "ScheduleExpression": "rate(5 minutes)"},
            {
                "Id": "defghi",
                "FunctionName": "other",
                "ScheduleExpression": "rate(1 hour)",
                "NextRun": "2026-01-01T01:00:00Z",
                "LastRun": "2026-01-01T00:00:00Z",
                "LastResult": "Succeeded",
            },
        ]
    ).splitlines()
    assert rows[0].split() == ["ID", "FUNCTION", "EXPRESSION", "NEXT", "RUN", "LAST", "RUN", "LAST", "RESULT"]
    assert rows[1].split() == ["abc", "fn:live", "rate(5", "minutes)", "-", "-", "-"]
    assert rows[2].index("rate(1 hour)") == rows[1].index("rate(5 minutes)")
