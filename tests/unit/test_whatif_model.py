"""The what-if model on hand-made arrivals: keep-alive, provisioned spill-over, throttles with
their Reasons, SnapStart, environments that end, the CPU share of memory, and the price."""

from __future__ import annotations

from typing import Any

import pytest

from flare.errors import TraceRefused
from flare.observe.trace_format import Header, Record, Trace
from flare.placement.ledger import ACCOUNT_LIMIT, RATE_LIMIT, RESERVED_LIMIT
from flare.whatif import billing, report, scenario
from flare.whatif.model import Model
from flare.whatif.replay import recorded_configs, replay
from flare.whatif.scenario import EngineConfig
from flare.whatif.service import MEASURED_RESTORE_MS, ServiceTimes

ENGINE = EngineConfig(idle_timeout_s=60.0, account_concurrency=1000, scaling_rate=1000, scaling_window_s=10.0)


def arrival(t: float, **fields: Any) -> Record:
    """An invocation recorded warm: 100 ms of duration, 1 ms of overhead."""
    base = Record(
        t=t,
        account="000000000000",
        region="us-east-1",
        function="fn",
        version="1",
        qualifier=None,
        source="sync",
        memory_mb=1769,
        architecture="x86_64",
        timeout_s=3,
        reserved=None,
        provisioned=0,
        snapstart=False,
        outcome="ok",
        start="warm",
        duration_ms=100.0,
        latency_ms=101.0,
    )
    return base._replace(**fields)


COLD = {"start": "cold", "init_ms": 200.0, "latency_ms": 305.0}  # 5 ms of cold overhead


def run(
    records: list[Record], spec: str = "", engine: EngineConfig = ENGINE
) -> list[tuple[str | None, float | None]]:
    """The model's (start or throttle reason, latency) per arrival under what-if ``spec``."""
    what_if = scenario.parse(spec) if spec else scenario.AS_RECORDED
    configs = {group: what_if.apply(config) for group, config in recorded_configs(records).items()}
    model = Model(what_if.apply_engine(engine), configs, ServiceTimes(records), what_if.restore_ms)
    return [(item.start or item.reason, item.latency_ms) for item in model.run(records)]


def starts(records: list[Record], spec: str = "", engine: EngineConfig = ENGINE) -> list[str | None]:
    return [start for start, _ in run(records, spec, engine)]


def test_an_environment_idle_past_the_timeout_is_gone_and_the_next_arrival_is_cold() -> None:
    records = [arrival(0, **COLD), arrival(30), arrival(30.1 + 59.9), arrival(150.2 + 1)]
    # parked at 30.101: due at 90.101, so 90.0 is warm; parked again at 90.1: 151.2 is past it
    assert starts(records) == ["cold", "warm", "warm", "cold"]


def test_the_idle_what_if_changes_the_keep_alive() -> None:
    records = [arrival(0, **COLD), arrival(45)]
    assert starts(records) == ["cold", "warm"]
    assert starts(records, "idle=30") == ["cold", "cold"]


def test_overlapping_arrivals_each_need_an_environment_and_reuse_the_warmest() -> None:
    records = [arrival(0, **COLD), arrival(0.01, **COLD), arrival(1), arrival(1.01), arrival(1.02, **COLD)]
    assert starts(records) == ["cold", "cold", "warm", "warm", "cold"]


def test_a_cold_start_takes_its_init_and_its_overhead_and_a_warm_one_neither() -> None:
    records = [arrival(0, **COLD), arrival(10)]
    assert run(records) == [("cold", 305.0), ("warm", 101.0)]
    # recorded warm, modelled cold (idle=5): INIT drawn from the recorded cold start, its overhead too
    assert run(records, "idle=5")[1] == ("cold", 305.0)


def test_provisioned_environments_serve_first_and_the_rest_spills_over_to_on_demand() -> None:
    records = [arrival(0, **COLD), arrival(0.01, **COLD), arrival(0.02, **COLD), arrival(1)]
    assert starts(records, "provisioned=2") == ["provisioned", "provisioned", "cold", "provisioned"]


def test_reserved_concurrency_throttles_past_it_with_its_reason() -> None:
    records = [arrival(0, **COLD), arrival(0.01, **COLD), arrival(0.02, **COLD)]
    assert starts(records, "reserved=2") == ["cold", "cold", RESERVED_LIMIT]
    assert starts(records, "reserved=0") == [RESERVED_LIMIT] * 3


