"""SnapStart benchmark: restore-based cold starts against the same function's INIT cold starts.

Two functions, as the SnapStart issue asks: ``slow-init`` (imports plus a 1 s sleep in INIT, the
seed's "Java without SnapStart" in miniature) and ``sdk-init`` (imports boto3 and makes two
clients). For each, in one run of one server (``--idle-timeout`` short, so every timed invoke
needs a new environment):

- **restore cold start**: an invoke of the published SnapStart version after its previous
  environment was shut down: the client-observed latency, and REPORT's Restore Duration;
- **INIT cold start**: an invoke of ``$LATEST`` (which never uses a snapshot) after a
  configuration change forced a new environment;

both timed with the raw keep-alive HTTP client of the main benchmark (``measure.Connection``,
send to last byte, the connection opened before the clock starts), so the figures are the
engine's and not boto3's own request signing and parsing;
- **memory**: the proportional set size (PSS) of a restored runtime process against a fresh one,
  with four environments alive at once, read by the handler from ``/proc/self/smaps_rollup``.
"""

from __future__ import annotations

import base64
import json
import re
import statistics
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench import harness, measure

IDLE_TIMEOUT_S = 0.2
SETTLE_S = 0.6
"""Wait after an invoke for its environment to be shut down (idle timeout plus SHUTDOWN)."""

PSS_PROBE = """
def _pss_kb():
    with open("/proc/self/smaps_rollup") as rollup:
        for line in rollup:
            if line.startswith("Pss:"):
                return int(line.split()[1])
    return 0
"""

FUNCTIONS = {
    "slow-init": "import json, decimal, email.parser, http.client\nimport time\ntime.sleep(1)\n",
    "sdk-init": "import boto3\nS3 = boto3.client('s3')\nDDB = boto3.client('dynamodb')\n",
}
HANDLER = """
def handler(event, context):
    import time
    if event.get("hold"):
        time.sleep(event["hold"])
    return {"ok": True, "pss_kb": _pss_kb() if event.get("pss") else None}
"""


@dataclass
class FunctionResult:
    name: str
    restore: list[float] = field(default_factory=list)
    restore_reported: list[float] = field(default_factory=list)
    init_cold: list[float] = field(default_factory=list)
    pss_restored_kb: float = 0.0
    pss_fresh_kb: float = 0.0
    error: str = ""


def _zip(source: str) -> bytes:
    import io
    import zipfile

    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("app.py", source + PSS_PROBE + HANDLER)
    return buffer.getvalue()


def _restore_ms(log: str) -> float | None:
    match = re.search(r"Restore Duration: ([0-9.]+) ms", log)
    return float(match.group(1)) if match else None


def _timed_invoke(endpoint: measure.Endpoint) -> tuple[float, str]:
    """Milliseconds from send to the last byte of one invoke, and its log tail."""
    with measure.Connection(endpoint) as connection:
        started = time.perf_counter()
        response = connection.invoke()
        elapsed = (time.perf_counter() - started) * 1000
    measure.check_ok(response)
    return elapsed, base64.b64decode(response.headers.get("x-amz-log-result", "")).decode()


def _measure(
    client: Any, server: harness.Server, name: str, samples: int, init_samples: int
) -> FunctionResult:
    result = FunctionResult(name)
    client.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role="arn:aws:iam::000000000000:role/bench",
        Handler="app.handler",
        Code={"ZipFile": _zip(FUNCTIONS[name])},
        MemorySize=1024,
        Timeout=30,
        SnapStart={"ApplyOn": "PublishedVersions"},
    )
    version = client.publish_version(FunctionName=name)["Version"]
    while client.get_function_configuration(FunctionName=name, Qualifier=version)["State"] == "Pending":
        time.sleep(0.05)
    qualified = f"{name}:{version}"
    for _ in range(samples):
        elapsed, log = _timed_invoke(measure.Endpoint(server.host, server.port, qualified, log_tail=True))
        reported = _restore_ms(log)
        if reported is not None:
            result.restore.append(elapsed)
            result.restore_reported.append(reported)
        time.sleep(SETTLE_S)
    for i in range(init_samples):
        client.update_function_configuration(FunctionName=name, Environment={"Variables": {"BUMP": str(i)}})
        client.get_waiter("function_updated_v2").wait(FunctionName=name)
        elapsed, log = _timed_invoke(measure.Endpoint(server.host, server.port, name, log_tail=True))
        if "Init Duration" in log:
            result.init_cold.append(elapsed)
    result.pss_restored_kb = _pss(client, qualified)
    result.pss_fresh_kb = _pss(client, name)
    return result


