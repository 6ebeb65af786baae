"""The embedded CloudWatch Logs service through boto3's ``logs`` client against a real server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.conftest import FlareServer, create_function, python_function
from tests.roles import attach_policy


@pytest.fixture(scope="module")
def logs(flare: FlareServer) -> Any:
    return flare.client("logs")


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def now_ms() -> int:
    return int(time.time() * 1000)


def error_of(call: Any, **kwargs: Any) -> dict[str, Any]:
    with pytest.raises(ClientError) as caught:
        call(**kwargs)
    return dict(caught.value.response["Error"]) | {
        "status": caught.value.response["ResponseMetadata"]["HTTPStatusCode"]
    }


def group_with_stream(logs: Any, events: list[tuple[int, str]] | None = None) -> tuple[str, str]:
    group, stream = unique("/test/group"), "stream-a"
    logs.create_log_group(logGroupName=group)
    logs.create_log_stream(logGroupName=group, logStreamName=stream)
    if events:
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": t, "message": m} for t, m in events],
        )
    return group, stream


def test_create_describe_and_delete_a_log_group(logs: Any) -> None:
    group = unique("/test/describe")
    logs.create_log_group(logGroupName=group)
    found = logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"]
    assert [g["logGroupName"] for g in found] == [group]
    assert found[0]["arn"].endswith(f":log-group:{group}:*")
    assert found[0]["logGroupArn"] == found[0]["arn"][:-2]
    assert "retentionInDays" not in found[0]
    assert found[0]["storedBytes"] == 0
    logs.delete_log_group(logGroupName=group)
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"] == []


def test_semantic_errors_have_cloudwatchs_names_and_messages(logs: Any) -> None:
    group = unique("/test/errors")
    missing = error_of(logs.delete_log_group, logGroupName=group)
    assert missing == {
        "Code": "ResourceNotFoundException",
        "Message": "The specified log group does not exist.",
        "status": 400,
    }
    logs.create_log_group(logGroupName=group)
    exists = error_of(logs.create_log_group, logGroupName=group)
    assert exists["Code"] == "ResourceAlreadyExistsException"
    no_stream = error_of(logs.get_log_events, logGroupName=group, logStreamName="nope")
    assert no_stream["Message"] == "The specified log stream does not exist."
    retention = error_of(logs.put_retention_policy, logGroupName=group, retentionInDays=2)
    assert retention["Code"] == "InvalidParameterException"
    assert "Member must satisfy enum value set: [1, 3, 5, 7, 14" in retention["Message"]
    with pytest.raises(logs.exceptions.ResourceNotFoundException):
        logs.create_log_stream(logGroupName=unique("/test/none"), logStreamName="s")


def test_retention_policy_is_shown_and_removed(logs: Any) -> None:
    group = unique("/test/retention")
    logs.create_log_group(logGroupName=group)
    logs.put_retention_policy(logGroupName=group, retentionInDays=7)
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]["retentionInDays"] == 7
    logs.delete_retention_policy(logGroupName=group)
    assert "retentionInDays" not in logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"][0]


def test_put_then_get_log_events_with_both_tokens(logs: Any) -> None:
    base = now_ms() - 10_000
    group, stream = group_with_stream(logs, [(base + i, f"line {i}") for i in range(5)])
    head = logs.get_log_events(logGroupName=group, logStreamName=stream, startFromHead=True, limit=2)
    assert [e["message"] for e in head["events"]] == ["line 0", "line 1"]
    second = logs.get_log_events(
        logGroupName=group, logStreamName=stream, nextToken=head["nextForwardToken"], limit=2
    )
    assert [e["message"] for e in second["events"]] == ["line 2", "line 3"]
    third = logs.get_log_events(
        logGroupName=group, logStreamName=stream, nextToken=second["nextForwardToken"], limit=2
    )
    assert [e["message"] for e in third["events"]] == ["line 4"]
    end = logs.get_log_events(logGroupName=group, logStreamName=stream, nextToken=third["nextForwardToken"])
    assert end["events"] == [] and end["nextForwardToken"] == third["nextForwardToken"]
    tail = logs.get_log_events(logGroupName=group, logStreamName=stream, limit=2)
    assert [e["message"] for e in tail["events"]] == ["line 3", "line 4"]
    back = logs.get_log_events(
        logGroupName=group, logStreamName=stream, nextToken=tail["nextBackwardToken"], limit=2
    )
    assert [e["message"] for e in back["events"]] == ["line 1", "line 2"]
    ranged = logs.get_log_events(
        logGroupName=group, logStreamName=stream, startTime=base + 1, endTime=base + 3, startFromHead=True
    )
    assert [e["message"] for e in ranged["events"]] == ["line 1", "line 2"]


def test_multiline_messages_survive_storage(logs: Any) -> None:
    group, stream = group_with_stream(logs, [(now_ms(), "first\nsecond\ttabbed")])
    events = logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]
    assert [e["message"] for e in events] == ["first\nsecond\ttabbed"]


def test_put_log_events_rejects_unordered_and_reports_too_old(logs: Any) -> None:
    group, stream = group_with_stream(logs)
    now = now_ms()
    unordered = error_of(
        logs.put_log_events,
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": now, "message": "b"}, {"timestamp": now - 5, "message": "a"}],
    )
    assert unordered["Code"] == "InvalidParameterException"
    old = now - 15 * 86_400_000
    answer = logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": old, "message": "ancient"}, {"timestamp": old + 1, "message": "ancient"}],
    )
    assert answer["rejectedLogEventsInfo"] == {"tooOldLogEventEndIndex": 1}
    logs.put_log_events(
        logGroupName=group, logStreamName=stream, logEvents=[{"timestamp": now, "message": "fresh"}]
    )
    events = logs.get_log_events(logGroupName=group, logStreamName=stream)["events"]
    assert [e["message"] for e in events] == ["fresh"]


def test_describe_log_streams_orders_and_pages(logs: Any) -> None:
    group = unique("/test/streams")
    logs.create_log_group(logGroupName=group)
    now = now_ms()
    for name, offset in (("b", 300), ("a", 100), ("c", 200)):
        logs.create_log_stream(logGroupName=group, logStreamName=name)
        logs.put_log_events(
            logGroupName=group,
            logStreamName=name,
            logEvents=[{"timestamp": now - 1000 + offset, "message": name}],
        )
    by_name = logs.describe_log_streams(logGroupName=group)["logStreams"]
    assert [s["logStreamName"] for s in by_name] == ["a", "b", "c"]
    assert by_name[0]["lastEventTimestamp"] == now - 900
    latest = logs.describe_log_streams(logGroupName=group, orderBy="LastEventTime", descending=True)
    assert [s["logStreamName"] for s in latest["logStreams"]] == ["b", "c", "a"]
    first = logs.describe_log_streams(logGroupName=group, limit=2)
    assert [s["logStreamName"] for s in first["logStreams"]] == ["a", "b"]
    rest = logs.describe_log_streams(logGroupName=group, limit=2, nextToken=first["nextToken"])
    assert [s["logStreamName"] for s in rest["logStreams"]] == ["c"] and "nextToken" not in rest
    prefixed = error_of(
        logs.describe_log_streams, logGroupName=group, orderBy="LastEventTime", logStreamNamePrefix="a"
    )
    assert prefixed["Code"] == "InvalidParameterException"


def test_filter_log_events_patterns_streams_and_pages(logs: Any) -> None:
    group = unique("/test/filter")
    logs.create_log_group(logGroupName=group)
    now = now_ms() - 5000
    lines = {
        "one": ["ERROR disk full", "INFO all good", '{"level": "WARN", "code": 503}'],
        "two": ["WARN slow", "ERROR timeout", '{"level": "ERROR", "code": 500}'],
    }
    for stream, written in lines.items():
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
        logs.put_log_events(
            logGroupName=group,
            logStreamName=stream,
            logEvents=[{"timestamp": now + i * 10, "message": m} for i, m in enumerate(written)],
        )

    def messages(**kwargs: Any) -> list[str]:
        return [e["message"] for e in logs.filter_log_events(logGroupName=group, **kwargs)["events"]]

    assert messages(filterPattern="ERROR") == [
        "ERROR disk full",
        "ERROR timeout",
        '{"level": "ERROR", "code": 500}',
    ]
    assert messages(filterPattern="?WARN ?INFO -level") == ["WARN slow", "INFO all good"]
    assert messages(filterPattern='"disk full"') == ["ERROR disk full"]
    assert messages(filterPattern="{ $.code >= 501 }") == ['{"level": "WARN", "code": 503}']
    assert messages(filterPattern='{ $.level = "ERR*" }') == ['{"level": "ERROR", "code": 500}']
    assert messages(logStreamNames=["two"], filterPattern="ERROR") == [
        "ERROR timeout",
        '{"level": "ERROR", "code": 500}',
    ]
    assert messages(startTime=now + 10, endTime=now + 20) == ["INFO all good", "ERROR timeout"]
    page = logs.filter_log_events(logGroupName=group, limit=4)
    assert len(page["events"]) == 4 and page["searchedLogStreams"] == []
    rest = logs.filter_log_events(logGroupName=group, limit=4, nextToken=page["nextToken"])
    assert len(rest["events"]) == 2 and "nextToken" not in rest
    ids = {e["eventId"] for e in page["events"] + rest["events"]}
    assert len(ids) == 6
    bad = error_of(logs.filter_log_events, logGroupName=group, filterPattern="{ $.code >= }")
    assert bad["Code"] == "InvalidParameterException"


def test_a_functions_logs_are_its_log_group_with_a_stream_per_environment(lam: Any, logs: Any) -> None:
    name = unique("logged")
    create_function(
        lam, name, python_function("def handler(e, c):\n    print('hello from', e)\n    return 1\n")
    )
    for n in range(2):
        lam.invoke(FunctionName=name, Payload=json.dumps(n))
    group = f"/aws/lambda/{name}"
    streams = _wait_for(lambda: logs.describe_log_streams(logGroupName=group)["logStreams"])
    assert len(streams) == 1
    assert streams[0]["logStreamName"].startswith(time.strftime("%Y/%m/%d/[$LATEST]", time.gmtime()))
    assert len(streams[0]["logStreamName"].split("]")[1]) == 32
    messages = _wait_for(
        lambda: [
            e["message"]
            for e in logs.filter_log_events(logGroupName=group)["events"]
            if e["message"].startswith(("START", "END", "REPORT", "hello"))
        ],
        until=lambda found: len(found) == 8,
    )
    assert [m.split(" ")[0] for m in messages] == ["START", "hello", "END", "REPORT"] * 2
    lam.delete_function(FunctionName=name)
    assert logs.describe_log_groups(logGroupNamePrefix=group)["logGroups"], "logs outlive the function"


def test_a_function_writes_its_own_logs_with_boto3(flare: FlareServer, lam: Any, logs: Any) -> None:
    group = unique("/custom/app")
    source = f"""
