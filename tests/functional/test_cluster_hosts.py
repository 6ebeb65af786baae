"""The multi-host harness itself (``tests/cluster_hosts.py``): nodes in namespaces of their own,
reachable from the clients' namespace only, and nothing left behind."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.cluster_hosts import ClusterHosts, answers, available

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))


def namespaces() -> set[str]:
    listed = subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=True).stdout
    return {line.split()[0] for line in listed.splitlines() if line.strip()}


def host_addresses() -> str:
    return subprocess.run(["ip", "-o", "addr"], capture_output=True, text=True, check=True).stdout


def test_nodes_run_in_their_own_namespaces_reachable_from_the_clients_only(tmp_path: Path) -> None:
    before = namespaces()
    with ClusterHosts.start(tmp_path, nodes=2) as hosts:
        made = namespaces() - before
        assert {f"{hosts.prefix}-n0", f"{hosts.prefix}-n1", f"{hosts.prefix}-redis"} <= made
        for node in hosts.nodes:
            net = Path(f"/proc/{node.pid}/ns/net").stat().st_ino
            assert net == Path(f"/run/netns/{node.netns}").stat().st_ino
            assert hosts.client(node).list_functions()["Functions"] == []
            assert node.address not in host_addresses()
            assert not answers(node.address, 9000)  # not from the host's own namespace
        assert hosts.redis_client().ping()
        assert hosts.redis.process is not None
        pids = [node.pid for node in hosts.nodes] + [hosts.redis.process.pid]
    assert namespaces() == before
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists()


def test_a_failing_test_still_tears_everything_down(tmp_path: Path) -> None:
    before = namespaces()
    pids: list[int] = []
    with pytest.raises(RuntimeError, match="the test failed"), ClusterHosts.start(tmp_path, nodes=1) as hosts:
        pids = [hosts.nodes[0].pid]
        raise RuntimeError("the test failed")
    assert namespaces() == before
    assert not Path(f"/proc/{pids[0]}").exists()
