"""``pricing``: one invocation's charges from its REPORT figures, and provisioned time, at
AWS's us-east-1 prices; ``Bill``: the running totals, provisioned time on a ManualClock."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from flare.clock import ManualClock
from flare.control.model import FunctionVersion
from flare.observe import pricing
from flare.observe.bill import Bill

VERSION = FunctionVersion(
    name="fn",
    version="1",
    function_arn="arn:aws:lambda:us-east-1:111122223333:function:fn",
    runtime="python3.12",
    handler="app.handler",
    memory_mb=1024,
    timeout_s=3,
    ephemeral_mb=512,
    environment={},
    code_sha256="",
    code_dir=Path("/nonexistent"),
    revision_id="r1",
    region="us-east-1",
    account_id="111122223333",
)


@pytest.mark.parametrize(
    ("architecture", "memory_mb", "duration_ms", "init_ms", "ephemeral_mb", "provisioned", "expected"),
    [
        # 1 GB for 100 ms on x86: 0.1 GB-s
        ("x86_64", 1024, 100.0, None, 512, False, {"duration": 0.1 * 0.0000166667}),
        # rounded up to the millisecond, at least one
        ("x86_64", 1024, 99.01, None, 512, False, {"duration": 0.1 * 0.0000166667}),
        ("x86_64", 1024, 0.2, None, 512, False, {"duration": 0.001 * 0.0000166667}),
        # 128 MB on arm64
        ("arm64", 128, 1000.0, None, 512, False, {"duration": 0.125 * 0.0000133334}),
        # a cold start: ceil(10.5 + 200.2) = 211 ms billed, 11 of them the invocation's
        (
            "x86_64",
            2048,
            10.5,
            200.2,
            512,
            False,
            {"duration": 0.022 * 0.0000166667, "init": 0.4 * 0.0000166667},
        ),
        # 1 GB of ephemeral storage above the free 512 MB, for 2 s
        (
            "x86_64",
            1024,
            2000.0,
            None,
            1536,
            False,
            {"duration": 2 * 0.0000166667, "ephemeral_storage": 2 * 0.0000000309},
        ),
        # served by a provisioned environment
        ("x86_64", 1024, 1000.0, None, 512, True, {"duration": 0.0000097222}),
        ("arm64", 1024, 1000.0, None, 512, True, {"duration": 0.0000077778}),
    ],
)
def test_an_invocation_costs_a_request_and_its_billed_gb_seconds(
    architecture: str,
    memory_mb: int,
    duration_ms: float,
    init_ms: float | None,
    ephemeral_mb: int,
    provisioned: bool,
    expected: dict[str, float],
) -> None:
    charges = pricing.invocation_charges(
        architecture, memory_mb, duration_ms, init_ms, ephemeral_mb, provisioned
    )
    got = charges.by_component()
    assert got.pop("requests") == pytest.approx(0.0000002)
    for component, usd in got.items():
        assert usd == pytest.approx(expected.get(component, 0.0), rel=1e-9, abs=1e-15), component
    assert charges.total == pytest.approx(0.0000002 + sum(expected.values()))


def test_provisioned_concurrency_costs_memory_times_concurrency_per_second() -> None:
    # 2 GB x 3 environments for an hour on x86: 21,600 GB-s
    assert pricing.provisioned_usd("x86_64", 2048, 3, 3600) == pytest.approx(21600 * 0.0000041667)
    # AWS's periods: a minute is billed as five
    assert pricing.provisioned_period_usd("arm64", 1024, 1, 60) == pytest.approx(300 * 0.0000033334)
    assert pricing.provisioned_period_usd("arm64", 1024, 1, 0) == 0


def test_an_unknown_architecture_is_priced_as_x86() -> None:
    assert pricing.prices("sparc") == pricing.PRICES["x86_64"]


def test_the_bill_adds_invocations_by_account_function_and_component() -> None:
    bill = Bill(ManualClock())
    bill.charge(VERSION, 100.0, 50.0, provisioned=False)
    bill.charge(dataclasses.replace(VERSION, name="other"), 100.0, None, provisioned=False)
    totals = bill.totals()
    assert totals[("111122223333", "us-east-1", "fn", "requests")] == pytest.approx(0.0000002)
    assert totals[("111122223333", "us-east-1", "fn", "init")] == pytest.approx(0.05 * 0.0000166667)
    assert ("111122223333", "us-east-1", "other", "init") not in totals
    assert bill.by_account()[("111122223333", "duration")] == pytest.approx(0.2 * 0.0000166667)


def test_the_bill_totals_equal_the_sum_of_each_invocations_charges() -> None:
    """The bill sums billed milliseconds per invocation and prices the sums when read: the
    totals are the sum of ``invocation_charges`` of every invocation, across memory sizes,
    architectures, extra /tmp, cold starts, provisioned environments and reads in between."""
    bill = Bill(ManualClock())
    expected: dict[tuple[str, str, str, str], float] = {}
    big = dataclasses.replace(VERSION, memory_mb=3008, ephemeral_mb=2048, architecture="arm64")
    runs = [(VERSION, 0.3, None, False), (VERSION, 12.5, 480.2, False), (big, 99.01, None, True)]
    for n in range(30):
        version, duration_ms, init_ms, provisioned = runs[n % 3]
        bill.charge(version, duration_ms + n, init_ms, provisioned)
        charges = pricing.invocation_charges(
            version.architecture,
            version.memory_mb,
            duration_ms + n,
            init_ms,
            version.ephemeral_mb,
            provisioned,
        )
        for component, usd in charges.by_component().items():
            key = (version.account_id, version.region, version.name, component)
            expected[key] = expected.get(key, 0.0) + usd
        if n == 10:
            bill.totals()
    totals = bill.totals()
    assert totals == pytest.approx(expected)
    assert ("111122223333", "us-east-1", "fn", "ephemeral_storage") in totals


def test_provisioned_time_is_charged_while_configured_and_at_its_count() -> None:
    clock = ManualClock()
    bill = Bill(clock)
    key = ("111122223333", "us-east-1", "fn", "provisioned")
    bill.provisioned(VERSION, 2)
    clock.advance(100)
    assert bill.totals()[key] == pytest.approx(100 * 2 * 0.0000041667)
    bill.provisioned(VERSION, 1)  # the same reconciled again costs nothing more
    bill.provisioned(VERSION, 1)
    clock.advance(50)
    bill.provisioned(VERSION, 0)
    clock.advance(1000)
    assert bill.totals()[key] == pytest.approx((200 + 50) * 0.0000041667)
