"""Provisioned concurrency: 4 provisioned environments serve 4 parallel invokes with no cold
start, and a 5th concurrent invoke spills over to on-demand with exactly one.

One ``flare serve``; one function whose INIT takes ~200 ms (standing for a real dependency load)
and whose handler sleeps 500 ms, so parallel invokes overlap. Version 1 is published, alias
``live`` points at it, and ``PutProvisionedConcurrencyConfig(live, 4)`` is timed to ``READY``.
Then, through the Lambda Invoke API with ``LogType=Tail`` (all invokes of a round released
together by a barrier):

* baseline: 4 parallel invokes of ``$LATEST`` (no provisioned concurrency): 4 cold starts;
* ``rounds`` x 4 parallel invokes of ``live``: no REPORT line carries ``Init Duration``;
* 5 parallel invokes of ``live``: exactly one does (the spill-over).

A cold start is a REPORT line with ``Init Duration``; each answer also names the
``AWS_LAMBDA_INITIALIZATION_TYPE`` of the environment that ran it.
"""

from __future__ import annotations

import base64
import json
import statistics
import tempfile
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import harness

FUNCTION = "bench-provisioned"
PROVISIONED = 4
SLEEP_S = 0.5
INIT_SLEEP_S = 0.2
SOURCE = f"""\
import os, time
time.sleep({INIT_SLEEP_S})
def handler(event, context):
    time.sleep(event.get("sleep", 0))
    return os.environ.get("AWS_LAMBDA_INITIALIZATION_TYPE")
"""


@dataclass(frozen=True)
class Sample:
    """One invoke: its latency, the Init Duration in its REPORT (None: warm), who ran it."""

    latency_ms: float
    init_ms: float | None
    init_type: str


@dataclass
class Round:
    label: str
    samples: list[Sample]
    expected_cold: int | None = None

    @property
    def cold(self) -> int:
        return sum(1 for sample in self.samples if sample.init_ms is not None)

    @property
    def ok(self) -> bool:
        return self.expected_cold is None or self.cold == self.expected_cold


@dataclass
class ProvisionedResult:
    ready_ms: float | None = None
    rounds: list[Round] = field(default_factory=list)
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None or not all(r.ok for r in self.rounds)


def parse_invoke(response: Any, began: float) -> Sample:
    latency_ms = (time.perf_counter() - began) * 1000
    init_type = json.loads(response["Payload"].read())
    log = base64.b64decode(response["LogResult"]).decode()
    report = next(line for line in reversed(log.splitlines()) if line.startswith("REPORT"))
    init_ms = None
    for part in report.split("\t"):
        if part.strip().startswith("Init Duration:"):
            init_ms = float(part.split(":")[1].split()[0])
    return Sample(latency_ms, init_ms, str(init_type))


def parallel(client: Any, qualifier: str | None, count: int) -> list[Sample]:
    """``count`` invokes released together; their samples."""
    barrier = threading.Barrier(count)
    extra = {"Qualifier": qualifier} if qualifier else {}

    def one(_: int) -> Sample:
        barrier.wait()
        began = time.perf_counter()
        response = client.invoke(
            FunctionName=FUNCTION, Payload=json.dumps({"sleep": SLEEP_S}).encode(), LogType="Tail", **extra
        )
        return parse_invoke(response, began)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(one, range(count)))


def wait_ready(client: Any, timeout_s: float = 60.0) -> float:
    """Seconds from now until the config on ``live`` is READY (polled every 10 ms)."""
    began = time.perf_counter()
    while time.perf_counter() - began < timeout_s:
        config = client.get_provisioned_concurrency_config(FunctionName=FUNCTION, Qualifier="live")
        if config["Status"] == "READY":
            return time.perf_counter() - began
        if config["Status"] == "FAILED":
            raise RuntimeError(f"provisioned concurrency FAILED: {config.get('StatusReason')}")
        time.sleep(0.01)
    raise TimeoutError(f"provisioned concurrency not READY after {timeout_s:.0f} s")