def _pss(client: Any, name: str, environments: int = 4) -> float:
    """Mean PSS of ``environments`` runtime processes alive at once (each holds its invoke)."""
    time.sleep(SETTLE_S)

    def one(_: int) -> int:
        reply = client.invoke(FunctionName=name, Payload=json.dumps({"hold": 0.8, "pss": True}).encode())
        return int(json.loads(reply["Payload"].read())["pss_kb"])

    with ThreadPoolExecutor(environments) as pool:
        return statistics.mean(pool.map(one, range(environments)))


@dataclass
class SnapStartResult:
    functions: list[FunctionResult] = field(default_factory=list)
    error: str = ""

    @property
    def failed(self) -> bool:
        return bool(self.error) or any(f.error or not f.restore for f in self.functions)


def run(quick: bool, progress: Callable[[str], None]) -> SnapStartResult:
    """Start one server with a short idle timeout and measure both functions."""
    samples, init_samples = (10, 3) if quick else (30, 8)
    result = SnapStartResult()
    with tempfile.TemporaryDirectory(prefix="flare-bench-snap-") as tmp:
        log_path = Path(tmp) / "flare.log"
        try:
            with harness.flare_server(
                Path(tmp) / "data", log_path, extra_args=("--idle-timeout", str(IDLE_TIMEOUT_S))
            ) as server:
                client = harness.lambda_client(server.url)
                for name in FUNCTIONS:
                    progress(f"snapstart: {name} ({samples} restores, {init_samples} INIT cold starts)")
                    try:
                        result.functions.append(_measure(client, server, name, samples, init_samples))
                    except Exception as error:
                        result.functions.append(FunctionResult(name, error=repr(error)))
        except (harness.ServerError, OSError, measure.InvokeError) as error:
            result.error = repr(error)
    return result


def _p(values: list[float], q: float) -> str:
    return f"{measure.percentile(values, q):.2f}" if values else "-"


def render(result: SnapStartResult) -> str:
    lines = [
        "",
        "### SnapStart: restore cold start vs INIT cold start (same function, same run)",
        "",
        "Targets: restore cold start p50 ≤ 5 ms, p99 ≤ 15 ms through the public API.",
        "",
        "| function | restore p50 (ms) | restore p99 (ms) | REPORT Restore Duration p50 (ms) "
        "| INIT cold start p50 (ms) | speed-up (p50) | PSS restored (MB) | PSS fresh (MB) |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for f in result.functions:
        if f.error:
            lines.append(f"| {f.name} | not measured: {f.error[:120]} |||||||")
            continue
        speedup = (
            f"{statistics.median(f.init_cold) / statistics.median(f.restore):.0f}x"
            if f.init_cold and f.restore
            else "-"
        )
        lines.append(
            f"| {f.name} | {_p(f.restore, 50)} | {_p(f.restore, 99)} | {_p(f.restore_reported, 50)} "
            f"| {_p(f.init_cold, 50)} | {speedup} "
            f"| {f.pss_restored_kb / 1024:.1f} | {f.pss_fresh_kb / 1024:.1f} |"
        )
    if result.error:
        lines.append(f"\nnot measured: {result.error}")
    lines.append(
        "\nTimed with the raw keep-alive HTTP client of the main table (send to last byte), not "
        "boto3. Restores are counted only when REPORT shows a Restore Duration; PSS is the runtime "
        "process's own (the template's pages it shares copy-on-write count once per sharer)."
    )
    return "\n".join(lines) + "\n"
