"""The shared queues' promises with Redis and two nodes as hosts (``tests/cluster_hosts.py``:
each node in a network namespace of its own), through boto3:

- an async event accepted by node A is processed when A is SIGKILLed right after accepting it;
- Redis restarted with its append-only file loses no accepted event;
- an SQS mapping loses nothing when the node processing a batch dies mid-batch;
- a Kinesis shard's order holds when the node polling it dies.

Nodes run with ``--cluster-ttl 2 --cluster-poll 0.2``: what a dead node held is taken over
about two seconds after its last renewal (Redis's clock; leases are wall-clock by nature).
Functions, invoke configs and mappings are shared: each is made once, on one node, and seen by
the others (``tests/cluster_functions.py``).
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.cluster_functions import create_seen_everywhere
from tests.cluster_hosts import ClusterHosts, available
from tests.conftest import create_function, python_function

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

FLAGS = ("--cluster-ttl", "2", "--cluster-poll", "0.2", "--async-retry-base-delay", "0.2")
SCOPE = "{000000000000:us-east-1}"
SLOW = "import time\ndef handler(event, context):\n    time.sleep(event['sleep'])\n    return event\n"
# Sends what it was given to $SINK (bodies with receive counts, or Kinesis data), after $SLEEP s.
REPORTER = """
import base64, json, os, time
import boto3

def handler(event, context):
    time.sleep(float(os.environ["SLEEP"]))
    if "kinesis" in event["Records"][0]:
        got = [int(base64.b64decode(r["kinesis"]["data"])) for r in event["Records"]]
    else:
        got = [{"body": r["body"], "count": r["attributes"]["ApproximateReceiveCount"]}
               for r in event["Records"]]
    boto3.client("sqs").send_message(QueueUrl=os.environ["SINK"], MessageBody=json.dumps(got))
    return "ok"
