"""The embedded SQS and Kinesis services through unchanged boto3 clients against ``flare serve``:
queues with visibility, redrive, long polls and batches; streams with per-shard order and every
iterator type; and nothing acknowledged lost across a restart or a ``kill -9``."""

from __future__ import annotations

import hashlib
import json
import signal
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from tests.conftest import FlareServer, launch


@pytest.fixture(scope="module")
def sqs(flare: FlareServer) -> Any:
    return flare.client("sqs")


@pytest.fixture(scope="module")
def kinesis(flare: FlareServer) -> Any:
    return flare.client("kinesis")


def new_queue(sqs: Any, name: str, **attributes: str) -> str:
    return str(sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"])


def counts(sqs: Any, url: str) -> tuple[int, int, int]:
    found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return (
        int(found["ApproximateNumberOfMessages"]),
        int(found["ApproximateNumberOfMessagesNotVisible"]),
        int(found["ApproximateNumberOfMessagesDelayed"]),
    )


def test_queue_urls_name_the_flare_endpoint_account_and_queue(sqs: Any, flare: FlareServer) -> None:
    url = new_queue(sqs, "urls")
    assert url == f"{flare.url}/000000000000/urls"
    assert sqs.get_queue_url(QueueName="urls")["QueueUrl"] == url
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    assert arn == "arn:aws:sqs:us-east-1:000000000000:urls"


def test_send_receive_delete_round_trip_with_digests_and_attributes(sqs: Any) -> None:
    url = new_queue(sqs, "round-trip")
    attributes = {
        "kind": {"DataType": "String", "StringValue": "order"},
        "size": {"DataType": "Number", "StringValue": "3"},
        "raw": {"DataType": "Binary", "BinaryValue": b"\x00\xff"},
    }
    sent = sqs.send_message(QueueUrl=url, MessageBody="héllo", MessageAttributes=attributes)
    assert sent["MD5OfMessageBody"] == hashlib.md5("héllo".encode()).hexdigest()
    [message] = sqs.receive_message(
        QueueUrl=url, MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"]
    )["Messages"]
    assert message["MessageId"] == sent["MessageId"]
    assert message["Body"] == "héllo"
    assert message["MessageAttributes"] == attributes
    assert message["MD5OfMessageAttributes"] == sent["MD5OfMessageAttributes"]
    assert message["Attributes"]["ApproximateReceiveCount"] == "1"
    assert abs(int(message["Attributes"]["SentTimestamp"]) / 1000 - time.time()) < 60
    sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert counts(sqs, url) == (0, 0, 0)


def test_unknown_queue_is_reported_with_sqs_error_code(sqs: Any, flare: FlareServer) -> None:
    with pytest.raises(sqs.exceptions.QueueDoesNotExist) as caught:
        sqs.get_queue_url(QueueName="missing")
    assert caught.value.response["Error"]["Code"] == "AWS.SimpleQueueService.NonExistentQueue"
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(QueueUrl=f"{flare.url}/000000000000/missing", MessageBody="x")


def test_an_unreceived_visibility_timeout_returns_the_message(sqs: Any) -> None:
    url = new_queue(sqs, "visibility", VisibilityTimeout="1")
    sqs.send_message(QueueUrl=url, MessageBody="m")
    [first] = sqs.receive_message(QueueUrl=url)["Messages"]
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    assert counts(sqs, url) == (0, 1, 0)
    time.sleep(1.1)
    [again] = sqs.receive_message(QueueUrl=url, MessageSystemAttributeNames=["ApproximateReceiveCount"])[
        "Messages"
    ]
    assert again["MessageId"] == first["MessageId"]
    assert again["ReceiptHandle"] != first["ReceiptHandle"]
    assert again["Attributes"] == {"ApproximateReceiveCount": "2"}


def test_change_message_visibility_zero_returns_the_message_now(sqs: Any) -> None:
    url = new_queue(sqs, "change-visibility")
    sqs.send_message(QueueUrl=url, MessageBody="m")
    [message] = sqs.receive_message(QueueUrl=url)["Messages"]
    sqs.change_message_visibility(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
    assert len(sqs.receive_message(QueueUrl=url)["Messages"]) == 1


def test_message_moves_to_dead_letter_queue_after_max_receive_count(sqs: Any) -> None:
    dlq = new_queue(sqs, "redrive-dlq")
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": "2"})
    url = new_queue(sqs, "redrive-source", RedrivePolicy=policy)
    sent = sqs.send_message(QueueUrl=url, MessageBody="poison")
    for _ in range(2):
        assert len(sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)["Messages"]) == 1
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    [dead] = sqs.receive_message(QueueUrl=dlq, MessageSystemAttributeNames=["All"])["Messages"]
    assert dead["MessageId"] == sent["MessageId"]
    assert dead["Attributes"]["DeadLetterQueueSourceArn"].endswith(":redrive-source")
    stored = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["RedrivePolicy"])["Attributes"]
    assert json.loads(stored["RedrivePolicy"]) == {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 2}
    assert sqs.list_dead_letter_source_queues(QueueUrl=dlq)["queueUrls"] == [url]