def test_the_account_limit_and_the_scaling_rate_throttle_with_theirs() -> None:
    records = [arrival(0, **COLD), arrival(0.01, **COLD)]
    assert starts(records, "concurrency=1") == ["cold", ACCOUNT_LIMIT]
    assert starts(records, "scaling=1") == ["cold", RATE_LIMIT]
    # the bucket refills at 1 per 10 s (idle=5: the first environment is gone by then)
    refilled = [arrival(0, **COLD), arrival(0.01, **COLD), arrival(10.2, **COLD)]
    assert starts(refilled, "scaling=1,idle=5") == ["cold", RATE_LIMIT, "cold"]


def test_snapstart_restores_instead_of_init_at_the_measured_restore_time_unless_given() -> None:
    # no restore recorded: its overhead is the warm one's (1 ms)
    records = [arrival(0, **COLD), arrival(10)]
    assert run(records, "snapstart=on")[0] == ("restore", MEASURED_RESTORE_MS + 100.0 + 1.0)
    assert run(records, "snapstart=on,restore=50")[0] == ("restore", 50.0 + 100.0 + 1.0)


def test_an_invocation_that_ended_its_environment_leaves_the_next_one_cold() -> None:
    records = [
        arrival(0, **COLD),
        arrival(10, outcome="error", error_type="Sandbox.Timedout", ended=True),
        arrival(20),
    ]
    assert starts(records) == ["cold", "warm", "cold"]


@pytest.mark.parametrize(
    ("memory", "duration"), [("memory=1769", 100.0), ("memory=3538", 100.0), ("memory=442", 400.25)]
)
def test_a_memory_what_if_scales_duration_by_the_cpu_share_up_to_one_vcpu(
    memory: str, duration: float
) -> None:
    _, item = run([arrival(0, **COLD), arrival(10)], memory)
    assert item[1] == pytest.approx(duration + 1.0, rel=1e-3)


def test_cost_is_requests_plus_gb_seconds_at_the_published_prices() -> None:
    # 1M requests of 1 GB for 1 s on x86_64: $0.20 + 1M GB-s x $0.0000166667
    assert billing.cost_usd(1024, "x86_64", 1_000_000_000, 0, 0, 1_000_000) == pytest.approx(
        16.8667, rel=1e-4
    )
    # arm64 is cheaper per GB-s; INIT counts as duration
    assert billing.cost_usd(1024, "arm64", 500, 500, 0) == pytest.approx(0.0000133334)
    # a day of one provisioned 1 GB environment
    assert billing.cost_usd(1024, "x86_64", 0, 0, 86_400) == pytest.approx(0.36, rel=1e-3)


def test_a_replay_reports_recorded_as_recorded_and_each_what_if_in_order() -> None:
    header = Header(0.0, 0.0, 60.0, 1000, 1000, 10.0)
    records = [arrival(0, **COLD), arrival(30), arrival(200, **COLD)]
    summaries = replay(Trace(header, records), [scenario.parse("provisioned=1")])
    assert [summary.scenario for summary in summaries] == ["recorded", "as recorded", "provisioned=1"]
    recorded, model, provisioned = summaries
    assert (recorded.cold_starts, model.cold_starts, provisioned.cold_starts) == (2, 2, 0)
    assert model.p50_ms == recorded.p50_ms == 305.0
    assert provisioned.cost_usd > model.cost_usd  # a provisioned environment for 5 minutes
    assert "provisioned=1" in report.table(summaries).splitlines()[0]


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("warm=1", "unknown key 'warm'"),
        ("memory=64", "memory must be megabytes, 128 to 10240"),
        ("snapstart=yes", "snapstart must be on or off"),
        ("reserved=-1", "reserved must be a count"),
        ("provisioned=1,provisioned=2", "provisioned must be given once"),
        ("idle", "idle must be given once, as idle=VALUE"),
    ],
)
def test_a_what_if_the_model_cannot_take_is_refused_with_the_reason(spec: str, message: str) -> None:
    with pytest.raises(TraceRefused, match=message):
        scenario.parse(spec)


def test_a_replay_of_a_function_the_trace_does_not_have_is_refused() -> None:
    header = Header(0.0, 0.0, 60.0, 1000, 1000, 10.0)
    with pytest.raises(TraceRefused, match="no invocation of other"):
        replay(Trace(header, [arrival(0)]), [], function="other")
