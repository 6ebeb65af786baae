"""Tenant isolation: the pure decisions from tables, the configuration checks, the pool's and the
router's tenant keys with fake environments, the tenant's way to the runtime, and the async
queue's store keeping the tenant of each event."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Awaitable, Callable, Coroutine
from datetime import date
from pathlib import Path
from typing import Any, cast

import pytest

from flare.clock import ManualClock
from flare.control import tenancy, validation
from flare.control.model import TENANT_VIEWS_KEPT, FunctionVersion
from flare.control.tenancy import Feature
from flare.errors import InvalidParameterValue, TooManyRequests
from flare.placement.ledger import Ledger
from flare.placement.pool import Pool
from flare.placement.router import Router
from flare.runtimes.lambda_python import frames
from flare.sandbox.channel import invoke_frame, next_event
from flare.sandbox.invocation import Invocation
from flare.scope import Scope
from flare.store.database import Database
from flare.store.events import EventRow, EventStore
from tests.unit.test_provisioned import Factory
from tests.unit.test_registry import create_body as registry_body
from tests.unit.test_registry import open_registry

SCOPE = Scope("000000000000", "us-east-1")

ISOLATED: dict[str, Any] = {"TenancyConfig": {"TenantIsolationMode": "PER_TENANT"}}
SNAP_START = {"SnapStart": {"ApplyOn": "PublishedVersions", "OptimizationStatus": "Off"}}
NO_SNAP_START = {"SnapStart": {"ApplyOn": "None", "OptimizationStatus": "Off"}}

TODAY = date(2026, 12, 4)


def version(isolated: bool = True, name: str = "fn") -> FunctionVersion:
    return FunctionVersion(
        name=name,
        version="$LATEST",
        function_arn=f"arn:aws:lambda:us-east-1:000000000000:function:{name}",
        runtime="python3.12",
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
        tenant_isolated=isolated,
    )


def call(request_id: str, tenant_id: str | None) -> Invocation:
    return Invocation(request_id, b"{}", "arn", "Root=1-0-0", tenant_id=tenant_id)


def run(scenario: Callable[[], Awaitable[Any]]) -> Any:
    return asyncio.run(cast(Coroutine[Any, Any, Any], scenario()))


# ---- pure decisions ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("config", "expected"),
    [
        ({}, False),
        ({"TenancyConfig": None}, False),
        ({"TenancyConfig": {}}, False),
        (ISOLATED, True),
    ],
)
def test_isolated_reads_the_tenant_isolation_mode(config: dict[str, Any], expected: bool) -> None:
    assert tenancy.isolated(config) is expected


@pytest.mark.parametrize(
    ("isolated", "tenant_id", "refusal"),
    [
        (True, "blue", None),
        (True, None, tenancy.MISSING_TENANT),
        (False, None, None),
        (False, "blue", tenancy.UNEXPECTED_TENANT),
    ],
)
def test_an_invocation_names_a_tenant_exactly_when_the_function_is_isolated(
    isolated: bool, tenant_id: str | None, refusal: str | None
) -> None:
    if refusal is None:
        tenancy.check_invocation(isolated, tenant_id)
    else:
        with pytest.raises(InvalidParameterValue, match=re.escape(refusal)):
            tenancy.check_invocation(isolated, tenant_id)


@pytest.mark.parametrize(
    ("concurrency", "limit"),
    [(1000, 2500), (3000, 7500), (10, 25), (2, 5), (1, 2), (0, 0), (-1, 0)],
)
def test_environment_limit_is_2500_for_every_1000_concurrent_executions(concurrency: int, limit: int) -> None:
    assert tenancy.environment_limit(concurrency) == limit


@pytest.mark.parametrize(
    ("live", "concurrency", "throttled"),
    [(0, 1, False), (1, 1, False), (2, 1, True), (3, 1, True), (2499, 1000, False), (2500, 1000, True)],
)
def test_a_new_tenant_environment_past_the_limit_is_throttled(
    live: int, concurrency: int, throttled: bool
) -> None:
    if not throttled:
        tenancy.check_new_environment(live, concurrency)
        return
    with pytest.raises(TooManyRequests) as raised:
        tenancy.check_new_environment(live, concurrency)
    assert raised.value.reason == tenancy.THROTTLE_REASON
    assert raised.value.status == 429


@pytest.mark.parametrize("feature", list(Feature))
def test_each_incompatible_feature_is_refused_for_isolated_functions_only(feature: Feature) -> None:
    tenancy.refuse(feature, False)
    with pytest.raises(InvalidParameterValue, match=feature.value):
        tenancy.refuse(feature, True)


def test_function_urls_are_refused_from_the_function_configuration() -> None:
    tenancy.check_function_url({"FunctionName": "fn"})
    with pytest.raises(InvalidParameterValue, match="Function URLs"):
        tenancy.check_function_url({"FunctionName": "fn", **ISOLATED})


@pytest.mark.parametrize(
    ("config", "refused"),
    [
        ({**ISOLATED, **SNAP_START}, True),
        (SNAP_START, False),
        ({**ISOLATED, **NO_SNAP_START}, False),
        ({}, False),
    ],
)
def test_snap_start_cannot_be_combined_with_tenant_isolation(config: dict[str, Any], refused: bool) -> None:
    if not refused:
        tenancy.check_configuration(config)
        return
    with pytest.raises(InvalidParameterValue, match="SnapStart"):
        tenancy.check_configuration(config)


@pytest.mark.parametrize(
    ("current", "body", "refused"),
    [
        ({}, {"Timeout": 5}, False),
        (ISOLATED, {"Timeout": 5}, False),
        (ISOLATED, ISOLATED, False),  # the same value is no change
        ({}, ISOLATED, True),
        (ISOLATED, {"TenancyConfig": None}, True),
        ({}, {"TenancyConfig": None}, False),
        ({}, {"TenancyConfig": {}}, True),
        ({}, {"TenancyConfig": "PER_TENANT"}, True),  # no shape checked: no member in the model
        (ISOLATED, {"TenancyConfig": {"TenantIsolationMode": "PER_TENANT", "More": 1}}, True),
    ],
)
def test_tenancy_config_never_changes_after_creation(
    current: dict[str, Any], body: dict[str, Any], refused: bool
) -> None:
    if not refused:
        tenancy.check_update(current, body)
        return
    with pytest.raises(InvalidParameterValue, match=re.escape(tenancy.IMMUTABLE)):
        tenancy.check_update(current, body)


# ---- configuration: create and update ---------------------------------------------------------


def create_body(**fields: Any) -> dict[str, Any]:
    return {"FunctionName": "fn", "Runtime": "python3.12", "Handler": "app.handler", "Role": "r", **fields}


def test_create_stores_the_tenancy_config_and_update_keeps_it() -> None:
    created = validation.normalise_create(create_body(**ISOLATED), TODAY)
    assert created["TenancyConfig"] == {"TenantIsolationMode": "PER_TENANT"}
    assert "TenancyConfig" not in validation.normalise_create(create_body(), TODAY)
    updated = validation.merge_update(created, {"Timeout": 30}, TODAY)
    assert (updated["TenancyConfig"], updated["Timeout"]) == (created["TenancyConfig"], 30)
    assert FunctionVersion.from_configuration(
        {**updated, "FunctionArn": "arn:aws:lambda:us-east-1:1:function:fn"}, Path("/x"), "us-east-1", "1"
    ).tenant_isolated


def test_create_and_update_refuse_snap_start_with_tenant_isolation() -> None:
    with pytest.raises(InvalidParameterValue, match="SnapStart"):
        validation.normalise_create(
            create_body(**ISOLATED, SnapStart={"ApplyOn": "PublishedVersions"}), TODAY
        )
    created = validation.normalise_create(create_body(**ISOLATED), TODAY)
    with pytest.raises(InvalidParameterValue, match="SnapStart"):
        validation.merge_update(created, {"SnapStart": {"ApplyOn": "PublishedVersions"}}, TODAY)
    with pytest.raises(InvalidParameterValue, match=re.escape(tenancy.IMMUTABLE)):
        validation.merge_update(validation.normalise_create(create_body(), TODAY), ISOLATED, TODAY)


def test_the_mode_is_stored_shown_published_and_survives_a_restart(tmp_path: Path) -> None:
    registry = open_registry(tmp_path)
    created = registry.create_function(registry_body("fn", **ISOLATED))
    assert created["TenancyConfig"] == ISOLATED["TenancyConfig"]
    published = registry.publish_version("fn", {})
    assert published["TenancyConfig"] == ISOLATED["TenancyConfig"]
    registry.create_function(registry_body("plain"))
    reopened = open_registry(tmp_path)
    assert reopened.resolve("fn", None).tenant_isolated
    assert reopened.resolve("fn", published["Version"]).tenant_isolated
    assert not reopened.resolve("plain", None).tenant_isolated
    assert "TenancyConfig" not in reopened.get_configuration("plain", None)


def test_each_tenant_view_of_a_version_has_a_key_of_its_own() -> None:
    plain = version()
    blue, green = plain.for_tenant("blue"), plain.for_tenant("green")
    assert plain.key == ("fn", "$LATEST", "r1", None)
    assert (blue.key, green.key) == (("fn", "$LATEST", "r1", "blue"), ("fn", "$LATEST", "r1", "green"))
    assert blue.tenant_id == "blue" and blue.revision_id == plain.revision_id and blue.tenant_isolated
    assert plain.for_tenant("blue") is blue  # kept: the invoke path makes no copy per call


def test_a_version_keeps_a_bounded_number_of_tenant_views() -> None:
    plain = version()
    first = plain.for_tenant("t0")
    for index in range(1, TENANT_VIEWS_KEPT):
        plain.for_tenant(f"t{index}")
    assert plain.for_tenant("t0") is first
    plain.for_tenant("one-too-many")  # the views are dropped and made again as needed
    again = plain.for_tenant("t0")
    assert again is not first and again.key == first.key


# ---- the pool and the router ------------------------------------------------------------------


def make_router(reserved: int | None = None, account: int = 10) -> tuple[Router, Any, Factory, ManualClock]:
    clock = ManualClock()
    factory = Factory()
    pool: Any = Pool(cast(Any, factory), clock, idle_timeout_s=300.0, init_timeout_s=10.0)
    ledger = Ledger(clock, account, scaling_rate=1000)
    if reserved is not None:
        ledger.set_reserved("fn", reserved)
    return Router(pool, ledger, clock=clock), pool, factory, clock


async def served_by(router: Router, fn: FunctionVersion, request_id: str, tenant_id: str | None) -> str:
    async with router.invoke(fn, call(request_id, tenant_id)) as result:
        return result.payload.decode().removeprefix("ran on ")


def test_tenants_of_one_version_never_share_an_environment_and_each_reuses_its_own() -> None:
    async def scenario() -> None:
        router, pool, factory, _ = make_router()
        fn = version()
        order = ["blue", "green", "blue", "red", "green", "blue"]
        served = [(tenant, await served_by(router, fn, f"r{i}", tenant)) for i, tenant in enumerate(order)]
        by_tenant: dict[str, set[str]] = {}
        for tenant, env in served:
            by_tenant.setdefault(tenant, set()).add(env)
        assert all(len(envs) == 1 for envs in by_tenant.values())  # each reused its own, warm
        assert len(factory.made) == 3  # one environment per tenant, no more
        assert {env.version.tenant_id for env in factory.made} == {"blue", "green", "red"}
        assert pool.tenant_environments("fn") == 3

    run(scenario)


def test_busy_environment_of_one_tenant_makes_another_tenant_start_its_own() -> None:
    async def scenario() -> None:
        router, _, factory, _ = make_router()
        fn = version()
        await served_by(router, fn, "r0", "blue")
        factory.made[0].gate = asyncio.Event()
        busy = asyncio.create_task(served_by(router, fn, "r1", "blue"))
        await asyncio.sleep(0)
        green = await served_by(router, fn, "r2", "green")
        factory.made[0].gate.set()
        assert await busy == factory.made[0].id != green

    run(scenario)


def test_an_isolated_function_refuses_an_invocation_without_a_tenant_and_vice_versa() -> None:
    async def scenario() -> None:
        router, _, factory, _ = make_router()
        with pytest.raises(InvalidParameterValue, match=re.escape(tenancy.MISSING_TENANT)):
            await served_by(router, version(), "r0", None)
        with pytest.raises(InvalidParameterValue, match=re.escape(tenancy.UNEXPECTED_TENANT)):
            await served_by(router, version(isolated=False), "r1", "blue")
        assert factory.made == []
        assert router.ledger.in_use() == 0

    run(scenario)


def test_a_function_without_isolation_keeps_one_shared_key() -> None:
    async def scenario() -> None:
        router, pool, factory, _ = make_router()
        fn = version(isolated=False)
        assert await served_by(router, fn, "r0", None) == await served_by(router, fn, "r1", None)
        made_for: object = factory.made[0].version  # the fake env holds the router's real version
        assert made_for is fn
        assert pool.tenant_environments("fn") == 0

    run(scenario)


def test_new_tenant_environments_stop_at_the_limit_of_the_reservation() -> None:
    async def scenario() -> None:
        router, pool, factory, clock = make_router(reserved=1)  # 2 tenant environments
        fn = version()
        await served_by(router, fn, "r0", "a")
        await served_by(router, fn, "r1", "b")
        with pytest.raises(TooManyRequests) as raised:
            await served_by(router, fn, "r2", "c")
        assert raised.value.reason == tenancy.THROTTLE_REASON
        assert 'flare_throttles_total{function="fn"} 1' in router.metrics.render()
        assert await served_by(router, fn, "r3", "a") == factory.made[0].id  # warm: no new one
        # Once an environment shuts down after its idle time, a new tenant fits again.
        clock.advance(300.0)
        for _ in range(5):
            await asyncio.sleep(0)
        assert pool.tenant_environments("fn") == 0
        await served_by(router, fn, "r4", "c")
        assert pool.tenant_environments("fn") == 1

    run(scenario)


def test_without_a_reservation_the_limit_follows_the_unreserved_pool() -> None:
    async def scenario() -> None:
        router, pool, _, _ = make_router(account=2)  # 5 tenant environments
        fn = version()
        for index in range(5):
            await served_by(router, fn, f"r{index}", f"t{index}")
        with pytest.raises(TooManyRequests):
            await served_by(router, fn, "r5", "t5")
        assert pool.tenant_environments("fn") == 5

    run(scenario)


def test_idle_lists_of_tenants_are_dropped_once_empty() -> None:
    async def scenario() -> None:
        router, pool, _, clock = make_router()
        fn = version()
        for index in range(4):
            await served_by(router, fn, f"r{index}", f"t{index}")
        assert len(pool._idle) == 4
        clock.advance(300.0)
        for _ in range(5):
            await asyncio.sleep(0)
        assert pool._idle == {}

    run(scenario)


# ---- the tenant's way to the runtime ----------------------------------------------------------


def test_the_tenant_reaches_both_runtime_channels_only_when_there_is_one() -> None:
    with_tenant, without = call("r1", "blue"), call("r2", None)
    assert next_event(with_tenant, 5).headers["Lambda-Runtime-Aws-Tenant-Id"] == "blue"
    assert "Lambda-Runtime-Aws-Tenant-Id" not in next_event(without, 5).headers
    decoded = [header for _, header, _ in frames.FrameReader().feed(invoke_frame(with_tenant, 5))]
    assert decoded[0]["tenant"] == "blue"
    decoded = [header for _, header, _ in frames.FrameReader().feed(invoke_frame(without, 5))]
    assert "tenant" not in decoded[0]


# ---- async events keep their tenant -------------------------------------------------------------


def test_event_store_keeps_the_tenant_of_each_event(tmp_path: Path) -> None:
    store = EventStore(Database(tmp_path / "events.db", SCOPE), SCOPE)
    store.insert_event(EventRow("e1", "fn", None, "arn", b"{}", 1.0, 1.0, tenant_id="blue"))
    store.insert_event(EventRow("e2", "fn", None, "arn", b"{}", 1.0, 1.0))
    store.close()
    reopened = EventStore(Database(tmp_path / "events.db", SCOPE), SCOPE)
    assert (reopened.get_event("e1") or EventRow("", "", None, "", b"", 0, 0)).tenant_id == "blue"
    assert (reopened.get_event("e2") or EventRow("", "", None, "", b"", 0, 0)).tenant_id is None
    reopened.close()


def test_an_events_file_of_schema_1_gets_the_tenant_column_and_keeps_its_events(tmp_path: Path) -> None:
    path = tmp_path / "events.db"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE async_events (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE, "
        "function TEXT NOT NULL, qualifier TEXT, invoked_arn TEXT NOT NULL, payload BLOB NOT NULL, "
        "enqueued REAL NOT NULL, due REAL NOT NULL, function_errors INTEGER NOT NULL DEFAULT 0, "
        "other_failures INTEGER NOT NULL DEFAULT 0, last TEXT);"
        "INSERT INTO async_events (id, function, invoked_arn, payload, enqueued, due) "
        "VALUES ('old', 'fn', 'arn', X'7B7D', 1, 1);"
        "PRAGMA user_version=1;"
    )
    old.close()
    store = EventStore(Database(path, SCOPE), SCOPE)
    kept = store.get_event("old")
    assert kept is not None and (kept.function, kept.payload, kept.tenant_id) == ("fn", b"{}", None)
    store.insert_event(EventRow("new", "fn", None, "arn", b"{}", 1.0, 1.0, tenant_id="green"))
    assert (store.get_event("new") or kept).tenant_id == "green"
    store.close()
