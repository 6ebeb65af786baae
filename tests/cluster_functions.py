"""Making a function once on a cluster and waiting until every node sees it.

A cluster's nodes share their registry (Redis), and each hears of a change made on another
within milliseconds (``cluster/registry_changes.py``): so a test creates a function once, on
one node, then waits for the others. Creating it on "each node that does not see it yet"
races that notice (a node that has not heard yet answers 404, and the create then gets
ResourceConflict).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import Any, TypeVar

from botocore.exceptions import ClientError

from tests.cluster_hosts import ClusterHosts

T = TypeVar("T")


def eventually(probe: Callable[[], T], timeout: float = 10) -> T:
    """``probe()``'s value once it stops raising AssertionError or ClientError (a change made
    on one node reaches the others asynchronously)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return probe()
        except (AssertionError, ClientError):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def create_seen_everywhere(
    hosts: ClusterHosts, seen: Callable[[Any], object], create: Callable[[Any], object]
) -> None:
    """``create(client)`` once, on the first live node, then wait (10 s at most) until
    ``seen(client)`` answers without ResourceNotFound (or an assertion) on every live node."""
    live = [node for node in hosts.nodes if node.alive()]
    create(hosts.client(live[0]))
    for client in [hosts.client(node) for node in live]:
        eventually(partial(seen, client))
