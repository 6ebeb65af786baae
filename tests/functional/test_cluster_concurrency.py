"""One account across three hosts: its concurrency limit and reservations hold whichever node
an invoke lands on, a killed node's leases expire, the survivors keep serving, and
``flare cluster status`` lists the live nodes. Nodes in network namespaces
(``tests/cluster_hosts.py``), called through boto3 from the clients' namespace."""

from __future__ import annotations

import functools
import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import Future
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from flare.cluster.link import ClusterLink
from flare.cluster.routing import home_of, route_key
from flare.scope import Scope
from tests.cluster_functions import create_seen_everywhere
from tests.cluster_hosts import KEY_ID, SECRET, ClusterHosts, available
from tests.conftest import FLARE, create_function, python_function

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

ACCOUNT = 10
TTL_S = 1.5
HOLD = "import time\ndef handler(event, context):\n    time.sleep(event.get('sleep', 0))\n    return 'done'\n"
LEASES = ClusterLink.scoped(Scope("000000000000", "us-east-1"), "ledger", "all")
NODES = ["node-0", "node-1", "node-2"]
NODE_ARGS = ("--account-concurrency", str(ACCOUNT), "--min-unreserved", "1", "--cluster-ttl", str(TTL_S))


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterHosts]:
    with ClusterHosts.start(tmp_path_factory.mktemp("cluster"), nodes=3, node_args=NODE_ARGS) as started:
        yield started


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:8]}"


def deploy(hosts: ClusterHosts, name: str, reserved: int | None = None) -> None:
    """``name`` (and its reservation) made once, and seen by every live node."""

    def create(lam: Any) -> None:
        create_function(lam, name, python_function(HOLD), Timeout=60)
        if reserved is not None:
            lam.put_function_concurrency(FunctionName=name, ReservedConcurrentExecutions=reserved)

    def seen(lam: Any) -> None:
        found = lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")
        assert found == reserved

    create_seen_everywhere(hosts, seen, create)


def outcome(hosts: ClusterHosts, node: int, name: str, sleep: float = 0) -> str:
    """``200``, or the throttle's Reason (a 429 TooManyRequestsException, checked)."""
    lam = hosts.client(node)
    try:
        response = lam.invoke(FunctionName=name, Payload=json.dumps({"sleep": sleep}).encode())
    except ClientError as error:
        assert error.response["Error"]["Code"] == "TooManyRequestsException"
        assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 429
        reason = error.response["Reason"]  # type: ignore[typeddict-item]  # modeled members are not in botocore-stubs
        return str(reason)
    response["Payload"].read()
    return str(response["StatusCode"])


def in_background(hosts: ClusterHosts, calls: list[Callable[[], str]]) -> list[Future[str]]:
    return [hosts.threads.submit(call) for call in calls]


def wait_for(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"not within {timeout} s: {what}")


def leases(hosts: ClusterHosts) -> int:
    return int(hosts.redis_client().zcard(LEASES))


def redis_now_ms(hosts: ClusterHosts) -> int:
    seconds, micros = hosts.redis_client().time()
    return int(seconds) * 1000 + int(micros) // 1000


def leases_by_node(hosts: ClusterHosts) -> dict[str, int]:
    """Invocations running now, by node, as the nodes report them at their heartbeats (each
    running invocation is one busy environment holding one lease)."""
    return {node["Name"]: node["Busy"] for node in hosts.status(0)["Nodes"]}


def homed_on(node: str, prefix: str) -> str:
    """A new function name whose home (``cluster/routing.py``) is ``node``."""
    while True:
        name = unique(prefix)
        if home_of(route_key("000000000000", "us-east-1", name, None), NODES) == node:
            return name


def test_the_account_limit_holds_across_three_nodes(hosts: ClusterHosts) -> None:
    names = [homed_on(node.name, "limit") for node in hosts.nodes]  # one function per node
    for name in names:
        deploy(hosts, name)
    # 15 s each: long enough to outlast the checks below on a loaded machine (checked after)
    calls: list[Callable[[], str]] = [
        functools.partial(outcome, hosts, i % 3, names[i % 3], 15) for i in range(ACCOUNT)
    ]
    running = in_background(hosts, calls)
    wait_for(lambda: leases(hosts) == ACCOUNT, 15, f"{ACCOUNT} invocations running")
    wait_for(lambda: sum(leases_by_node(hosts).values()) == ACCOUNT, 5, "the nodes' beats")
    assert sorted(leases_by_node(hosts).values()) == [3, 3, 4]  # held on all three nodes
    for node in range(3):  # the 11th, wherever it lands and whichever function it is
        assert outcome(hosts, node, names[node]) == "ConcurrentInvocationLimitExceeded"
        assert outcome(hosts, node, names[(node + 1) % 3]) == "ConcurrentInvocationLimitExceeded"
    assert leases(hosts) == ACCOUNT  # the ten were still running: the throttles above were theirs
    assert [future.result(60) for future in running] == ["200"] * ACCOUNT
    wait_for(lambda: leases(hosts) == 0, 5, "every lease released")
    assert outcome(hosts, 1, names[0]) == "200"


