"""Any node accepts any invoke, and it runs on the function's home node, where its warm
environments are: forwarded node to node, answered as if the client had called the home;
a forwarded call without the cluster's token is refused; a killed home's functions run on
the survivors at once. Nodes in network namespaces (``tests/cluster_hosts.py``)."""

from __future__ import annotations

import base64
import http.client
import json
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError

from flare.cluster.routing import home_of, route_key
from tests.cluster_functions import create_seen_everywhere
from tests.cluster_hosts import KEY_ID, SECRET, ClusterHosts, available
from tests.conftest import create_function, python_function
from tests.signing import signed_headers

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

WHERE = "import os\ndef handler(event, context):\n    return os.readlink('/proc/self/ns/net')\n"
FAILS = "import os\ndef handler(event, context):\n    raise ValueError(os.readlink('/proc/self/ns/net'))\n"
NODES = ["node-0", "node-1", "node-2"]


@pytest.fixture(scope="module")
def hosts(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClusterHosts]:
    with ClusterHosts.start(
        tmp_path_factory.mktemp("routing"), nodes=3, node_args=("--cluster-ttl", "1.5")
    ) as made:
        yield made


def homed_on(node: str, prefix: str, among: list[str] = NODES) -> str:
    """A new function name whose home among ``among`` is ``node``."""
    while True:
        name = f"{prefix}-{uuid.uuid4().hex[:8]}"
        if home_of(route_key("000000000000", "us-east-1", name, None), among) == node:
            return name


def deploy(hosts: ClusterHosts, name: str, source: str) -> None:
    """``name`` made once, and seen by every live node."""
    create_seen_everywhere(
        hosts,
        lambda lam: lam.get_function(FunctionName=name),
        lambda lam: create_function(lam, name, python_function(source)),
    )


def ran_on(hosts: ClusterHosts, payload: bytes) -> str:
    """The node whose network namespace an environment of ``WHERE`` reported."""
    inode = int(json.loads(payload).removeprefix("net:[").removesuffix("]"))
    return next(node.name for node in hosts.nodes if Path(f"/run/netns/{node.netns}").stat().st_ino == inode)


def test_every_node_runs_an_invoke_on_the_functions_home(hosts: ClusterHosts) -> None:
    name = homed_on("node-1", "where")
    deploy(hosts, name, WHERE)
    places, cold = [], 0
    for index in range(6):
        response = hosts.client(index % 3).invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
        places.append(ran_on(hosts, response["Payload"].read()))
        cold += "Init Duration" in base64.b64decode(response["LogResult"]).decode()
    assert places == ["node-1"] * 6
    assert cold == 1  # one environment, started once, served every node's invokes


def test_a_forwarded_invoke_answers_as_the_home_would(hosts: ClusterHosts) -> None:
    name = homed_on("node-2", "fails")
    deploy(hosts, name, FAILS)
    response = hosts.client(0).invoke(FunctionName=name, Payload=b"{}", LogType="Tail")
    assert response["StatusCode"] == 200
    assert response["FunctionError"] == "Unhandled"
    assert response["ExecutedVersion"] == "$LATEST"
    error = json.loads(response["Payload"].read())
    assert error["errorType"] == "ValueError"
    assert ran_on(hosts, json.dumps(error["errorMessage"]).encode()) == "node-2"
    assert "ValueError" in base64.b64decode(response["LogResult"]).decode()
    with pytest.raises(ClientError) as missing:
        hosts.client(0).invoke(FunctionName=homed_on("node-2", "missing"), Payload=b"{}")
    assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def raw_invoke(address: str, name: str, headers: dict[str, str]) -> tuple[int, str, bytes]:
    connection = http.client.HTTPConnection(address, 9000, timeout=10)
    try:
        connection.request("POST", f"/2015-03-31/functions/{name}/invocations", body=b"{}", headers=headers)
        response = connection.getresponse()
        return response.status, response.getheader("x-amzn-ErrorType") or "", response.read()
    finally:
        connection.close()


