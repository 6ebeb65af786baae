"""Event source mappings through boto3: SQS and Kinesis sources feeding functions.

Functions report what they were given by sending it to a *sink* queue of the same server (the
SDK in an environment talks to Flare), so each test reads exactly what was invoked.
"""

from __future__ import annotations

import base64
import json
import signal
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.conftest import FlareServer, create_function, launch, python_function, start_process, wait_ready
from tests.signing import signed_urlopen

# Sends its event to $SINK; raises if any record's body/data is "fail"; with REPORT set, reports
# records whose body/data is "bad" as batch item failures.
REPORTER = """
import base64, json, os, time
import boto3

sqs = boto3.client("sqs")

def payload(record):
    if "kinesis" in record:
        return base64.b64decode(record["kinesis"]["data"]).decode()
    return record["body"]

def ident(record):
    return record["kinesis"]["sequenceNumber"] if "kinesis" in record else record["messageId"]

def handler(event, context):
    bodies = [payload(r) for r in event["Records"]]
    if os.environ.get("SLEEP"):
        time.sleep(float(os.environ["SLEEP"]))
    sqs.send_message(QueueUrl=os.environ["SINK"], MessageBody=json.dumps({"event": event, "bodies": bodies,
                     "start": time.time()}))
    if "fail" in bodies:
        raise RuntimeError("failing batch")
    if os.environ.get("REPORT"):
        return {"batchItemFailures": [{"itemIdentifier": ident(r)} for r in event["Records"]
                                      if payload(r) == "bad"]}
    return "ok"
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlareServer]:
    server = launch(tmp_path_factory.mktemp("esm"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def lam(server: FlareServer) -> Any:
    return server.client()


@pytest.fixture(scope="module")
def sqs(server: FlareServer) -> Any:
    return server.client("sqs")


@pytest.fixture(scope="module")
def kinesis(server: FlareServer) -> Any:
    return server.client("kinesis")


def new_queue(sqs: Any, **attributes: str) -> tuple[str, str]:
    url = sqs.create_queue(QueueName=unique("q"), Attributes=attributes)["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return str(url), str(arn)


def drain(sqs: Any, url: str, count: int, timeout: float = 20) -> list[dict[str, Any]]:
    """``count`` message bodies (JSON) from ``url``, then whatever else comes within 0.5 s."""
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    settle: float | None = None
    while time.monotonic() < (settle or deadline):
        reply = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
        for message in reply.get("Messages", []):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            found.append(json.loads(message["Body"]))
        if len(found) >= count and settle is None:
            settle = time.monotonic() + 0.5
    assert len(found) >= count, f"got {len(found)} of {count}: {found}"
    return found


def reporter(lam: Any, sink_url: str, **env: str) -> str:
    name = unique("fn")
    create_function(
        lam, name, python_function(REPORTER), Timeout=30, Environment={"Variables": {"SINK": sink_url, **env}}
    )
    return name


def wait_state(lam: Any, mapping_id: str, state: str, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        found: dict[str, Any] = lam.get_event_source_mapping(UUID=mapping_id)
        if found["State"] == state or time.monotonic() > deadline:
            assert found["State"] == state
            return found
        time.sleep(0.05)


def counts(sqs: Any, url: str) -> tuple[int, int]:
    found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(found["ApproximateNumberOfMessages"]), int(found["ApproximateNumberOfMessagesNotVisible"])


# -- SQS ---------------------------------------------------------------------------------------


def test_sqs_mapping_invokes_with_sqs_records_and_deletes_on_success(lam: Any, sqs: Any) -> None:
    sink, _ = new_queue(sqs)
    source, source_arn = new_queue(sqs)
    name = reporter(lam, sink)
    created = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=source_arn)
    assert created["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert created["State"] == "Creating"
    assert created["BatchSize"] == 10
    assert created["MaximumBatchingWindowInSeconds"] == 0
    assert created["FunctionArn"] == f"arn:aws:lambda:us-east-1:000000000000:function:{name}"
    assert created["EventSourceMappingArn"].endswith(f":event-source-mapping:{created['UUID']}")
    assert "StartingPosition" not in created
    wait_state(lam, created["UUID"], "Enabled")
    sqs.send_message(
        QueueUrl=source,
        MessageBody="hello",
        MessageAttributes={"kind": {"DataType": "String", "StringValue": "greeting"}},
    )
    (got,) = drain(sqs, sink, 1)
    (record,) = got["event"]["Records"]
    assert record["body"] == "hello"
    assert record["eventSource"] == "aws:sqs"
    assert record["eventSourceARN"] == source_arn
    assert record["awsRegion"] == "us-east-1"
    assert record["attributes"]["ApproximateReceiveCount"] == "1"
    assert set(record["attributes"]) >= {"SentTimestamp", "SenderId", "ApproximateFirstReceiveTimestamp"}
    assert record["messageAttributes"]["kind"]["stringValue"] == "greeting"
    assert record["messageAttributes"]["kind"]["dataType"] == "String"
    assert record["md5OfBody"] == "5d41402abc4b2a76b9719d911017c592"
    time.sleep(0.3)
    assert counts(sqs, source) == (0, 0)


def test_failed_batch_reappears_after_visibility_timeout_then_redrives(lam: Any, sqs: Any) -> None:
    sink, _ = new_queue(sqs)
    dlq, dlq_arn = new_queue(sqs)
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    source, source_arn = new_queue(sqs, VisibilityTimeout="1", RedrivePolicy=redrive)
    name = reporter(lam, sink)
    lam.create_event_source_mapping(FunctionName=name, EventSourceArn=source_arn)
    sqs.send_message(QueueUrl=source, MessageBody="fail")
    tries = drain(sqs, sink, 2, timeout=15)
    receive_counts = [t["event"]["Records"][0]["attributes"]["ApproximateReceiveCount"] for t in tries]
    assert receive_counts == ["1", "2"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        messages = sqs.receive_message(QueueUrl=dlq, WaitTimeSeconds=1).get("Messages", [])
        if messages:
            assert messages[0]["Body"] == "fail"
            break
    else:
        pytest.fail("the message never reached the queue's DLQ")


def test_report_batch_item_failures_deletes_all_but_the_reported(lam: Any, sqs: Any) -> None:
    sink, _ = new_queue(sqs)
    source, source_arn = new_queue(sqs, VisibilityTimeout="1")
    name = reporter(lam, sink, REPORT="1")
    lam.create_event_source_mapping(
        FunctionName=name,
        EventSourceArn=source_arn,
        BatchSize=3,
        MaximumBatchingWindowInSeconds=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
    )
    sqs.send_message_batch(
        QueueUrl=source,
        Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(["good1", "bad", "good2"])],
    )
    first, second = drain(sqs, sink, 2, timeout=15)[:2]
    assert sorted(first["bodies"]) == ["bad", "good1", "good2"]
    assert second["bodies"] == ["bad"]


def test_batch_size_and_window_gather_one_batch(lam: Any, sqs: Any) -> None:
    sink, _ = new_queue(sqs)
    source, source_arn = new_queue(sqs)
    name = reporter(lam, sink)
    mapping = lam.create_event_source_mapping(
        FunctionName=name, EventSourceArn=source_arn, BatchSize=20, MaximumBatchingWindowInSeconds=2
    )
    wait_state(lam, mapping["UUID"], "Enabled")
    for i in range(4):
        sqs.send_message_batch(
            QueueUrl=source, Entries=[{"Id": str(j), "MessageBody": f"m{i}-{j}"} for j in range(5)]
        )
        time.sleep(0.1)
    got = drain(sqs, sink, 1)
    assert [len(g["bodies"]) for g in got] == [20]


def test_maximum_concurrency_caps_concurrent_batches(lam: Any, sqs: Any) -> None:
    sink, _ = new_queue(sqs)
    source, source_arn = new_queue(sqs)
    name = reporter(lam, sink, SLEEP="0.4")
    sqs.send_message_batch(
        QueueUrl=source, Entries=[{"Id": str(i), "MessageBody": f"m{i}"} for i in range(10)]
    )
    lam.create_event_source_mapping(
        FunctionName=name, EventSourceArn=source_arn, BatchSize=1, ScalingConfig={"MaximumConcurrency": 2}
    )
    got = drain(sqs, sink, 10, timeout=30)
    starts = sorted(g["start"] for g in got)
    # at most two batches at once: any three consecutive starts span at least one sleep
    assert all(later - first >= 0.35 for first, later in zip(starts, starts[2:], strict=False))


def test_throttled_batches_stay_in_the_queue(lam: Any, sqs: Any) -> None:
    sink, _ = new_queue(sqs)
    source, source_arn = new_queue(sqs, VisibilityTimeout="1")
    name = reporter(lam, sink)
    lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=0)
    lam.create_event_source_mapping(FunctionName=name, EventSourceArn=source_arn)
    sqs.send_message(QueueUrl=source, MessageBody="held")
    time.sleep(1.5)
    visible, in_flight = counts(sqs, source)
    assert visible + in_flight == 1
    lam.delete_function_concurrency(FunctionName=name)
    (got,) = drain(sqs, sink, 1, timeout=40)
    assert got["bodies"] == ["held"]
    assert int(got["event"]["Records"][0]["attributes"]["ApproximateReceiveCount"]) >= 2


def test_disable_enable_delete_states(lam: Any, sqs: Any) -> None:
    sink, _ = new_queue(sqs)
    source, source_arn = new_queue(sqs)
    name = reporter(lam, sink)
    mapping_id = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=source_arn, Enabled=False)[
        "UUID"
    ]
    wait_state(lam, mapping_id, "Disabled")
    sqs.send_message(QueueUrl=source, MessageBody="later")
    time.sleep(0.5)
    assert counts(sqs, source) == (1, 0)
    updated = lam.update_event_source_mapping(UUID=mapping_id, Enabled=True, BatchSize=5)
    assert updated["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert updated["State"] == "Enabling"
    assert updated["BatchSize"] == 5
    wait_state(lam, mapping_id, "Enabled")
    assert drain(sqs, sink, 1)[0]["bodies"] == ["later"]
    listed = lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]
    assert [m["UUID"] for m in listed] == [mapping_id]
    assert (
        lam.list_event_source_mappings(EventSourceArn=source_arn)["EventSourceMappings"][0]["UUID"]
        == mapping_id
    )
    deleted = lam.delete_event_source_mapping(UUID=mapping_id)
    assert deleted["State"] == "Deleting"
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        try:
            lam.get_event_source_mapping(UUID=mapping_id)
        except lam.exceptions.ResourceNotFoundException:
            break
        time.sleep(0.05)
    else:
        pytest.fail("the mapping was never deleted")


@pytest.mark.parametrize(
    ("extra", "code", "fragment"),
    [
        ({"StartingPosition": "LATEST"}, "InvalidParameterValueException", "StartingPosition"),
        ({"BatchSize": 11}, "InvalidParameterValueException", "Maximum batch window"),
        ({"ParallelizationFactor": 2}, "InvalidParameterValueException", "ParallelizationFactor"),
        ({"FunctionResponseTypes": ["Nope"]}, "ValidationException", "ReportBatchItemFailures"),
    ],
)
def test_sqs_mapping_validation(lam: Any, sqs: Any, extra: dict[str, Any], code: str, fragment: str) -> None:
    sink, _ = new_queue(sqs)
    _, source_arn = new_queue(sqs)
    name = reporter(lam, sink)
    with pytest.raises(ClientError) as caught:
        lam.create_event_source_mapping(FunctionName=name, EventSourceArn=source_arn, **extra)
    assert caught.value.response["Error"]["Code"] == code
    assert fragment in caught.value.response["Error"]["Message"]


def test_duplicate_mapping_conflicts_and_missing_things_fail(lam: Any, sqs: Any) -> None:
    sink, _ = new_queue(sqs)
    _, source_arn = new_queue(sqs)
    name = reporter(lam, sink)
    first = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=source_arn)["UUID"]
    with pytest.raises(lam.exceptions.ResourceConflictException) as caught:
        lam.create_event_source_mapping(FunctionName=name, EventSourceArn=source_arn)
    assert first in caught.value.response["Error"]["Message"]
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.create_event_source_mapping(FunctionName=unique("nope"), EventSourceArn=source_arn)
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.create_event_source_mapping(
            FunctionName=name, EventSourceArn="arn:aws:sqs:us-east-1:000000000000:no-such-queue"
        )
    with pytest.raises(lam.exceptions.ResourceNotFoundException):
        lam.get_event_source_mapping(UUID=str(uuid.uuid4()))


def test_event_sources_endpoint_shows_counters(server: FlareServer, lam: Any, sqs: Any) -> None:

    sink, _ = new_queue(sqs)
    source, source_arn = new_queue(sqs)
    name = reporter(lam, sink)
    mapping_id = lam.create_event_source_mapping(FunctionName=name, EventSourceArn=source_arn)["UUID"]
    sqs.send_message(QueueUrl=source, MessageBody="counted")
    drain(sqs, sink, 1)
    with signed_urlopen(f"{server.url}/flare/v1/event-sources") as response:
        body = json.loads(response.read())
    (mine,) = [m for m in body["Mappings"] if m["UUID"] == mapping_id]
    assert mine["received"] == 1
    assert mine["succeeded"] == 1
    assert mine["State"] == "Enabled"
    assert isinstance(body["AsyncQueues"], dict)


# -- Kinesis -----------------------------------------------------------------------------------


def new_stream(kinesis: Any, shards: int = 1) -> str:
    name = unique("s")
    kinesis.create_stream(StreamName=name, ShardCount=shards)
    return str(kinesis.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"])


def put(kinesis: Any, arn: str, data: str, key: str = "k") -> str:
    return str(kinesis.put_record(StreamARN=arn, Data=data.encode(), PartitionKey=key)["SequenceNumber"])


def test_kinesis_mapping_delivers_in_shard_order(lam: Any, sqs: Any, kinesis: Any) -> None:
    sink, _ = new_queue(sqs)
    stream = new_stream(kinesis)
    name = reporter(lam, sink)
    before = put(kinesis, stream, "before")
    created = lam.create_event_source_mapping(
        FunctionName=name, EventSourceArn=stream, StartingPosition="TRIM_HORIZON", BatchSize=3
    )
    assert created["StartingPosition"] == "TRIM_HORIZON"
    assert created["ParallelizationFactor"] == 1
    assert created["MaximumRetryAttempts"] == -1
    assert created["MaximumRecordAgeInSeconds"] == -1
    assert created["BisectBatchOnFunctionError"] is False
    assert created["DestinationConfig"] == {"OnFailure": {}}
    for i in range(6):
        put(kinesis, stream, f"r{i}")
    got = drain(sqs, sink, 3)
    bodies = [body for batch in got for body in batch["bodies"]]
    assert bodies == ["before", "r0", "r1", "r2", "r3", "r4", "r5"]
    record = got[0]["event"]["Records"][0]
    assert record["kinesis"]["sequenceNumber"] == before
    assert record["kinesis"]["partitionKey"] == "k"
    assert record["eventSource"] == "aws:kinesis"
    assert record["eventName"] == "aws:kinesis:record"
    assert record["eventID"] == f"shardId-000000000000:{before}"
    assert record["eventSourceARN"] == stream
    assert lam.get_event_source_mapping(UUID=created["UUID"])["LastProcessingResult"] == "OK"


WINDOWED = """
import base64, json, os
import boto3
sqs = boto3.client("sqs")
def handler(event, context):
    new = [base64.b64decode(r["kinesis"]["data"]).decode() for r in event["Records"]]
    seen = event["state"].get("seen", []) + new
    if event["isFinalInvokeForWindow"]:
        sqs.send_message(QueueUrl=os.environ["SINK"], MessageBody=json.dumps({"seen": seen, "event": event}))
    return {"state": {"seen": seen}, "batchItemFailures": []}
