"""``flare serve --trace FILE``: every invocation recorded, through boto3 against a real server
whose clock the test moves (``--test-clock``)."""

from __future__ import annotations

import json
import time
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from flare.observe import trace_format
from tests.conftest import create_function, launch, python_function
from tests.signing import signed_urlopen

SOURCE = """\
import time
def handler(event, context):
    if event.get("fail"):
        raise ValueError("asked to")
    time.sleep(event.get("sleep", 0))
    return "ok"
"""


def advance(url: str, seconds: float) -> None:
    request = urllib.request.Request(
        f"{url}/flare/v1/clock",
        data=json.dumps({"AdvanceSeconds": seconds}).encode(),
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with signed_urlopen(request, timeout=10) as response:
        response.read()


def invoke(lam: Any, name: str, event: dict[str, Any] | None = None, **kwargs: Any) -> dict[str, Any]:
    answer: dict[str, Any] = lam.invoke(FunctionName=name, Payload=json.dumps(event or {}), **kwargs)
    answer["Payload"].read()
    return answer


def until_recorded(path: Path, count: int, timeout: float = 15) -> None:
    """Until ``path`` holds ``count`` invocations (written while the server runs)."""
    deadline = time.monotonic() + timeout
    while path.read_bytes().count(b'"kind":"invoke"') < count:
        assert time.monotonic() < deadline, path.read_text()
        time.sleep(0.1)


def test_every_invocation_is_recorded_with_its_start_outcome_and_configuration(tmp_path: Path) -> None:
    path = tmp_path / "trace.jsonl"
    server = launch(tmp_path, "--test-clock", "--idle-timeout", "60", "--trace", str(path))
    try:
        lam = server.client()
        create_function(lam, "traced", python_function(SOURCE), MemorySize=256, Timeout=5)
        create_function(lam, "closed", python_function(SOURCE))
        create_function(lam, "slow", python_function(SOURCE), Timeout=1)
        lam.put_function_concurrency(FunctionName="closed", ReservedConcurrentExecutions=0)
        invoke(lam, "traced")  # cold
        invoke(lam, "traced")  # warm
        advance(server.url, 30)
        invoke(lam, "traced", {"fail": True})  # warm, 30 s later, a function error
        advance(server.url, 120)  # past the idle timeout: its environment shut down
        invoke(lam, "traced", InvocationType="Event")
        invoke(lam, "slow", {"sleep": 3})  # past its 1 s timeout: the environment ends
        invoke(lam, "slow")
        with pytest.raises(ClientError):
            invoke(lam, "closed")
        # the queued event runs soon; the batch with it is written a second after it
        until_recorded(path, 7)
    finally:
        server.stop()
    trace = trace_format.read(path.read_bytes().splitlines(keepends=True))
    assert trace.complete and trace.dropped == 0
    assert trace.header.idle_timeout_s == 60
    traced = [record for record in trace.records if record.function == "traced"]
    timed_out, after = [record for record in trace.records if record.function == "slow"]
    assert (timed_out.outcome, timed_out.error_type, timed_out.ended) == ("error", "Sandbox.Timedout", True)
    assert (after.start, after.ended) == ("cold", False)
    assert not any(record.ended for record in traced)
    throttles = [record for record in trace.records if record.function == "closed"]
    assert [record.start for record in traced] == ["cold", "warm", "warm", "cold"]
    assert [record.outcome for record in traced] == ["ok", "ok", "error", "ok"]
    assert [record.source for record in traced] == ["sync", "sync", "sync", "async"]
    cold = traced[0]
    assert cold.init_ms is not None and cold.init_ms > 0 and traced[1].init_ms is None
    assert cold.latency_ms is not None and cold.duration_ms is not None
    assert cold.latency_ms >= cold.init_ms + cold.duration_ms
    assert traced[2].t - traced[1].t >= 30 and traced[3].t - traced[2].t >= 120
    assert traced[2].error_type == "ValueError"
    assert (cold.memory_mb, cold.timeout_s, cold.reserved, cold.provisioned) == (256, 5, None, 0)
    assert len(throttles) == 1  # the test's client makes one attempt (total_max_attempts)
    for closed in throttles:
        assert (closed.outcome, closed.reserved, closed.start) == ("throttle", 0, None)
        assert closed.reason == "ReservedFunctionConcurrentInvocationLimitExceeded"
