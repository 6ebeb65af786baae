"""SQS-compatible queues shared by a cluster's nodes (``cluster/redis_queue_store.py``), through
boto3 against two nodes on 127.0.0.1: what one node sends another receives, two nodes never
hold the same message at once, and a mapping's batch that a killed node was processing is
processed by another node once its visibility timeout ends, none lost."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import create_function, python_function
from tests.local_cluster import LocalCluster
from tests.redis_server import RedisServer, available

pytestmark = pytest.mark.skipif(not available(), reason="redis-server is not installed (make install)")

FLAGS = ("--cluster-lease", "1", "--cluster-poll", "0.2")
# Sends the bodies (and receive counts) of its batch to $SINK, after sleeping $SLEEP seconds.
REPORTER = """
import json, os, time
import boto3

def handler(event, context):
    time.sleep(float(os.environ["SLEEP"]))
    records = [{"body": r["body"], "count": r["attributes"]["ApproximateReceiveCount"]}
               for r in event["Records"]]
    boto3.client("sqs").send_message(QueueUrl=os.environ["SINK"], MessageBody=json.dumps(records))
    return "ok"
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    tmp: Path = tmp_path_factory.mktemp("cluster-queues")
    redis_server = RedisServer.start(tmp / "redis", appendonly=True)
    cluster = LocalCluster.start(tmp, redis_server, ("a", "b"), *FLAGS)
    yield cluster
    cluster.stop()
    redis_server.stop()


def test_a_queue_and_message_of_one_node_are_another_nodes(cluster: LocalCluster) -> None:
    a, b = cluster.client("a", "sqs"), cluster.client("b", "sqs")
    name = unique("shared")
    a.create_queue(QueueName=name)
    url = b.get_queue_url(QueueName=name)["QueueUrl"]
    assert name in [u.rsplit("/", 1)[-1] for u in b.list_queues(QueueNamePrefix=name)["QueueUrls"]]
    started = time.monotonic()
    with ThreadPoolExecutor(1) as pool:
        polled = pool.submit(b.receive_message, QueueUrl=url, WaitTimeSeconds=10)
        time.sleep(0.5)
        a.send_message(QueueUrl=url, MessageBody="from a")
        (message,) = polled.result()["Messages"]
    assert message["Body"] == "from a"
    assert time.monotonic() - started < 3  # b's long poll noticed a's send (it looks every 0.2 s)
    a.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert b.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", []) == []


def test_two_nodes_receiving_at_once_never_get_the_same_message(cluster: LocalCluster) -> None:
    a, b = cluster.client("a", "sqs"), cluster.client("b", "sqs")
    url = a.create_queue(QueueName=unique("contended"), Attributes={"VisibilityTimeout": "60"})["QueueUrl"]
    for start in range(0, 100, 10):
        entries = [{"Id": str(i), "MessageBody": f"m{i}"} for i in range(start, start + 10)]
        assert len(a.send_message_batch(QueueUrl=url, Entries=entries)["Successful"]) == 10

    def drain(client: Any) -> list[str]:
        got: list[str] = []
        while messages := client.receive_message(QueueUrl=url, MaxNumberOfMessages=2).get("Messages", []):
            got += [m["Body"] for m in messages]
        return got

    with ThreadPoolExecutor(8) as pool:
        found = [body for got in pool.map(drain, [a, b] * 4) for body in got]
    assert sorted(found) == sorted(f"m{i}" for i in range(100))


def test_a_batch_of_a_killed_node_is_processed_by_another_none_lost(
    tmp_path: Path, cluster: LocalCluster
) -> None:
    # its own pair of nodes (one is killed), sharing the module's Redis
    pair = LocalCluster.start(tmp_path, cluster.redis, ("c", "d"), *FLAGS)
    try:
        sqs = pair.client("c", "sqs")
        sink = sqs.create_queue(QueueName=unique("sink"))["QueueUrl"]
        source = sqs.create_queue(QueueName=unique("source"), Attributes={"VisibilityTimeout": "2"})[
            "QueueUrl"
        ]
        source_arn = sqs.get_queue_attributes(QueueUrl=source, AttributeNames=["QueueArn"])["Attributes"][
            "QueueArn"
        ]
        name = unique("reporter")

        def create(lam: Any) -> None:
            code = python_function(REPORTER)
            create_function(
                lam, name, code, Timeout=30, Environment={"Variables": {"SINK": sink, "SLEEP": "1.5"}}
            )

        pair.everywhere(lambda lam: lam.get_function(FunctionName=name), create)
        pair.client("c").create_event_source_mapping(
            FunctionName=name, EventSourceArn=source_arn, BatchSize=10
        )
        bodies = {f"m{i}" for i in range(5)}
        sqs.send_message_batch(QueueUrl=source, Entries=[{"Id": b, "MessageBody": b} for b in sorted(bodies)])
        wait_until(lambda: hidden(sqs, source) == 5)  # c's poller has the batch; its function sleeps
        pair.kill("c")
        d = pair.client("d")
        if not d.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]:
            d.create_event_source_mapping(FunctionName=name, EventSourceArn=source_arn, BatchSize=10)
        records = sink_records(pair.client("d", "sqs"), sink, len(bodies), timeout=15)
        assert {r["body"] for r in records} == bodies
        assert {r["count"] for r in records} == {"2"}  # received by c, then again by d
    finally:
        pair.stop()


def hidden(sqs: Any, url: str) -> int:
    found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessagesNotVisible"])
    return int(found["Attributes"]["ApproximateNumberOfMessagesNotVisible"])


def wait_until(condition: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def sink_records(sqs: Any, url: str, count: int, timeout: float) -> list[dict[str, Any]]:
    """The records the function reported to ``url``: ``count`` of them, then any within 0.5 s."""
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(found) < count and time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            found += json.loads(message["Body"])
    assert len(found) >= count, f"got {len(found)} of {count}: {found}"
    return found