def test_long_poll_wakes_early_when_a_message_is_sent(sqs: Any, flare: FlareServer) -> None:
    url = new_queue(sqs, "long-poll")
    sender = flare.client("sqs")
    timer = threading.Timer(0.5, lambda: sender.send_message(QueueUrl=url, MessageBody="wake"))
    started = time.monotonic()
    timer.start()
    try:
        response = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=10)
    finally:
        timer.join()
    elapsed = time.monotonic() - started
    assert [m["Body"] for m in response["Messages"]] == ["wake"]
    assert 0.4 < elapsed < 5


def test_long_poll_with_nothing_sent_ends_after_its_wait(sqs: Any) -> None:
    url = new_queue(sqs, "long-poll-empty", ReceiveMessageWaitTimeSeconds="1")
    started = time.monotonic()
    assert "Messages" not in sqs.receive_message(QueueUrl=url)
    assert 0.9 < time.monotonic() - started < 5


def test_batch_send_receive_change_and_delete(sqs: Any) -> None:
    url = new_queue(sqs, "batch")
    entries = [{"Id": f"m{i}", "MessageBody": f"body {i}"} for i in range(9)]
    entries.append({"Id": "bad", "MessageBody": "nul \x00 char"})
    sent = sqs.send_message_batch(QueueUrl=url, Entries=entries)
    assert sorted(s["Id"] for s in sent["Successful"]) == sorted(f"m{i}" for i in range(9))
    assert [(f["Id"], f["Code"], f["SenderFault"]) for f in sent["Failed"]] == [
        ("bad", "InvalidMessageContents", True)
    ]
    received = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in received) == sorted(f"body {i}" for i in range(9))
    handles = [{"Id": f"h{i}", "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(received)]
    changed = sqs.change_message_visibility_batch(
        QueueUrl=url, Entries=[{**h, "VisibilityTimeout": 60} for h in handles]
    )
    assert len(changed["Successful"]) == 9
    deleted = sqs.delete_message_batch(
        QueueUrl=url, Entries=[*handles, {"Id": "junk", "ReceiptHandle": "not-a-handle"}]
    )
    assert len(deleted["Successful"]) == 9
    assert [(f["Id"], f["Code"]) for f in deleted["Failed"]] == [("junk", "ReceiptHandleIsInvalid")]
    assert counts(sqs, url) == (0, 0, 0)


def test_batch_with_too_many_or_duplicate_entries_is_refused(sqs: Any) -> None:
    url = new_queue(sqs, "batch-limits")
    too_many = [{"Id": f"m{i}", "MessageBody": "x"} for i in range(11)]
    with pytest.raises(sqs.exceptions.TooManyEntriesInBatchRequest) as caught:
        sqs.send_message_batch(QueueUrl=url, Entries=too_many)
    assert caught.value.response["Error"]["Code"] == "AWS.SimpleQueueService.TooManyEntriesInBatchRequest"
    with pytest.raises(sqs.exceptions.BatchEntryIdsNotDistinct):
        sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "a", "MessageBody": "x"}] * 2)