def test_reserved_concurrency_holds_across_nodes(hosts: ClusterHosts) -> None:
    name = homed_on("node-0", "reserved")
    deploy(hosts, name, reserved=2)
    running = in_background(hosts, [functools.partial(outcome, hosts, node, name, 10) for node in (0, 1)])
    wait_for(lambda: leases(hosts) == 2, 15, "two invocations running")
    assert outcome(hosts, 2, name) == "ReservedFunctionConcurrentInvocationLimitExceeded"
    other = unique("unreserved")
    deploy(hosts, other)
    assert outcome(hosts, 2, other) == "200"  # the rest of the account is not reserved
    wait_for(lambda: leases(hosts) == 2, 2, "the unreserved one's lease released; both still running")
    assert [future.result(60) for future in running] == ["200", "200"]


def cluster_status(hosts: ClusterHosts, node: int) -> dict[str, Any]:
    """``flare cluster status --json`` run in the clients' namespace against ``node``."""
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(hosts.root),
        "AWS_ACCESS_KEY_ID": KEY_ID,
        "AWS_SECRET_ACCESS_KEY": SECRET,
    }
    args = ["nsenter", f"--net=/run/netns/{hosts.threads.netns}", str(FLARE), "cluster", "status"]
    args += ["--endpoint-url", hosts.nodes[node].url, "--json"]
    done = subprocess.run(args, capture_output=True, text=True, env=env, timeout=30)
    assert done.returncode == 0, done.stderr
    answer: dict[str, Any] = json.loads(done.stdout)
    return answer


def test_cluster_status_lists_every_node_with_its_capacity(hosts: ClusterHosts) -> None:
    answer = cluster_status(hosts, 1)
    assert answer["Node"] == "node-1"
    nodes = {node["Name"]: node for node in answer["Nodes"]}
    assert sorted(nodes) == ["node-0", "node-1", "node-2"]
    for index, node in enumerate(hosts.nodes):
        listed = nodes[node.name]
        assert listed["Url"] == node.url
        assert listed["AccountShare"] == ACCOUNT // 3
        assert listed["MemoryMB"] > 0 and listed["MaxEnvironments"] > 0
        assert listed["LastBeatSecondsAgo"] <= TTL_S
        assert listed["Environments"] >= 1  # every test above ran something on every node
        assert index == int(node.name.split("-")[1])


def test_a_killed_nodes_leases_expire_and_the_survivors_keep_serving(tmp_path: Path) -> None:
    args = ("--account-concurrency", "3", "--min-unreserved", "1", "--cluster-ttl", str(TTL_S))
    with ClusterHosts.start(tmp_path, nodes=3, node_args=args) as hosts:
        name = homed_on("node-2", "failover")  # so that node-2 runs what it is sent
        deploy(hosts, name)
        doomed = hosts.nodes[2]
        in_background(hosts, [lambda: outcome(hosts, 2, name, 30) for _ in range(3)])
        wait_for(lambda: leases(hosts) == 3, 15, "three invocations running on node-2")
        assert outcome(hosts, 0, name) == "ConcurrentInvocationLimitExceeded"
        expiries = [score for _, score in hosts.redis_client().zrange(LEASES, 0, -1, withscores=True)]
        hosts.kill(doomed)
        wait_for(lambda: outcome(hosts, 0, name) == "200", 5 * TTL_S, "node-2's leases expired")
        assert redis_now_ms(hosts) >= min(expiries)  # not released: granted once one had expired
        assert [outcome(hosts, node, name) for node in (0, 1, 0, 1)] == ["200"] * 4
        assert leases(hosts) == 0
        wait_for(
            lambda: [node["Name"] for node in cluster_status(hosts, 0)["Nodes"]] == ["node-0", "node-1"],
            3 * TTL_S,
            "node-2 dropped from cluster status",
        )