def test_a_forwarded_invoke_without_the_clusters_token_is_refused(hosts: ClusterHosts) -> None:
    name = homed_on("node-0", "token")
    deploy(hosts, name, WHERE)
    node = hosts.nodes[0]
    url = f"{node.url}/2015-03-31/functions/{name}/invocations"
    headers = signed_headers("POST", url, b"{}", key=KEY_ID, secret=SECRET)
    forged = {**headers, "x-flare-forwarded-by": "node-1", "x-flare-cluster-token": "guessed"}
    status, kind, _ = hosts.run(raw_invoke, node.address, name, forged)
    assert (status, kind.split(":")[0]) == (403, "AccessDeniedException")
    token = hosts.redis_client().get("flare:cluster:{nodes}:token").decode()
    good = {**headers, "x-flare-forwarded-by": "node-1", "x-flare-cluster-token": token}
    status, _, body = hosts.run(raw_invoke, node.address, name, good)
    assert status == 200 and json.loads(body).startswith("net:[")


def test_provisioned_environments_spread_over_the_nodes_and_serve_where_they_are(hosts: ClusterHosts) -> None:
    name = homed_on("node-0", "provisioned")
    deploy(hosts, name, WHERE)
    for node in hosts.nodes:  # on each node's registry, or once on a shared one
        lam = hosts.client(node)
        if not any(v["Version"] == "1" for v in lam.list_versions_by_function(FunctionName=name)["Versions"]):
            lam.publish_version(FunctionName=name)
        lam.put_provisioned_concurrency_config(
            FunctionName=name, Qualifier="1", ProvisionedConcurrentExecutions=3
        )
    lam = hosts.client(1)
    deadline = time.monotonic() + 30
    while lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1")["Status"] != "READY":
        assert time.monotonic() < deadline, "not READY within 30 s"
        time.sleep(0.1)
    config = lam.get_provisioned_concurrency_config(FunctionName=name, Qualifier="1")
    assert config["AvailableProvisionedConcurrentExecutions"] == 3
    ready = hosts.redis_client().hgetall(f"flare:{{000000000000:us-east-1}}:provisioned:{name}:1")
    assert {node.decode(): int(count) for node, count in ready.items()} == {n: 1 for n in NODES}
    holders = hosts.redis_client().zrange("flare:{000000000000:us-east-1}:ledger:all", 0, -1)
    assert len([holder for holder in holders if b":provisioned:" in holder]) == 3  # not 3 per node
    for via in range(3):  # each node serves from its own provisioned environment, no INIT
        response = hosts.client(via).invoke(FunctionName=name, Qualifier="1", Payload=b"{}", LogType="Tail")
        assert ran_on(hosts, response["Payload"].read()) == NODES[via]
        assert "Init Duration" not in base64.b64decode(response["LogResult"]).decode()


def test_a_killed_homes_functions_run_on_the_survivors_at_once(hosts: ClusterHosts) -> None:
    name = homed_on("node-2", "orphan")
    deploy(hosts, name, WHERE)
    assert (
        ran_on(hosts, hosts.client(0).invoke(FunctionName=name, Payload=b"{}")["Payload"].read()) == "node-2"
    )
    hosts.kill(hosts.nodes[2])
    # before node-2's heartbeat expires: the first forward fails, and it runs where it arrived
    for via in (0, 1, 0, 1):
        response = hosts.client(via).invoke(FunctionName=name, Payload=b"{}")
        assert response["StatusCode"] == 200
        assert ran_on(hosts, response["Payload"].read()) in ("node-0", "node-1")
    hosts.wait_converged()  # node-2 is dropped: its functions have a new home
    name = homed_on("node-1", "rehomed", NODES[:2])
    deploy(hosts, name, WHERE)
    places = [
        ran_on(hosts, hosts.client(via).invoke(FunctionName=name, Payload=b"{}")["Payload"].read())
        for via in (0, 1)
    ]
    assert places == ["node-1", "node-1"]