def test_attribute_counts_follow_sends_receives_and_delays(sqs: Any) -> None:
    url = new_queue(sqs, "counts")
    for body in ("a", "b", "c"):
        sqs.send_message(QueueUrl=url, MessageBody=body)
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    sqs.receive_message(QueueUrl=url)
    assert counts(sqs, url) == (2, 1, 1)
    sqs.purge_queue(QueueUrl=url)
    assert counts(sqs, url) == (0, 0, 0)


def test_create_queue_is_idempotent_and_conflicts_on_different_attributes(sqs: Any) -> None:
    url = new_queue(sqs, "idempotent", VisibilityTimeout="45")
    assert new_queue(sqs, "idempotent", VisibilityTimeout="45") == url
    with pytest.raises(sqs.exceptions.QueueNameExists) as caught:
        new_queue(sqs, "idempotent", VisibilityTimeout="46")
    assert caught.value.response["Error"]["Code"] == "QueueAlreadyExists"


def test_set_attributes_list_by_prefix_tags_and_delete(sqs: Any) -> None:
    url = new_queue(sqs, "lifecycle-a")
    other = new_queue(sqs, "lifecycle-b")
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "5", "DelaySeconds": "2"})
    found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["VisibilityTimeout", "DelaySeconds"])
    assert found["Attributes"] == {"VisibilityTimeout": "5", "DelaySeconds": "2"}
    with pytest.raises(ClientError) as caught:
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "99999"})
    assert caught.value.response["Error"]["Code"] == "InvalidAttributeValue"
    assert sqs.list_queues(QueueNamePrefix="lifecycle-")["QueueUrls"] == [url, other]
    sqs.tag_queue(QueueUrl=url, Tags={"team": "flare"})
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {"team": "flare"}
    sqs.delete_queue(QueueUrl=other)
    assert sqs.list_queues(QueueNamePrefix="lifecycle-")["QueueUrls"] == [url]


def shard_records(
    kinesis: Any, stream: str, shard_id: str, limit: int = 1000, **iterator: Any
) -> list[dict[str, Any]]:
    iterator.setdefault("ShardIteratorType", "TRIM_HORIZON")
    it = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id, **iterator)["ShardIterator"]
    records: list[dict[str, Any]] = []
    while True:
        batch = kinesis.get_records(ShardIterator=it, Limit=limit)
        records += batch["Records"]
        if not batch["Records"]:
            return records
        it = batch["NextShardIterator"]


def test_records_spread_over_shards_and_keep_per_shard_order(kinesis: Any) -> None:
    kinesis.create_stream(StreamName="orders", ShardCount=3)
    kinesis.get_waiter("stream_exists").wait(StreamName="orders", WaiterConfig={"Delay": 0.1})
    expected: dict[str, list[bytes]] = {}
    for i in range(40):
        put = kinesis.put_record(StreamName="orders", PartitionKey=f"customer-{i % 7}", Data=f"{i}".encode())
        expected.setdefault(put["ShardId"], []).append(f"{i}".encode())
    batch = kinesis.put_records(
        StreamName="orders",
        Records=[{"PartitionKey": f"customer-{i % 7}", "Data": f"b{i}".encode()} for i in range(10)],
    )
    assert batch["FailedRecordCount"] == 0
    for i, record in enumerate(batch["Records"]):
        expected[record["ShardId"]].append(f"b{i}".encode())
    assert len(expected) >= 2
    shards = kinesis.list_shards(StreamName="orders")["Shards"]
    assert [s["ShardId"] for s in shards] == [f"shardId-00000000000{i}" for i in range(3)]
    for shard_id, data in expected.items():
        records = shard_records(kinesis, "orders", shard_id, limit=7)
        assert [r["Data"] for r in records] == data
        numbers = [int(r["SequenceNumber"]) for r in records]
        assert numbers == sorted(numbers)