import boto3, time
def handler(event, context):
    client = boto3.client("logs")
    client.create_log_group(logGroupName="{group}")
    client.create_log_stream(logGroupName="{group}", logStreamName="mine")
    client.put_log_events(logGroupName="{group}", logStreamName="mine",
        logEvents=[{{"timestamp": int(time.time() * 1000), "message": "written by the function"}}])
    return "ok"
"""
    name = unique("writer")
    role = f"arn:aws:iam::000000000000:role/{name}"  # a group of its own is beyond the default policy
    attach_policy(flare.url, role, {"Statement": {"Effect": "Allow", "Action": "logs:*", "Resource": "*"}})
    create_function(lam, name, python_function(source), Role=role, Timeout=30)
    answer = lam.invoke(FunctionName=name)
    assert answer.get("FunctionError") is None, answer["Payload"].read()
    events = logs.get_log_events(logGroupName=group, logStreamName="mine")["events"]
    assert [e["message"] for e in events] == ["written by the function"]


def _wait_for(read: Any, until: Any = bool, timeout: float = 10.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = read()
        if until(found) or time.monotonic() > deadline:
            return found
        time.sleep(0.05)


def _arn(name: str) -> str:
    return f"arn:aws:logs:us-east-1:000000000000:log-group:/aws/lambda/{name}"


def _logged_function(lam: Any) -> str:
    name = unique("tailed")
    create_function(lam, name, python_function("def handler(e, c):\n    print('tail me')\n    return 1\n"))
    lam.invoke(FunctionName=name)  # the log group exists from the first invoke on, as on Lambda
    return name


def test_start_live_tail_streams_new_lines_to_boto3(flare: FlareServer, lam: Any) -> None:
    name = _logged_function(lam)
    client = boto3.client(
        "logs",
        endpoint_url=flare.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}, read_timeout=10, inject_host_prefix=False),
    )
    response = client.start_live_tail(
        logGroupIdentifiers=[_arn(name)], logEventFilterPattern="?START ?REPORT"
    )
    seen: list[str] = []
    events = iter(response["responseStream"])
    start = next(events)["sessionStart"]
    assert start["logGroupIdentifiers"] == [_arn(name)] and start["sessionId"]
    lam.invoke(FunctionName=name)
    deadline = time.monotonic() + 10
    while not any(line.startswith("REPORT") for line in seen) and time.monotonic() < deadline:
        update = next(events)["sessionUpdate"]
        assert update["sessionMetadata"] == {"sampled": False}
        seen += [result["message"] for result in update["sessionResults"]]
    response["responseStream"].close()
    assert [line.split(" ")[0] for line in seen] == ["START", "REPORT"], "only what came after the start"


def test_start_live_tail_on_a_missing_group_is_resource_not_found(flare: FlareServer) -> None:
    client = boto3.client(
        "logs",
        endpoint_url=flare.url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}, inject_host_prefix=False),
    )
    with pytest.raises(client.exceptions.ResourceNotFoundException):
        client.start_live_tail(logGroupIdentifiers=[_arn(unique("nobody"))])


AWS_CLI = Path(sys.prefix) / "bin" / "aws"


def test_aws_cli_start_live_tail_shows_start_end_report_as_the_function_runs(
    flare: FlareServer, lam: Any
) -> None:
    """The AWS CLI v1's follow mode: ``aws logs start-live-tail`` (``aws logs tail`` is v2 only)."""
    name = _logged_function(lam)
    env = dict(
        os.environ,
        AWS_ACCESS_KEY_ID="test",
        AWS_SECRET_ACCESS_KEY="test",
        AWS_DEFAULT_REGION="us-east-1",
        AWS_DISABLE_HOST_PREFIX_INJECTION="true",
    )
    process = subprocess.Popen(
        [
            str(AWS_CLI),
            "logs",
            "start-live-tail",
            "--endpoint-url",
            flare.url,
            "--log-group-identifiers",
            _arn(name),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env=env,
    )
    lines: list[str] = []
    try:
        time.sleep(1.5)  # the CLI's session is open before the invoke
        request_id = lam.invoke(FunctionName=name)["ResponseMetadata"]["RequestId"]
        assert process.stdout is not None
        deadline = time.monotonic() + 15
        while not any(line.startswith("REPORT") for line in lines) and time.monotonic() < deadline:
            lines.append(process.stdout.readline().rstrip("\n"))
    finally:
        process.terminate()
        process.wait(10)
    assert f"START RequestId: {request_id} Version: $LATEST" in lines
    assert "tail me" in lines
    assert f"END RequestId: {request_id}" in lines
    assert any(line.startswith(f"REPORT RequestId: {request_id}\tDuration: ") for line in lines)


def _aws_cli_v2() -> str | None:
    """An AWS CLI v2 on PATH (Debian's ``awscli`` package is v2), or None."""
    for candidate in ("/usr/bin/aws", "/usr/local/bin/aws"):
        if Path(candidate).exists():
            version = subprocess.run([candidate, "--version"], capture_output=True, text=True, timeout=30)
            if version.stdout.startswith("aws-cli/2."):
                return candidate
    return None


@pytest.mark.skipif(_aws_cli_v2() is None, reason="needs the AWS CLI v2 (apt-get install awscli)")
def test_aws_cli_v2_logs_tail_follow_shows_start_end_report_as_the_function_runs(
    flare: FlareServer, lam: Any
) -> None:
    name = _logged_function(lam)
    env = dict(
        os.environ, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test", AWS_DEFAULT_REGION="us-east-1"
    )
    command = [
        str(_aws_cli_v2()),
        "logs",
        "tail",
        f"/aws/lambda/{name}",
        "--follow",
        "--endpoint-url",
        flare.url,
    ]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)
    lines: list[str] = []
    try:
        time.sleep(2)  # tail has read what was there
        request_id = lam.invoke(FunctionName=name)["ResponseMetadata"]["RequestId"]
        assert process.stdout is not None
        deadline = time.monotonic() + 20
        while (
            not any(f"REPORT RequestId: {request_id}" in line for line in lines)
            and time.monotonic() < deadline
        ):
            lines.append(process.stdout.readline().rstrip("\n"))
    finally:
        process.terminate()
        process.wait(10)
    mine = [line.split(" ", 2)[2] for line in lines if request_id in line]
    assert mine[0] == f"START RequestId: {request_id} Version: $LATEST"
    assert f"END RequestId: {request_id}" in mine
    assert any(line.startswith(f"REPORT RequestId: {request_id}") for line in mine)
