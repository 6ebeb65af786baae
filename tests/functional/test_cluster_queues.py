"""SQS-compatible queues shared by a cluster's nodes (``cluster/redis_queue_store.py``), through
boto3 against two nodes on 127.0.0.1: what one node sends another receives (a long poll on one
wakes for a send on the other), and two nodes never hold the same message at once. (A mapping's
batch on a node that dies is a test as hosts: ``test_cluster_queue_hosts.py``.)"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from tests.local_cluster import LocalCluster
from tests.redis_server import RedisServer, available

pytestmark = pytest.mark.skipif(not available(), reason="redis-server is not installed (make install)")

FLAGS = ("--cluster-poll", "0.2")


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