def test_partition_key_routes_by_md5_hash_range(kinesis: Any) -> None:
    kinesis.create_stream(StreamName="routing", ShardCount=2)
    for key in ("alpha", "beta", "gamma", "delta"):
        shard = kinesis.put_record(StreamName="routing", PartitionKey=key, Data=b"x")["ShardId"]
        high = int(hashlib.md5(key.encode()).hexdigest(), 16) >= 2**127
        assert shard == ("shardId-000000000001" if high else "shardId-000000000000")


def test_shard_iterator_types(kinesis: Any) -> None:
    kinesis.create_stream(StreamName="iterators", ShardCount=1)
    shard = "shardId-000000000000"
    puts = [kinesis.put_record(StreamName="iterators", PartitionKey="k", Data=d) for d in (b"a", b"b", b"c")]
    latest = kinesis.get_shard_iterator(StreamName="iterators", ShardId=shard, ShardIteratorType="LATEST")
    kinesis.put_record(StreamName="iterators", PartitionKey="k", Data=b"d")

    def data(**iterator: Any) -> list[bytes]:
        return [r["Data"] for r in shard_records(kinesis, "iterators", shard, **iterator)]

    second = puts[1]["SequenceNumber"]
    assert data() == [b"a", b"b", b"c", b"d"]
    assert data(ShardIteratorType="AT_SEQUENCE_NUMBER", StartingSequenceNumber=second) == [b"b", b"c", b"d"]
    assert data(ShardIteratorType="AFTER_SEQUENCE_NUMBER", StartingSequenceNumber=second) == [b"c", b"d"]
    assert data(ShardIteratorType="AT_TIMESTAMP", Timestamp=time.time() + 60) == []
    assert data(ShardIteratorType="AT_TIMESTAMP", Timestamp=time.time() - 60) == [b"a", b"b", b"c", b"d"]
    assert [r["Data"] for r in kinesis.get_records(ShardIterator=latest["ShardIterator"])["Records"]] == [
        b"d"
    ]


def test_describe_list_and_delete_streams(kinesis: Any) -> None:
    kinesis.create_stream(StreamName="described", ShardCount=2)
    description = kinesis.describe_stream(StreamName="described")["StreamDescription"]
    assert description["StreamStatus"] == "ACTIVE"
    assert description["StreamARN"] == "arn:aws:kinesis:us-east-1:000000000000:stream/described"
    assert description["Shards"][1]["HashKeyRange"]["EndingHashKey"] == str(2**128 - 1)
    summary = kinesis.describe_stream_summary(StreamARN=description["StreamARN"])["StreamDescriptionSummary"]
    assert (summary["OpenShardCount"], summary["RetentionPeriodHours"]) == (2, 24)
    assert "described" in kinesis.list_streams()["StreamNames"]
    with pytest.raises(kinesis.exceptions.ResourceInUseException):
        kinesis.create_stream(StreamName="described", ShardCount=1)
    kinesis.delete_stream(StreamName="described")
    with pytest.raises(kinesis.exceptions.ResourceNotFoundException):
        kinesis.describe_stream(StreamName="described")


def test_a_request_outside_kinesis_model_is_its_validation_exception(kinesis: Any) -> None:
    with pytest.raises(ClientError) as caught:
        kinesis.create_stream(StreamName="bad name!", ShardCount=1)
    error = caught.value.response["Error"]
    assert (error["Code"], caught.value.response["ResponseMetadata"]["HTTPStatusCode"]) == (
        "ValidationException",
        400,
    )
    assert error["Message"] == (
        "1 validation error detected: Value 'bad name!' at 'streamName' failed to satisfy constraint: "
        "Member must satisfy regular expression pattern: [a-zA-Z0-9_.-]+"
    )
    assert "bad name!" not in kinesis.list_streams()["StreamNames"]


