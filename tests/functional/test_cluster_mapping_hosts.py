"""Event source mappings shared by a cluster's nodes, with Redis and three nodes as hosts
(``tests/cluster_hosts.py``: each node in a network namespace of its own), through boto3:

- a mapping created on one node is listed by the others, and every node polls it;
- a node SIGKILLed with a batch in flight loses nothing: the others deliver every message;
- a mapping disabled on one node stops delivery on every node; deleted on another, it is gone
  everywhere;
- a transitional state left by a node that died before settling it is settled by another.

Nodes run with ``--cluster-ttl 2 --cluster-poll 0.2``: what a dead node held (its in-flight
messages' visibility aside) is taken over about two seconds later.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import pytest

from flare.cluster.link import ClusterLink
from flare.cluster.redis_mappings import RedisMappingStore, Scripts
from flare.scope import Scope
from tests.cluster_functions import create_seen_everywhere, eventually
from tests.cluster_hosts import ClusterHosts, Node, available
from tests.conftest import create_function, python_function
from tests.functional.test_cluster_queue_hosts import messages

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

FLAGS = ("--cluster-ttl", "2", "--cluster-poll", "0.2")
SCOPE = Scope("000000000000", "us-east-1")
CONFIGS = ClusterLink.scoped(SCOPE, "esm", "configs")
# Sends the bodies of its batch to $SINK, after $SLEEP s.
REPORTER = """
import json, os, time
import boto3

def handler(event, context):
    time.sleep(float(os.environ["SLEEP"]))
    bodies = [r["body"] for r in event["Records"]]
    boto3.client("sqs").send_message(QueueUrl=os.environ["SINK"], MessageBody=json.dumps(bodies))
    return "ok"