"""


def test_tumbling_windows_carry_state_to_a_final_invoke(lam: Any, sqs: Any, kinesis: Any) -> None:
    sink, _ = new_queue(sqs)
    stream = new_stream(kinesis)
    name = unique("win")
    create_function(lam, name, python_function(WINDOWED), Environment={"Variables": {"SINK": sink}})
    lam.create_event_source_mapping(
        FunctionName=name,
        EventSourceArn=stream,
        StartingPosition="TRIM_HORIZON",
        BatchSize=2,
        TumblingWindowInSeconds=1,
    )
    for i in range(5):
        put(kinesis, stream, f"r{i}")
    finals: list[dict[str, Any]] = []
    deadline = time.monotonic() + 20
    while sum(len(f["seen"]) for f in finals) < 5 and time.monotonic() < deadline:
        finals += drain(sqs, sink, 1)
    # Every record reached exactly one window's final state, in order, in batches of at most 2
    # (so a window's state really was carried from one invocation to the next).
    assert [body for final in finals for body in final["seen"]] == [f"r{i}" for i in range(5)]
    assert max(len(final["seen"]) for final in finals) > 2, "a final state gathered several batches"
    for final in finals:
        event = final["event"]
        assert event["Records"] == [] and event["isFinalInvokeForWindow"] is True
        assert event["isWindowTerminatedEarly"] is False
        assert event["shardId"] == "shardId-000000000000" and event["eventSourceARN"] == stream
        start, end = (event["window"][k] for k in ("start", "end"))
        assert start.endswith("Z") and end.endswith("Z") and start < end


def test_latest_starting_position_skips_earlier_records(lam: Any, sqs: Any, kinesis: Any) -> None:
    sink, _ = new_queue(sqs)
    stream = new_stream(kinesis)
    name = reporter(lam, sink)
    put(kinesis, stream, "old")
    mapping = lam.create_event_source_mapping(
        FunctionName=name, EventSourceArn=stream, StartingPosition="LATEST"
    )
    wait_state(lam, mapping["UUID"], "Enabled")
    put(kinesis, stream, "new")
    assert [b for g in drain(sqs, sink, 1) for b in g["bodies"]] == ["new"]


def test_failing_batch_blocks_shard_until_retries_run_out(lam: Any, sqs: Any, kinesis: Any) -> None:
    sink, _ = new_queue(sqs)
    failures, failures_arn = new_queue(sqs)
    stream = new_stream(kinesis)
    name = reporter(lam, sink)
    first = put(kinesis, stream, "fail")
    put(kinesis, stream, "after")
    lam.create_event_source_mapping(
        FunctionName=name,
        EventSourceArn=stream,
        StartingPosition="TRIM_HORIZON",
        BatchSize=1,
        MaximumRetryAttempts=2,
        DestinationConfig={"OnFailure": {"Destination": failures_arn}},
    )
    got = drain(sqs, sink, 4)
    assert [g["bodies"] for g in got] == [["fail"], ["fail"], ["fail"], ["after"]]
    (info,) = drain(sqs, failures, 1)
    assert info["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["requestContext"]["approximateInvokeCount"] == 3
    assert info["responseContext"]["functionError"] == "Unhandled"
    batch = info["KinesisBatchInfo"]
    assert batch["shardId"] == "shardId-000000000000"
    assert batch["startSequenceNumber"] == batch["endSequenceNumber"] == first
    assert batch["batchSize"] == 1
    assert batch["streamArn"] == stream


def test_bisect_isolates_the_poison_record(lam: Any, sqs: Any, kinesis: Any) -> None:
    sink, _ = new_queue(sqs)
    failures, failures_arn = new_queue(sqs)
    stream = new_stream(kinesis)
    name = reporter(lam, sink)
    for body in ["a", "b", "fail", "d"]:
        put(kinesis, stream, body)
    lam.create_event_source_mapping(
        FunctionName=name,
        EventSourceArn=stream,
        StartingPosition="TRIM_HORIZON",
        BatchSize=4,
        BisectBatchOnFunctionError=True,
        MaximumRetryAttempts=0,
        DestinationConfig={"OnFailure": {"Destination": failures_arn}},
    )
    (info,) = drain(sqs, failures, 1)
    assert info["KinesisBatchInfo"]["batchSize"] == 1
    got = drain(sqs, sink, 1)
    succeeded = [g["bodies"] for g in got if "fail" not in g["bodies"]]
    assert sorted(b for batch in succeeded for b in batch) == ["a", "b", "d"]


def test_report_batch_item_failures_retries_from_the_lowest_reported(
    lam: Any, sqs: Any, kinesis: Any
) -> None:
    sink, _ = new_queue(sqs)
    failures, failures_arn = new_queue(sqs)
    stream = new_stream(kinesis)
    name = reporter(lam, sink, REPORT="1")
    put(kinesis, stream, "ok1")
    bad = put(kinesis, stream, "bad")
    put(kinesis, stream, "ok2")
    lam.create_event_source_mapping(
        FunctionName=name,
        EventSourceArn=stream,
        StartingPosition="TRIM_HORIZON",
        BatchSize=3,
        MaximumRetryAttempts=1,
        FunctionResponseTypes=["ReportBatchItemFailures"],
        DestinationConfig={"OnFailure": {"Destination": failures_arn}},
    )
    got = drain(sqs, sink, 2)
    assert [g["bodies"] for g in got] == [["ok1", "bad", "ok2"], ["bad", "ok2"]]
    (info,) = drain(sqs, failures, 1)
    assert info["KinesisBatchInfo"]["startSequenceNumber"] == bad
    assert info["KinesisBatchInfo"]["batchSize"] == 2


def test_parallelization_keeps_order_per_partition_key(lam: Any, sqs: Any, kinesis: Any) -> None:
    sink, _ = new_queue(sqs)
    stream = new_stream(kinesis)
    name = reporter(lam, sink)
    expected: dict[str, list[str]] = {}
    for i in range(30):
        key = f"key{i % 5}"
        put(kinesis, stream, f"{key}-{i}", key=key)
        expected.setdefault(key, []).append(f"{key}-{i}")
    lam.create_event_source_mapping(
        FunctionName=name,
        EventSourceArn=stream,
        StartingPosition="TRIM_HORIZON",
        BatchSize=2,
        ParallelizationFactor=4,
    )
    got = drain(sqs, sink, 1)
    while sum(len(g["bodies"]) for g in got) < 30:
        got += drain(sqs, sink, 1)
    seen: dict[str, list[str]] = {}
    for batch in sorted(got, key=lambda g: g["start"]):
        for body in batch["bodies"]:
            seen.setdefault(body.split("-")[0], []).append(body)
    assert seen == expected


@pytest.mark.parametrize(
    ("extra", "code", "fragment"),
    [
        ({}, "InvalidParameterValueException", "startingPosition"),
        (
            {"StartingPosition": "LATEST", "ParallelizationFactor": 11},
            "ValidationException",
            "less than or equal to 10",
        ),
        (
            {"StartingPosition": "LATEST", "MaximumRecordAgeInSeconds": 30},
            "InvalidParameterValueException",
            "MaximumRecordAgeInSeconds",
        ),
        (
            {"StartingPosition": "LATEST", "ScalingConfig": {"MaximumConcurrency": 5}},
            "InvalidParameterValueException",
            "ScalingConfig",
        ),
    ],
)
def test_kinesis_mapping_validation(
    lam: Any, sqs: Any, kinesis: Any, extra: dict[str, Any], code: str, fragment: str
) -> None:
    sink, _ = new_queue(sqs)
    stream = new_stream(kinesis)
    name = reporter(lam, sink)
    with pytest.raises(ClientError) as caught:
        lam.create_event_source_mapping(FunctionName=name, EventSourceArn=stream, **extra)
    assert caught.value.response["Error"]["Code"] == code
    assert fragment in caught.value.response["Error"]["Message"]


# -- crash -------------------------------------------------------------------------------------


def test_kill_9_loses_no_message_or_record(tmp_path: Path) -> None:
    server = launch(tmp_path)
    try:
        lam, sqs, kinesis = server.client(), server.client("sqs"), server.client("kinesis")
        sink, _ = new_queue(sqs)
        source, source_arn = new_queue(sqs, VisibilityTimeout="2")
        stream = new_stream(kinesis)
        name = reporter(lam, sink, SLEEP="1")
        lam.create_event_source_mapping(FunctionName=name, EventSourceArn=source_arn)
        lam.create_event_source_mapping(
            FunctionName=name, EventSourceArn=stream, StartingPosition="TRIM_HORIZON"
        )
        sqs.send_message(QueueUrl=source, MessageBody="queued")
        put(kinesis, stream, "streamed")
        time.sleep(0.6)  # both batches are in their (sleeping) function now
        server.stop(signal.SIGKILL)
        server.process = start_process(server.args)
        wait_ready(server.process, server.url)
        got = drain(sqs, sink, 2, timeout=30)
        assert {b for g in got for b in g["bodies"]} == {"queued", "streamed"}
    finally:
        server.stop()


def test_record_data_is_base64_of_what_was_put(lam: Any, sqs: Any, kinesis: Any) -> None:
    sink, _ = new_queue(sqs)
    stream = new_stream(kinesis)
    name = reporter(lam, sink)
    lam.create_event_source_mapping(FunctionName=name, EventSourceArn=stream, StartingPosition="TRIM_HORIZON")
    put(kinesis, stream, "ünïcode")
    (got,) = drain(sqs, sink, 1)
    assert base64.b64decode(got["event"]["Records"][0]["kinesis"]["data"]).decode() == "ünïcode"
