"""The what-if model against the engine: a real run is recorded (``flare serve --trace``) and
replayed (``flare trace replay``), and the model's cold starts and p50 latency are compared with
what was measured, under the recorded configuration and under a what-if that was then run for
real.

The traffic: bursts of 1 to 4 concurrent invokes of a published version, separated by gaps of
the engine's clock (``--test-clock``) both shorter and longer than the idle timeout (60 s), so
environments are reused, added and shut down. The function sleeps 50 ms per invoke and 100 ms in
INIT, so a cold start shows in the latency.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from flare.observe import trace_format
from tests.conftest import FLARE, FlareServer, create_function, launch, python_function
from tests.signing import signed_urlopen

SOURCE = """\
import time
time.sleep(0.1)
def handler(event, context):
    time.sleep(0.05)
    return "ok"
"""
IDLE_S = 60
# (concurrent invokes, then seconds of the engine's clock to the next burst)
PATTERN = [(1, 10), (2, 30), (3, 90), (1, 20), (4, 45), (2, 70), (3, 5), (4, 100), (2, 30), (1, 0)]
# p50 of the model against the measured p50, as a fraction of it (docs/trace.md): of the same
# run, and of another run of the same traffic (whose warm latency moves with the host's load)
P50_TOLERANCE = 0.10
P50_TOLERANCE_OTHER_RUN = 0.25


def advance(url: str, seconds: float) -> None:
    request = urllib.request.Request(
        f"{url}/flare/v1/clock",
        data=json.dumps({"AdvanceSeconds": seconds}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with signed_urlopen(request, timeout=10) as response:
        response.read()


def drive(server: FlareServer, lam: Any, name: str) -> None:
    """Send ``PATTERN`` to version 1 of ``name`` (a throttled invoke is not tried again)."""

    def invoke(_: int) -> None:
        try:
            answer = lam.invoke(FunctionName=name, Qualifier="1", Payload=b"{}")
        except ClientError as error:
            assert error.response["Error"]["Code"] == "TooManyRequestsException"
            return
        assert answer["Payload"].read() == b'"ok"'

    with ThreadPoolExecutor(max_workers=4) as pool:
        for burst, gap in PATTERN:
            list(pool.map(invoke, range(burst)))
            settle(server.url)
            advance(server.url, gap)


def settle(url: str, timeout: float = 10) -> None:
    """Until no environment is busy: an environment is released (parked, its idle time
    starting) just after its answer is sent, and a jump of the clock must not overtake that."""
    deadline = time.monotonic() + timeout
    while True:
        with urllib.request.urlopen(f"{url}/metrics", timeout=10) as reply:
            if "\nflare_concurrent_executions 0\n" in reply.read().decode():
                return
        assert time.monotonic() < deadline
        time.sleep(0.005)


def record(tmp_path: Path, provisioned: int = 0, reserved: int | None = None) -> Path:
    """Run ``PATTERN`` on a fresh server recording to a trace (with ``provisioned``
    environments on version 1, ``reserved`` concurrency); the trace's path."""
    name = f"{provisioned}-{reserved}"
    path = tmp_path / f"trace-{name}.jsonl"
    server = launch(
        tmp_path / f"run-{name}", "--test-clock", "--idle-timeout", str(IDLE_S), "--trace", str(path)
    )
    try:
        lam = boto3.client(
            "lambda",
            endpoint_url=server.url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"mode": "standard", "total_max_attempts": 1}),
        )
        create_function(lam, "replayed", python_function(SOURCE), MemorySize=512)
        lam.publish_version(FunctionName="replayed")
        if reserved is not None:
            lam.put_function_concurrency(FunctionName="replayed", ReservedConcurrentExecutions=reserved)
        if provisioned:
            lam.put_provisioned_concurrency_config(
                FunctionName="replayed", Qualifier="1", ProvisionedConcurrentExecutions=provisioned
            )
            wait_ready(lam)
        drive(server, lam, "replayed")
    finally:
        server.stop()
    return path


def wait_ready(lam: Any, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while lam.get_provisioned_concurrency_config(FunctionName="replayed", Qualifier="1")["Status"] != "READY":
        assert time.monotonic() < deadline
        time.sleep(0.05)


def replay(path: Path, *what_ifs: str) -> dict[str, dict[str, Any]]:
    """``flare trace replay --json`` of ``path``: its scenarios by name."""
    args = [str(FLARE), "trace", "replay", str(path), "--json", *(f"--what-if={spec}" for spec in what_ifs)]
    answer = json.loads(subprocess.run(args, check=True, capture_output=True, text=True).stdout)
    return {scenario["scenario"]: scenario for scenario in answer["scenarios"]}


def measured(path: Path) -> tuple[int, float]:
    """Cold starts and p50 latency (of answered invocations) of the trace at ``path``."""
    trace = trace_format.read(path.read_bytes().splitlines(keepends=True))
    assert trace.complete and trace.dropped == 0
    assert len(trace.records) == sum(burst for burst, _ in PATTERN)
    answered = [record for record in trace.records if record.outcome != "throttle"]
    latencies = sorted(record.latency_ms for record in answered if record.latency_ms is not None)
    cold = sum(1 for record in trace.records if record.start == "cold")
    return cold, latencies[(len(latencies) + 1) // 2 - 1]


def test_replayed_under_its_own_configuration_the_model_predicts_the_measured_cold_starts_and_p50(
    tmp_path: Path,
) -> None:
    path = record(tmp_path)
    cold, p50 = measured(path)
    scenarios = replay(path)
    assert scenarios["recorded"]["cold_starts"] == cold
    model = scenarios["as recorded"]
    assert model["cold_starts"] == cold
    assert model["throttles"] == 0
    assert abs(model["p50_ms"] - p50) <= P50_TOLERANCE * p50


def test_a_provisioned_what_if_predicts_the_cold_starts_of_the_same_traffic_run_with_it(
    tmp_path: Path,
) -> None:
    without = record(tmp_path)
    predicted = replay(without, "provisioned=2")["provisioned=2"]
    cold_without, _ = measured(without)
    assert predicted["cold_starts"] < cold_without  # the what-if removes some, not all
    assert predicted["cold_starts"] > 0
    with_two = record(tmp_path, provisioned=2)
    starts = {record.start for record in trace_format.read(with_two.read_bytes().splitlines(True)).records}
    assert starts == {"provisioned", "warm", "cold"}
    cold, p50 = measured(with_two)
    assert predicted["cold_starts"] == cold
    assert abs(predicted["p50_ms"] - p50) <= P50_TOLERANCE_OTHER_RUN * p50


def test_a_reserved_what_if_predicts_the_throttles_of_the_same_traffic_run_with_it(tmp_path: Path) -> None:
    without = record(tmp_path)
    predicted = replay(without, "reserved=2")["reserved=2"]
    assert predicted["throttles"] > 0
    with_two = record(tmp_path, reserved=2)
    trace = trace_format.read(with_two.read_bytes().splitlines(keepends=True))
    throttles = [record for record in trace.records if record.outcome == "throttle"]
    assert {record.reason for record in throttles} == {"ReservedFunctionConcurrentInvocationLimitExceeded"}
    cold, _ = measured(with_two)
    # (not p50: of the 17 answered, 8 are cold, so the median sits between the warm and the cold
    # latencies and is one slow warm invoke away from either)
    assert (predicted["throttles"], predicted["cold_starts"]) == (len(throttles), cold)