"""


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def slow_function_with_destination(hosts: ClusterHosts) -> tuple[str, str]:
    """A function sleeping ``event['sleep']`` s whose successes go to a (shared) queue; both names."""
    name = unique("slow")
    hosts.client(0, "sqs").create_queue(QueueName=name)
    arn = f"arn:aws:sqs:us-east-1:000000000000:{name}"

    def create(lam: Any) -> None:
        create_function(lam, name, python_function(SLOW), Timeout=30)
        lam.put_function_event_invoke_config(
            FunctionName=name, DestinationConfig={"OnSuccess": {"Destination": arn}}
        )

    create_seen_everywhere(hosts, lambda lam: lam.get_function_event_invoke_config(FunctionName=name), create)
    return name, name


def messages(sqs: Any, queue: str, enough: Callable[[list[Any]], bool], timeout: float) -> list[Any]:
    """Bodies (JSON) read from ``queue`` (deleted as read) until ``enough`` of them, or ``timeout``;
    then any more within half a second."""
    url = sqs.get_queue_url(QueueName=queue)["QueueUrl"]
    found: list[Any] = []
    deadline = time.monotonic() + timeout
    settle: float | None = None
    while time.monotonic() < (settle or deadline):
        for message in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
            found.append(json.loads(message["Body"]))
        if settle is None and enough(found):
            settle = time.monotonic() + 0.5
    return found


def wait_until(condition: Callable[[], bool], timeout: float = 15) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def mapping_enabled(lam: Any, mapping: str) -> bool:
    try:
        return bool(lam.get_event_source_mapping(UUID=mapping)["State"] == "Enabled")
    except lam.exceptions.ResourceNotFoundException:
        return False


def text(value: bytes | None) -> str:
    return "" if value is None else value.decode()


def test_an_event_whose_node_is_killed_while_it_runs_is_processed_by_another(tmp_path: Path) -> None:
    with ClusterHosts.start(tmp_path, nodes=2, node_args=FLAGS) as hosts:
        name, queue = slow_function_with_destination(hosts)
        accepted = hosts.client(hosts.nodes[0]).invoke(
            FunctionName=name, InvocationType="Event", Payload=b'{"sleep": 1.5}'
        )
        assert accepted["StatusCode"] == 202
        event_id = accepted["ResponseMetadata"]["RequestId"]
        holders = f"flare:{SCOPE}:async:holders"
        # any node may take an event from the shared queue: the one that did is killed
        wait_until(lambda: hosts.redis_client().hget(holders, event_id) is not None)
        holder = text(hosts.redis_client().hget(holders, event_id)).split(":")[0]
        killed = next(node for node in hosts.nodes if node.name == holder)
        survivor = next(node for node in hosts.nodes if node is not killed)
        hosts.kill(killed)  # while its try runs (the function sleeps 1.5 s)
        records = messages(hosts.client(survivor, "sqs"), queue, lambda found: len(found) >= 1, timeout=15)
        assert [r["requestContext"]["requestId"] for r in records] == [event_id]
        assert records[0]["requestContext"]["condition"] == "Success"
        assert records[0]["responsePayload"] == {"sleep": 1.5}


def test_redis_restarted_with_its_append_only_file_loses_no_accepted_event(tmp_path: Path) -> None:
    # appendfsync always: a write is on disk before its answer
    with ClusterHosts.start(tmp_path, nodes=2, node_args=FLAGS, appendonly=True) as hosts:
        a, b = hosts.nodes
        name, queue = slow_function_with_destination(hosts)
        hosts.stop(b)
        lam = hosts.client(a)
        ids = {
            lam.invoke(FunctionName=name, InvocationType="Event", Payload=b'{"sleep": 2}')[
                "ResponseMetadata"
            ]["RequestId"]
            for _ in range(5)
        }
        hosts.kill(a)  # none finished: every accepted event is only in Redis now
        hosts.redis.kill()
        hosts.redis.run()
        hosts.launch(b)
        hosts.wait_ready(b)
        records = messages(hosts.client(b, "sqs"), queue, lambda found: len(found) >= len(ids), timeout=20)
        assert {r["requestContext"]["requestId"] for r in records} == ids


def test_an_sqs_mapping_loses_nothing_when_the_node_with_its_batch_dies(tmp_path: Path) -> None:
    with ClusterHosts.start(tmp_path, nodes=2, node_args=FLAGS) as hosts:
        a, b = hosts.nodes
        sqs = hosts.client(a, "sqs")
        sink, source = unique("sink"), unique("source")
        sink_url = sqs.create_queue(QueueName=sink)["QueueUrl"]
        source_url = sqs.create_queue(QueueName=source, Attributes={"VisibilityTimeout": "2"})["QueueUrl"]
        source_arn = f"arn:aws:sqs:us-east-1:000000000000:{source}"
        name = unique("reporter")

        def create(lam: Any) -> None:
            variables = {"SINK": sink_url, "SLEEP": "1.5"}
            create_function(
                lam, name, python_function(REPORTER), Timeout=30, Environment={"Variables": variables}
            )

        create_seen_everywhere(hosts, lambda lam: lam.get_function(FunctionName=name), create)
        hosts.client(a).create_event_source_mapping(
            FunctionName=name, EventSourceArn=source_arn, BatchSize=10
        )
        bodies = {f"m{i}" for i in range(5)}
        sqs.send_message_batch(
            QueueUrl=source_url, Entries=[{"Id": m, "MessageBody": m} for m in sorted(bodies)]
        )

        def in_flight() -> int:
            found = sqs.get_queue_attributes(QueueUrl=source_url, AttributeNames=["All"])["Attributes"]
            return int(found["ApproximateNumberOfMessagesNotVisible"])

        wait_until(lambda: in_flight() == len(bodies))  # a's poller has the batch; its function sleeps
        hosts.kill(a)
        assert hosts.client(b).list_event_source_mappings(FunctionName=name)["EventSourceMappings"]
        reports = messages(hosts.client(b, "sqs"), sink, lambda found: sum(map(len, found)) >= 5, timeout=20)
        records = [record for report in reports for record in report]
        assert {r["body"] for r in records} == bodies
        assert {r["count"] for r in records} == {"2"}  # received by a, then again by b


def test_a_kinesis_shards_order_holds_when_the_node_polling_it_dies(tmp_path: Path) -> None:
    with ClusterHosts.start(tmp_path, nodes=2, node_args=FLAGS) as hosts:
        a, b = hosts.nodes
        sqs, kinesis = hosts.client(a, "sqs"), hosts.client(a, "kinesis")
        sink = unique("sink")
        sink_url = sqs.create_queue(QueueName=sink)["QueueUrl"]
        stream = unique("stream")
        kinesis.create_stream(StreamName=stream, ShardCount=1)
        arn = kinesis.describe_stream_summary(StreamName=stream)["StreamDescriptionSummary"]["StreamARN"]
        name = unique("reporter")

        def create(lam: Any) -> None:
            variables = {"SINK": sink_url, "SLEEP": "0.4"}
            code = python_function(REPORTER)
            create_function(lam, name, code, Timeout=30, Environment={"Variables": variables})

        create_seen_everywhere(hosts, lambda lam: lam.get_function(FunctionName=name), create)
        mapping = hosts.client(a).create_event_source_mapping(
            FunctionName=name, EventSourceArn=arn, StartingPosition="TRIM_HORIZON", BatchSize=2
        )["UUID"]
        wait_until(lambda: mapping_enabled(hosts.client(b), mapping))  # one mapping, polled by both
        for i in range(12):
            kinesis.put_record(StreamName=stream, Data=str(i).encode(), PartitionKey="k")
        seen = messages(sqs, sink, lambda found: any(3 in batch for batch in found), timeout=20)
        lease = f"flare:{SCOPE}:kinesis:lease:{mapping}:shardId-000000000000"
        polling = next(
            node for node in hosts.nodes if text(hosts.redis_client().get(lease)).startswith(f"{node.name}:")
        )
        survivor = b if polling is a else a
        hosts.kill(polling)  # mid-way through the shard
        seen += messages(
            hosts.client(survivor, "sqs"), sink, lambda found: any(11 in batch for batch in found), timeout=25
        )
        assert text(hosts.redis_client().get(lease)).startswith(f"{survivor.name}:")
    delivered = [record for batch in seen for record in batch]
    assert all(batch == sorted(batch) for batch in seen)
    assert list(dict.fromkeys(delivered)) == list(range(12))  # first deliveries in shard order
    assert len(delivered) <= 12 + 2  # at most the dead node's batch in flight, again