def test_bad_shard_iterator_is_invalid_argument(kinesis: Any) -> None:
    with pytest.raises(kinesis.exceptions.InvalidArgumentException):
        kinesis.get_records(ShardIterator="bm90LWFuLWl0ZXJhdG9y")


def test_restart_keeps_messages_receive_counts_and_records(flare: FlareServer) -> None:
    sqs, kinesis = flare.client("sqs"), flare.client("kinesis")
    url = new_queue(sqs, "restart", VisibilityTimeout="1")
    sqs.send_message(QueueUrl=url, MessageBody="in flight")
    sqs.receive_message(QueueUrl=url)
    sqs.send_message(QueueUrl=url, MessageBody="waiting")
    kinesis.create_stream(StreamName="restart", ShardCount=2)
    puts = [kinesis.put_record(StreamName="restart", PartitionKey=f"k{i}", Data=bytes([i])) for i in range(6)]

    flare.restart()
    sqs, kinesis = flare.client("sqs"), flare.client("kinesis")
    time.sleep(1)
    received = sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageSystemAttributeNames=["ApproximateReceiveCount"]
    )["Messages"]
    assert {m["Body"]: m["Attributes"]["ApproximateReceiveCount"] for m in received} == {
        "in flight": "2",
        "waiting": "1",
    }
    for put in puts:
        records = shard_records(
            kinesis,
            "restart",
            put["ShardId"],
            ShardIteratorType="AT_SEQUENCE_NUMBER",
            StartingSequenceNumber=put["SequenceNumber"],
        )
        assert records[0]["SequenceNumber"] == put["SequenceNumber"]


def test_kill_9_loses_no_acknowledged_message_or_record(tmp_path: Path) -> None:
    server = launch(tmp_path)
    sqs, kinesis = server.client("sqs"), server.client("kinesis")
    url = new_queue(sqs, "crash")
    kinesis.create_stream(StreamName="crash", ShardCount=2)
    acknowledged: list[str] = []
    records: list[tuple[str, str]] = []
    stop = threading.Event()

    def produce() -> None:
        i = 0
        while not stop.is_set():
            try:
                acknowledged.append(sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")["MessageId"])
                put = kinesis.put_record(StreamName="crash", PartitionKey=f"k{i}", Data=b"r")
                records.append((put["ShardId"], put["SequenceNumber"]))
            except (ClientError, BotoCoreError, OSError):  # the engine is gone: not acknowledged
                return
            i += 1

    producer = threading.Thread(target=produce)
    producer.start()
    while len(acknowledged) < 50:
        time.sleep(0.01)
    server.stop(signal.SIGKILL)
    stop.set()
    producer.join(30)
    assert len(acknowledged) >= 50

    revived = launch(tmp_path)
    try:
        sqs = revived.client("sqs")
        url = sqs.get_queue_url(QueueName="crash")["QueueUrl"]
        found: set[str] = set()
        while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
            found |= {m["MessageId"] for m in batch}
        assert set(acknowledged) <= found
        kinesis = revived.client("kinesis")
        stored = {
            (shard_id, r["SequenceNumber"])
            for shard_id in ("shardId-000000000000", "shardId-000000000001")
            for r in shard_records(kinesis, "crash", shard_id)
        }
        assert set(records) <= stored
    finally:
        revived.stop()


def test_a_pending_long_poll_does_not_hold_up_shutdown(tmp_path: Path) -> None:
    server = launch(tmp_path)
    sqs = server.client("sqs")
    url = new_queue(sqs, "shutdown")
    outcome: list[object] = []

    def poll() -> None:
        try:
            outcome.append(sqs.receive_message(QueueUrl=url, WaitTimeSeconds=20).get("Messages", []))
        except Exception as error:
            outcome.append(error)

    poller = threading.Thread(target=poll)
    poller.start()
    time.sleep(0.3)
    started = time.monotonic()
    assert server.stop() == 0
    poller.join(10)
    assert time.monotonic() - started < 5
    assert outcome == [[]]