"""


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterHosts]:
    with ClusterHosts.start(tmp_path_factory.mktemp("mapping-hosts"), nodes=3, node_args=FLAGS) as made:
        yield made


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def live(hosts: ClusterHosts) -> list[Node]:
    return [node for node in hosts.nodes if node.alive()]


def reporter(hosts: ClusterHosts, sink_url: str, sleep: float) -> str:
    """A function (made once, seen by every live node) that reports its batches to ``sink_url``."""
    name = unique("reporter")

    def create(lam: Any) -> None:
        variables = {"SINK": sink_url, "SLEEP": str(sleep)}
        create_function(
            lam, name, python_function(REPORTER), Timeout=30, Environment={"Variables": variables}
        )

    create_seen_everywhere(hosts, lambda lam: lam.get_function(FunctionName=name), create)
    return name


def queue_counts(sqs: Any, url: str) -> tuple[int, int]:
    found = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(found["ApproximateNumberOfMessages"]), int(found["ApproximateNumberOfMessagesNotVisible"])


def wait_until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting until {what}"
        time.sleep(0.05)


def state_everywhere(hosts: ClusterHosts, mapping_id: str, state: str, timeout: float = 10) -> None:
    """Until every live node answers GetEventSourceMapping with ``state``."""
    for node in live(hosts):
        lam = hosts.client(node)

        def probe(lam: Any = lam) -> None:
            assert lam.get_event_source_mapping(UUID=mapping_id)["State"] == state

        eventually(probe, timeout)


def absent(lam: Any, mapping_id: str) -> None:
    """AssertionError unless GetEventSourceMapping answers ResourceNotFoundException."""
    try:
        lam.get_event_source_mapping(UUID=mapping_id)
    except lam.exceptions.ResourceNotFoundException:
        return
    raise AssertionError(f"{mapping_id} is still there")


def delivered(reports: list[Any]) -> list[str]:
    return [body for report in reports for body in report]


def test_a_mapping_made_on_one_node_is_polled_by_all_and_outlives_a_killed_node(hosts: ClusterHosts) -> None:
    a, b, c = hosts.nodes
    sqs = hosts.client(b, "sqs")
    sink, source = unique("sink"), unique("source")
    sink_url = sqs.create_queue(QueueName=sink)["QueueUrl"]
    source_url = sqs.create_queue(QueueName=source, Attributes={"VisibilityTimeout": "10"})["QueueUrl"]
    source_arn = f"arn:aws:sqs:us-east-1:000000000000:{source}"
    name = reporter(hosts, sink_url, sleep=2.5)
    # one message a batch, two batches at most per node: six in flight at once only if all
    # three nodes poll the mapping
    created = hosts.client(a).create_event_source_mapping(
        FunctionName=name, EventSourceArn=source_arn, BatchSize=1, ScalingConfig={"MaximumConcurrency": 2}
    )
    mapping_id = created["UUID"]
    for node in (b, c):
        lam = hosts.client(node)

        def listed(lam: Any = lam) -> None:
            found = lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"]
            assert [(m["UUID"], m["BatchSize"]) for m in found] == [(mapping_id, 1)]

        eventually(listed)
    state_everywhere(hosts, mapping_id, "Enabled")
    first = {f"m{i}" for i in range(6)}
    sqs.send_message_batch(QueueUrl=source_url, Entries=[{"Id": m, "MessageBody": m} for m in sorted(first)])
    wait_until(lambda: queue_counts(sqs, source_url) == (0, 6), 20, "every node has two batches")
    hosts.kill(a)  # with its two batches in flight
    reports = messages(sqs, sink, lambda found: set(delivered(found)) >= first, timeout=30)
    assert set(delivered(reports)) == first  # a's two reappear after their visibility timeout
    later = {f"n{i}" for i in range(4)}
    sqs.send_message_batch(QueueUrl=source_url, Entries=[{"Id": m, "MessageBody": m} for m in sorted(later)])
    reports += messages(sqs, sink, lambda found: set(delivered(found)) >= later, timeout=20)
    bodies = delivered(reports)
    assert set(bodies) == first | later  # nothing lost
    assert all(bodies.count(body) >= 1 for body in first | later)  # at least once each
    assert len(bodies) <= len(first | later) + 2  # again at most: the two a had in flight


def test_disabled_on_one_node_stops_everywhere_and_deleted_on_another_is_gone(hosts: ClusterHosts) -> None:
    first, second = live(hosts)[:2]
    sqs = hosts.client(first, "sqs")
    sink, source = unique("sink"), unique("source")
    sink_url = sqs.create_queue(QueueName=sink)["QueueUrl"]
    source_url = sqs.create_queue(QueueName=source)["QueueUrl"]
    source_arn = f"arn:aws:sqs:us-east-1:000000000000:{source}"
    name = reporter(hosts, sink_url, sleep=0)
    mapping_id = hosts.client(second).create_event_source_mapping(
        FunctionName=name, EventSourceArn=source_arn
    )["UUID"]
    state_everywhere(hosts, mapping_id, "Enabled")
    sqs.send_message(QueueUrl=source_url, MessageBody="before")
    assert delivered(messages(sqs, sink, lambda found: bool(found), timeout=20)) == ["before"]
    disabling = hosts.client(first).update_event_source_mapping(UUID=mapping_id, Enabled=False, BatchSize=5)
    assert disabling["State"] == "Disabling"
    state_everywhere(hosts, mapping_id, "Disabled")
    assert hosts.client(second).get_event_source_mapping(UUID=mapping_id)["BatchSize"] == 5
    sqs.send_message(QueueUrl=source_url, MessageBody="while disabled")
    time.sleep(2)  # every node's pollers would have had it by now
    assert queue_counts(sqs, source_url) == (1, 0)
    assert hosts.client(second).delete_event_source_mapping(UUID=mapping_id)["State"] == "Deleting"
    for node in live(hosts):
        lam = hosts.client(node)

        def gone(lam: Any = lam) -> None:
            absent(lam, mapping_id)
            assert lam.list_event_source_mappings(FunctionName=name)["EventSourceMappings"] == []

        eventually(gone)
    assert hosts.redis_client().hget(CONFIGS, mapping_id) is None


def write_as_a_node_that_died(url: str, mapping_id: str, change: dict[str, Any]) -> None:
    """Change a stored mapping as node ``gone`` would (its notice heard by every node), and
    never settle it."""
    link = ClusterLink(url, "gone")
    store = RedisMappingStore(link, SCOPE, Scripts.register(link.sync))
    current = store.get_mapping(mapping_id)
    assert current is not None
    store.put_mapping(mapping_id, current | change | {"_revision": "gone-1"}, current["_revision"])
    link.sync.close()


def test_a_state_left_by_a_node_that_died_is_settled_by_another(hosts: ClusterHosts) -> None:
    lam = hosts.client(live(hosts)[0])
    sink_url = hosts.client(live(hosts)[0], "sqs").create_queue(QueueName=unique("sink"))["QueueUrl"]
    source = unique("source")
    hosts.client(live(hosts)[0], "sqs").create_queue(QueueName=source)
    name = reporter(hosts, sink_url, sleep=0)
    mapping_id = lam.create_event_source_mapping(
        FunctionName=name, EventSourceArn=f"arn:aws:sqs:us-east-1:000000000000:{source}"
    )["UUID"]
    state_everywhere(hosts, mapping_id, "Enabled")
    hosts.run(
        write_as_a_node_that_died, hosts.redis_url, mapping_id, {"State": "Disabling", "_enabled": False}
    )
    state_everywhere(hosts, mapping_id, "Disabled", timeout=10)  # --cluster-ttl 2 after it was heard
    stored = json.loads(hosts.redis_client().hget(CONFIGS, mapping_id))
    assert stored["State"] == "Disabled" and stored["_revision"] != "gone-1"


def test_two_updates_at_once_on_two_nodes_both_land(hosts: ClusterHosts) -> None:
    first, second = live(hosts)[:2]
    source = unique("source")
    hosts.client(first, "sqs").create_queue(QueueName=source)
    name = reporter(hosts, "unused", sleep=0)
    mapping_id = hosts.client(first).create_event_source_mapping(
        FunctionName=name, EventSourceArn=f"arn:aws:sqs:us-east-1:000000000000:{source}", Enabled=False
    )["UUID"]
    state_everywhere(hosts, mapping_id, "Disabled")
    one, other = hosts.client(first), hosts.client(second)
    for size in range(2, 7):  # each node changes its own field, from what it has read
        answers = hosts.run_many(
            [
                partial(one.update_event_source_mapping, UUID=mapping_id, BatchSize=size),
                partial(
                    other.update_event_source_mapping, UUID=mapping_id, MaximumBatchingWindowInSeconds=size
                ),
            ]
        )
        assert not [answer for answer in answers if isinstance(answer, BaseException)]
        for lam in (one, other):

            def both(lam: Any = lam, size: int = size) -> None:
                found = lam.get_event_source_mapping(UUID=mapping_id)
                assert (found["BatchSize"], found["MaximumBatchingWindowInSeconds"]) == (size, size)

            eventually(both)


def test_a_deletion_left_by_a_node_that_died_is_finished_by_another(hosts: ClusterHosts) -> None:
    lam = hosts.client(live(hosts)[0])
    source = unique("source")
    hosts.client(live(hosts)[0], "sqs").create_queue(QueueName=source)
    name = reporter(hosts, "unused", sleep=0)
    mapping_id = lam.create_event_source_mapping(
        FunctionName=name, EventSourceArn=f"arn:aws:sqs:us-east-1:000000000000:{source}"
    )["UUID"]
    state_everywhere(hosts, mapping_id, "Enabled")
    hosts.run(write_as_a_node_that_died, hosts.redis_url, mapping_id, {"State": "Deleting"})
    state_everywhere(hosts, mapping_id, "Deleting", timeout=1.5)
    with pytest.raises(lam.exceptions.ResourceConflictException) as refused:  # not a 500
        lam.delete_event_source_mapping(UUID=mapping_id)
    assert "being deleted" in str(refused.value)
    for node in live(hosts):
        client = hosts.client(node)

        eventually(partial(absent, client, mapping_id))
    assert hosts.redis_client().hget(CONFIGS, mapping_id) is None
