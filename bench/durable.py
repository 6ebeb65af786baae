"""Durable functions: what a durable execution costs beside a plain invoke.

One ``flare serve --test-clock`` (sandboxed); two python3.13 functions at 1769 MB (one vCPU, so
the CPU model does not dominate): the main bench's hello-world, and a durable handler written
with AWS's SDK whose execution runs two steps and returns. Measured through boto3, as a user's
client would call:

- **plain invoke**: a synchronous invoke of the hello-world (warm);
- **durable, 2 steps**: a synchronous invoke of the durable function, which starts an
  execution and answers when it has SUCCEEDED: one invocation (the SDK reads its event, then
  checkpoints each step's START and SUCCEED through CheckpointDurableExecution) plus the
  store's writes;
- **resume after a wait**: an execution that waits 60 s of the engine's clock between two steps,
  the clock advanced past it: from the advance to SUCCEEDED (the timer, the re-invocation, the
  SDK's replay of the first step from its checkpoint, the second step).
"""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from bench import harness
from bench.measure import LatencyStats

PLAIN = "bench-durable-plain"
DURABLE = "bench-durable-steps"
WAITING = "bench-durable-wait"
MEMORY_MB = 1769
STEPS = """
from aws_durable_execution_sdk_python import DurableContext, durable_execution


@durable_execution
def handler(event, context: DurableContext):
    first = context.step(lambda _: 1, name="one")
    return context.step(lambda _: first + 1, name="two")
"""
WAIT = """
from aws_durable_execution_sdk_python import DurableContext, durable_execution
from aws_durable_execution_sdk_python.config import Duration


@durable_execution
def handler(event, context: DurableContext):
    first = context.step(lambda _: 1, name="one")
    context.wait(Duration.from_seconds(60), name="a-minute")
    return context.step(lambda _: first + 1, name="two")
"""
CHECKPOINTS = {
    "Version": "2012-10-17",
    "Statement": {
        "Effect": "Allow",
        "Action": ["lambda:CheckpointDurableExecution", "lambda:GetDurableExecutionState"],
        "Resource": "*",
    },
}


@dataclass
class DurableResult:
    plain: LatencyStats | None = None
    durable: LatencyStats | None = None
    resume: LatencyStats | None = None
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None


def _create(client: Any, name: str, source: str, durable: bool) -> None:
    extra: dict[str, Any] = {"DurableConfig": {"ExecutionTimeout": 3600}} if durable else {}
    client.create_function(
        FunctionName=name,
        Runtime="python3.13",
        Role=harness.ROLE,
        Handler="app.handler",
        Code={"ZipFile": harness.handler_zip(source)},
        MemorySize=MEMORY_MB,
        Timeout=30,
        **extra,
    )
    client.get_waiter("function_active_v2").wait(FunctionName=name)


def _timed(call: Callable[[], object], iterations: int, warmup: int) -> LatencyStats:
    for _ in range(warmup):
        call()
    samples = []
    for _ in range(iterations):
        start = time.perf_counter()
        call()
        samples.append(time.perf_counter() - start)
    return LatencyStats.from_seconds(samples)


def _sync(client: Any, name: str) -> Callable[[], object]:
    def invoke() -> object:
        answer = client.invoke(FunctionName=name, Payload=b"{}")
        if "FunctionError" in answer:
            raise harness.ServerError(f"{name}: {answer['Payload'].read()!r}")
        return answer["Payload"].read()

    return invoke


