"""Event source mappings reading a stream that is not Flare's own: Kinesis through boto3, against
moto's server (``flare serve --kinesis-endpoint URL``)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config

from tests.conftest import FlareServer, launch
from tests.functional.test_event_sources import drain, new_queue, reporter, unique, wait_state
from tests.functional.test_remote_sqs import mapping_counters, moto_url  # noqa: F401  (a fixture)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, moto_url: str) -> Iterator[FlareServer]:  # noqa: F811
    server = launch(tmp_path_factory.mktemp("remote-kinesis"), "--kinesis-endpoint", moto_url)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def remote(moto_url: str) -> Any:  # noqa: F811
    return boto3.client(
        "kinesis",
        endpoint_url=moto_url,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(retries={"total_max_attempts": 1}),
    )


def remote_stream(remote: Any, shards: int) -> str:
    name = unique("remote")
    remote.create_stream(StreamName=name, ShardCount=shards)
    return str(remote.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]["StreamARN"])


def test_mapping_reads_every_shard_of_a_remote_stream_in_order(server: FlareServer, remote: Any) -> None:
    lam, sqs = server.client(), server.client("sqs")
    sink, _ = new_queue(sqs)
    stream = remote_stream(remote, 2)
    assert ":123456789012:" in stream  # moto's account, not Flare's: not an embedded stream
    put: dict[str, list[tuple[str, str]]] = {}  # shard id => (sequence number, data) in put order
    for i in range(30):
        data = f"r{i:02d}"
        reply = remote.put_record(StreamARN=stream, Data=data.encode(), PartitionKey=f"key-{i % 5}")
        put.setdefault(reply["ShardId"], []).append((reply["SequenceNumber"], data))
    assert len(put) == 2, "the partition keys should reach both shards"
    name = reporter(lam, sink)
    created = lam.create_event_source_mapping(
        FunctionName=name, EventSourceArn=stream, StartingPosition="TRIM_HORIZON", BatchSize=4
    )
    wait_state(lam, created["UUID"], "Enabled")

    found = drain(sqs, sink, 1)
    deadline = time.monotonic() + 30
    while sum(len(f["bodies"]) for f in found) < 30 and time.monotonic() < deadline:
        found += drain(sqs, sink, 1)
    records = [r for f in sorted(found, key=lambda f: f["start"]) for r in f["event"]["Records"]]
    assert all(len(f["event"]["Records"]) <= 4 for f in found)
    seen: dict[str, list[str]] = {}
    for record in records:
        shard_id, sequence_number = record["eventID"].split(":")
        assert record["kinesis"]["sequenceNumber"] == sequence_number
        seen.setdefault(shard_id, []).append(sequence_number)
        assert record["eventSourceARN"] == stream
        assert record["eventSource"] == "aws:kinesis"
    assert seen == {shard: [seq for seq, _ in entries] for shard, entries in put.items()}
    bodies = [body for f in found for body in f["bodies"]]
    assert sorted(bodies) == [f"r{i:02d}" for i in range(30)]

    deadline = time.monotonic() + 10
    while mapping_counters(server, created["UUID"])["succeeded"] < 30 and time.monotonic() < deadline:
        time.sleep(0.1)
    counters = mapping_counters(server, created["UUID"])
    assert (counters["received"], counters["succeeded"], counters["failed"]) == (30, 30, 0)
    assert lam.get_event_source_mapping(UUID=created["UUID"])["LastProcessingResult"] == "OK"
    lam.delete_event_source_mapping(UUID=created["UUID"])


def test_records_put_later_are_read_too(server: FlareServer, remote: Any) -> None:
    lam, sqs = server.client(), server.client("sqs")
    sink, _ = new_queue(sqs)
    stream = remote_stream(remote, 1)
    name = reporter(lam, sink)
    created = lam.create_event_source_mapping(
        FunctionName=name, EventSourceArn=stream, StartingPosition="TRIM_HORIZON"
    )
    wait_state(lam, created["UUID"], "Enabled")
    time.sleep(1.5)  # the shard is read and found empty first
    remote.put_record(StreamARN=stream, Data=b"late", PartitionKey="k")
    assert [b for f in drain(sqs, sink, 1) for b in f["bodies"]] == ["late"]
    lam.delete_event_source_mapping(UUID=created["UUID"])
