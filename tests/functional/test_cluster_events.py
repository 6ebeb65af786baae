"""Async events on a cluster's Redis, through boto3 against two nodes on 127.0.0.1: an event
accepted by one node is tried by the other when the first is SIGKILLed holding it, and a Redis
restarted with its append-only file still has every event a node answered 202 for.

Nodes run with ``--cluster-lease 1 --cluster-poll 0.2``: a dead node's event is taken over
about a second after its last renewal (Redis's clock; leases are wall-clock by nature).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from botocore.exceptions import ClientError

from tests.conftest import create_function, python_function
from tests.local_cluster import LocalCluster
from tests.redis_server import RedisServer, available

pytestmark = pytest.mark.skipif(not available(), reason="redis-server is not installed (make install)")

LEASE = ("--cluster-lease", "1", "--cluster-poll", "0.2", "--async-retry-base-delay", "0.2")
SCOPE = "{000000000000:us-east-1}"
SLOW = "import time\ndef handler(event, context):\n    time.sleep(event['sleep'])\n    return event\n"


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def redis_server(tmp_path: Path) -> Iterator[RedisServer]:
    server = RedisServer.start(tmp_path / "redis", appendonly=True)
    yield server
    server.stop()


def slow_function_with_destination(cluster: LocalCluster) -> tuple[str, str]:
    """A function that sleeps ``event['sleep']`` seconds, on every node, whose successes go to
    a queue of that name (each node's own until queues are shared); its name and the queue."""
    name = unique("slow")
    for node in cluster.nodes:
        cluster.client(node, "sqs").create_queue(QueueName=name)
    arn = f"arn:aws:sqs:us-east-1:000000000000:{name}"

    def create(lam: Any) -> None:
        create_function(lam, name, python_function(SLOW), Timeout=30)
        lam.put_function_event_invoke_config(
            FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": arn}}
        )

    cluster.everywhere(lambda lam: lam.get_function(FunctionName=name), create)
    return name, name


def records(cluster: LocalCluster, node: str, queue: str, wait_s: float) -> list[dict[str, Any]]:
    """Every record that reaches ``queue`` on ``node`` within ``wait_s`` seconds."""
    sqs = cluster.client(node, "sqs")
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    found: list[dict[str, Any]] = []
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            found.append(json.loads(message["Body"]))
    return found


def holder_of(server: RedisServer, event_id: str) -> str | None:
    """The token of the node holding ``event_id`` now (``cluster/redis_event_queue.py``)."""
    held = redis.Redis.from_url(server.url).hget(f"flare:{SCOPE}:async:holders", event_id)
    return None if held is None else held.decode()


def wait_for(condition: Any, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_an_event_held_by_a_node_that_is_killed_is_tried_by_another(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    cluster = LocalCluster.start(tmp_path, redis_server, ("a", "b"), *LEASE)
    try:
        name, queue = slow_function_with_destination(cluster)
        accepted = cluster.client("a").invoke(
            FunctionName=name, InvocationType="Event", Payload=json.dumps({"sleep": 1.5}).encode()
        )
        assert accepted["StatusCode"] == 202
        event_id = accepted["ResponseMetadata"]["RequestId"]
        wait_for(lambda: (holder_of(redis_server, event_id) or "").startswith("a:"))
        cluster.kill("a")  # mid-try: its function sleeps 1.5 s
        delivered = records(cluster, "b", queue, wait_s=8)
        assert [r["requestContext"]["requestId"] for r in delivered] == [event_id]
        assert delivered[0]["requestContext"]["condition"] == "Success"
        assert delivered[0]["responsePayload"] == {"sleep": 1.5}
    finally:
        cluster.stop()


def test_a_redis_restarted_with_its_append_only_file_loses_no_accepted_event(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    cluster = LocalCluster.start(tmp_path, redis_server, ("a", "b"), *LEASE)
    try:
        name, queue = slow_function_with_destination(cluster)
        cluster.kill("b")
        lam = cluster.client("a")
        ids = {
            lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"sleep": 2}')[
                "ResponseMetadata"
            ]["RequestId"]
            for _ in range(5)
        }
        cluster.kill("a")  # nobody has finished any: every event is only in Redis now
        redis_server.kill()
        redis_server.run()
        cluster.nodes["b"].restart()
        delivered = records(cluster, "b", queue, wait_s=8)
        assert {r["requestContext"]["requestId"] for r in delivered} == ids
    finally:
        cluster.stop()


def test_an_event_redis_did_not_take_is_refused_not_answered_202(
    tmp_path: Path, redis_server: RedisServer
) -> None:
    cluster = LocalCluster.start(tmp_path, redis_server, ("a",), *LEASE)
    try:
        name, _ = slow_function_with_destination(cluster)
        redis_server.kill()
        with pytest.raises(ClientError) as refused:
            cluster.client("a").invoke(FunctionName=name, InvocationType="Event", Payload=b'{"sleep": 0}')
        assert refused.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
        assert refused.value.response["Error"]["Code"] == "ServiceException"
        assert "not queued" in refused.value.response["Error"]["Message"]
    finally:
        cluster.stop()