def _advance(url: str, seconds: float) -> None:
    """POST /flare/v1/clock, signed as boto3 signs (Flare refuses unsigned requests)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    body = json.dumps({"AdvanceSeconds": seconds}).encode()
    endpoint = f"{url}/flare/v1/clock"
    request = AWSRequest("POST", endpoint, data=body, headers={"Content-Type": "application/json"})
    SigV4Auth(Credentials("x", "x"), "lambda", "us-east-1").add_auth(request)
    prepared = urllib.request.Request(endpoint, data=body, headers=dict(request.headers), method="POST")
    with urllib.request.urlopen(prepared, timeout=10) as reply:
        reply.read()


def _resume(client: Any, url: str) -> float:
    """Seconds from the clock's advance past the wait to the execution's SUCCEEDED."""
    arn = client.invoke(FunctionName=WAITING, InvocationType="Event", Payload=b"{}")["DurableExecutionArn"]

    def kinds() -> list[str]:
        events = client.get_durable_execution_history(DurableExecutionArn=arn)["Events"]
        return [event["EventType"] for event in events]

    while not ("WaitStarted" in (found := kinds()) and found[-1] == "InvocationCompleted"):
        time.sleep(0.005)
    start = time.perf_counter()
    _advance(url, 61)
    while client.get_durable_execution(DurableExecutionArn=arn)["Status"] == "RUNNING":
        time.sleep(0.001)
    return time.perf_counter() - start


def measure(
    result: DurableResult, data_dir: Path, log: Path, iterations: int, progress: Callable[[str], None]
) -> None:
    with harness.flare_server(data_dir, log, extra_args=("--test-clock",)) as server:
        client = harness.lambda_client(server.url)
        with tempfile.NamedTemporaryFile("w", suffix=".json") as policy:
            json.dump(CHECKPOINTS, policy)
            policy.flush()
            subprocess.run(
                [
                    str(harness.FLARE_BIN),
                    "roles",
                    "put",
                    harness.ROLE,
                    policy.name,
                    "--endpoint-url",
                    server.url,
                ],
                check=True,
                capture_output=True,
                env={
                    "AWS_ACCESS_KEY_ID": "x",
                    "AWS_SECRET_ACCESS_KEY": "x",
                    "AWS_DEFAULT_REGION": "us-east-1",
                },
            )
        _create(client, PLAIN, harness.HANDLER_SOURCE, durable=False)
        _create(client, DURABLE, STEPS, durable=True)
        _create(client, WAITING, WAIT, durable=True)
        progress(f"durable: {iterations} plain and {iterations} durable synchronous invokes")
        result.plain = _timed(_sync(client, PLAIN), iterations, 10)
        result.durable = _timed(_sync(client, DURABLE), iterations, 10)
        progress(f"durable: {iterations // 4} resumptions after a wait")
        _resume(client, server.url)  # warm-up
        result.resume = LatencyStats.from_seconds(
            [_resume(client, server.url) for _ in range(iterations // 4)]
        )


def run(iterations: int, progress: Callable[[str], None]) -> DurableResult:
    result = DurableResult()
    with tempfile.TemporaryDirectory(prefix="flare-bench-durable-") as tmp:
        log = Path(tmp) / "flare.log"
        try:
            measure(result, Path(tmp) / "data", log, iterations, progress)
        except (harness.ServerError, OSError, subprocess.SubprocessError, BotoCoreError, ClientError) as exc:
            result.error = f"{type(exc).__name__}: {exc}"
            if log.exists():
                tail = "\n".join(log.read_text(errors="replace").splitlines()[-30:])
                result.error += f"\n--- flare log (last 30 lines) ---\n{tail}"
    return result


def render(result: DurableResult) -> str:
    lines = ["", "### Durable functions (python3.13, 1769 MB, boto3 client)", ""]
    if result.error is not None:
        return "\n".join([*lines, f"not measured: {result.error}", ""])
    lines += ["| measurement | n | p50 (ms) | p99 (ms) | mean (ms) |", "| --- | ---: | ---: | ---: | ---: |"]
    for label, stats in (
        ("plain invoke (warm)", result.plain),
        ("durable invoke, 2 steps, to SUCCEEDED", result.durable),
        ("resume after a wait (advance → SUCCEEDED)", result.resume),
    ):
        if stats is not None:
            lines.append(
                f"| {label} | {stats.count} | {stats.p50_ms:.2f} | {stats.p99_ms:.2f} | {stats.mean_ms:.2f} |"
            )
    lines += [
        "",
        "- durable invoke: one invocation whose SDK checkpoints START and SUCCEED of two steps; "
        "resume: clock advanced past a 60 s wait, polled every 1 ms until SUCCEEDED",
        "- the SDK (3.0.0) itself ends an invocation only when its checkpoint thread sees the stop "
        "signal, which it polls every 0.1 s (`_STOP_SIGNAL_POLL_SECONDS`): ~100 ms of each "
        "durable invocation is the SDK's, on Lambda too",
        "",
    ]
    return "\n".join(lines)
