"""GET /metrics: CloudWatch-named counters in Prometheus text, fed by real invocations."""

from __future__ import annotations

import urllib.request
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import FlareServer, create_function, python_function


def metrics(flare: FlareServer) -> str:
    with urllib.request.urlopen(f"{flare.url}/metrics") as reply:
        assert reply.headers["Content-Type"].startswith("text/plain")
        return str(reply.read().decode())


def value(text: str, line_prefix: str) -> float:
    for line in text.splitlines():
        if line.startswith(line_prefix + " "):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_invocations_errors_throttles_and_durations_are_counted(flare: FlareServer, lam: Any) -> None:
    create_function(
        lam,
        "metered",
        python_function(
            "def handler(e, c):\n    if e.get('fail'):\n        raise ValueError()\n    return 1\n"
        ),
    )
    for payload in (b"{}", b"{}", b'{"fail": true}'):
        lam.invoke(FunctionName="metered", Payload=payload)
    lam.put_function_concurrency(FunctionName="metered", ReservedConcurrentExecutions=0)
    # one attempt in total, so exactly one throttled request reaches Flare
    single = boto3.client(
        "lambda",
        endpoint_url=flare.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}),
    )
    with pytest.raises(ClientError):
        single.invoke(FunctionName="metered", Payload=b"{}")
    text = metrics(flare)
    labels = '{function="metered",version="$LATEST"}'
    assert value(text, f"flare_invocations_total{labels}") == 3
    assert value(text, f"flare_errors_total{labels}") == 1
    assert value(text, 'flare_throttles_total{function="metered"}') == 1
    assert value(text, f"flare_duration_milliseconds_count{labels}") == 3
    assert (
        value(text, 'flare_duration_milliseconds_bucket{function="metered",version="$LATEST",le="+Inf"}') == 3
    )
    assert "# TYPE flare_concurrent_executions gauge" in text
    assert "# TYPE flare_event_source_received_total counter" in text
