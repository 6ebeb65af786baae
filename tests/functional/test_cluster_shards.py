"""A Kinesis mapping polled by two nodes of a cluster (``cluster/redis_shard_leases.py``): one
node at a time holds the shard, and when that node is SIGKILLed the other takes the shard after
the lease and goes on from the checkpoint, so the shard's records reach the function in order.

Nodes run with ``--cluster-lease 2``: the shard changes hands about two seconds after the holder's
last renewal (Redis's clock; leases are wall-clock by nature)."""

from __future__ import annotations

import json
import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis

from tests.conftest import FlareServer, create_function, launch, python_function
from tests.local_cluster import LocalCluster
from tests.redis_server import RedisServer, available

pytestmark = pytest.mark.skipif(not available(), reason="redis-server is not installed (make install)")

FLAGS = ("--cluster-lease", "2", "--cluster-poll", "0.2")
SCOPE = "{000000000000:us-east-1}"
BATCH = 2
# Sends the data of its batch to $SINK, after sleeping 0.4 s per batch.
REPORTER = """
import base64, json, os, time
import boto3

def handler(event, context):
    time.sleep(0.4)
    data = [int(base64.b64decode(r["kinesis"]["data"])) for r in event["Records"]]
    boto3.client("sqs").send_message(QueueUrl=os.environ["SINK"], MessageBody=json.dumps(data))
    return "ok"
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer.start(tmp_path / "redis", appendonly=True)
    yield server
    server.stop()


def holder(server: RedisServer, mapping: str) -> str | None:
    """The node holding shard 0 of ``mapping`` now, by the name its lease token starts with."""
    found = redis.Redis.from_url(server.url).get(
        f"flare:{SCOPE}:kinesis:lease:{mapping}:shardId-000000000000"
    )
    return None if found is None else found.decode().split(":", 1)[0]


def batches(sqs: Any, url: str, until: int, timeout: float) -> list[list[int]]:
    """The batches reported to ``url``, in the order they were sent, until ``until`` arrived."""
    found: list[list[int]] = []
    deadline = time.monotonic() + timeout
    while not any(until in batch for batch in found) and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            found.append(json.loads(message["Body"]))
    return found


def test_a_shards_order_holds_when_the_node_polling_it_is_killed(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    first = launch(tmp_path / "a", "--cluster", redis_server.url, "--node-name", "a", *FLAGS)
    nodes: dict[str, FlareServer] = {"a": first}
    try:
        sqs, kinesis = first.client("sqs"), first.client("kinesis")
        sink = sqs.create_queue(QueueName=unique("sink"))["QueueUrl"]
        stream = unique("stream")
        kinesis.create_stream(StreamName=stream, ShardCount=1)
        arn = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
        name = unique("reporter")
        code = python_function(REPORTER)
        create_function(first.client(), name, code, Timeout=30, Environment={"Variables": {"SINK": sink}})
        mapping = first.client().create_event_source_mapping(
            FunctionName=name, EventSourceArn=arn, StartingPosition="TRIM_HORIZON", BatchSize=BATCH
        )["UUID"]
        # b gets a's function and mapping (one mapping, as once the registry is shared): a copy of
        # a's data directory, taken while a is stopped
        first.stop()
        shutil.copytree(tmp_path / "a", tmp_path / "b")
        first.restart()
        nodes["b"] = launch(tmp_path / "b", "--cluster", redis_server.url, "--node-name", "b", *FLAGS)
        for i in range(12):
            kinesis.put_record(StreamName=stream, Data=str(i).encode(), PartitionKey="k")
        seen = batches(sqs, sink, until=3, timeout=15)
        polling = holder(redis_server, mapping)
        assert polling in nodes
        survivor = "b" if polling == "a" else "a"
        LocalCluster(redis_server, nodes).kill(polling)  # mid-way through the shard
        seen += batches(nodes[survivor].client("sqs"), sink, until=11, timeout=20)
        assert holder(redis_server, mapping) == survivor
    finally:
        for node in nodes.values():
            node.stop()
    delivered = [record for batch in seen for record in batch]
    assert all(batch == sorted(batch) for batch in seen)
    assert list(dict.fromkeys(delivered)) == list(range(12))  # first deliveries in shard order
    assert len(delivered) <= 12 + BATCH  # at most the killed node's batch in flight, again