def measure(result: ProvisionedResult, url: str, rounds: int, progress: Callable[[str], None]) -> None:
    import boto3
    from botocore.config import Config

    client = boto3.client(
        "lambda",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id="x",
        aws_secret_access_key="x",
        config=Config(retries={"total_max_attempts": 1}, max_pool_connections=16, read_timeout=60),
    )
    harness.deploy(client, FUNCTION, source=SOURCE, memory_mb=1024)
    client.publish_version(FunctionName=FUNCTION)
    client.create_alias(FunctionName=FUNCTION, Name="live", FunctionVersion="1")
    progress(f"provisioned: baseline, {PROVISIONED} parallel invokes of $LATEST")
    result.rounds.append(Round(f"baseline: $LATEST, no provisioned, {PROVISIONED} parallel", []))
    result.rounds[-1].samples = parallel(client, None, PROVISIONED)
    result.rounds[-1].expected_cold = PROVISIONED
    progress(f"provisioned: PutProvisionedConcurrencyConfig(live, {PROVISIONED}) until READY")
    client.put_provisioned_concurrency_config(
        FunctionName=FUNCTION, Qualifier="live", ProvisionedConcurrentExecutions=PROVISIONED
    )
    result.ready_ms = wait_ready(client) * 1000
    progress(f"provisioned: {rounds} rounds of {PROVISIONED} parallel invokes, then {PROVISIONED + 1}")
    warm = [sample for _ in range(rounds) for sample in parallel(client, "live", PROVISIONED)]
    label = f"provisioned {PROVISIONED} on alias, {PROVISIONED} parallel (x{rounds} rounds)"
    result.rounds.append(Round(label, warm, expected_cold=0))
    spill = parallel(client, "live", PROVISIONED + 1)
    label = f"provisioned {PROVISIONED} on alias, {PROVISIONED + 1} parallel"
    result.rounds.append(Round(label, spill, expected_cold=1))


def run(quick: bool, progress: Callable[[str], None]) -> ProvisionedResult:
    """The whole benchmark; a failure is recorded in the result, not raised."""
    result = ProvisionedResult()
    with tempfile.TemporaryDirectory(prefix="flare-bench-pc-") as tmp:
        log = Path(tmp) / "flare.log"
        try:
            with harness.flare_server(Path(tmp) / "data", log) as server:
                measure(result, server.url, 3 if quick else 10, progress)
        except Exception as exc:  # any failure is reported in the section, with the server's log
            tail = "\n".join(log.read_text(errors="replace").splitlines()[-20:]) if log.exists() else ""
            result.error = f"{type(exc).__name__}: {exc}\n{tail}".strip()
    return result


def _row(r: Round) -> str:
    latencies = [s.latency_ms for s in r.samples]
    types: dict[str, int] = {}
    for sample in r.samples:
        types[sample.init_type] = types.get(sample.init_type, 0) + 1
    served = ", ".join(f"{n} {kind}" for kind, n in sorted(types.items()))
    mark = "" if r.expected_cold is None else (" ✓" if r.ok else f" ✗ (expected {r.expected_cold})")
    inits = [s.init_ms for s in r.samples if s.init_ms is not None]
    init = f"{statistics.median(inits):.1f}" if inits else "-"
    p50 = statistics.median(latencies) if latencies else 0.0
    peak = max(latencies) if latencies else 0.0
    return f"| {r.label} | {len(r.samples)} | {r.cold}{mark} | {served} | {init} | {p50:.1f} | {peak:.1f} |"


def render(result: ProvisionedResult) -> str:
    """The markdown sub-section: one row per round, then the notes."""
    lines = [
        "### Provisioned concurrency",
        "",
        "| round | invokes | cold starts (Init Duration) | served by (AWS_LAMBDA_INITIALIZATION_TYPE) "
        "| Init Duration p50 (ms) | latency p50 (ms) | latency max (ms) |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: |",
        *(_row(r) for r in result.rounds),
        "",
    ]
    if result.ready_ms is not None:
        lines.append(
            f"- PutProvisionedConcurrencyConfig → READY: {result.ready_ms:.0f} ms "
            f"({PROVISIONED} INITs of ~{INIT_SLEEP_S * 1000:.0f} ms, started in parallel)"
        )
    lines.append(
        f"- the handler sleeps {SLEEP_S * 1000:.0f} ms, so latency = {SLEEP_S * 1000:.0f} ms + overhead "
        "(+ INIT for a cold start); INIT sleeps "
        f"{INIT_SLEEP_S * 1000:.0f} ms; invokes of a round are released together by a barrier"
    )
    if result.error:
        lines.append(f"- not measured: {result.error.splitlines()[0]}")
        lines += ["", "```", *result.error.splitlines()[1:], "```"]
    return "\n".join(lines) + "\n"
