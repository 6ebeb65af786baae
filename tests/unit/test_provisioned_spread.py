"""Provisioned environments spread over a cluster's nodes (``cluster/provisioned_spread.py``)."""

from __future__ import annotations

import pytest

from flare.cluster.provisioned_spread import share_of
from flare.cluster.routing import home_of

NODES = ["node-0", "node-1", "node-2"]


@pytest.mark.parametrize("count", [0, 1, 2, 3, 4, 7, 100])
def test_the_shares_add_up_and_are_at_most_one_apart(count: int) -> None:
    for key in ("fn:1", "other:7", "x:$LATEST"):
        shares = [share_of(count, NODES, key, node) for node in NODES]
        assert sum(shares) == count
        assert max(shares) - min(shares) <= 1


def test_one_environment_goes_to_the_functions_home() -> None:
    for number in range(20):
        key = f"fn-{number}:1"
        home = home_of(key, NODES)
        assert [share_of(1, NODES, key, node) for node in NODES] == [int(node == home) for node in NODES]


def test_a_node_that_is_not_a_member_runs_all_of_it() -> None:
    assert share_of(5, NODES, "fn:1", "node-9") == 5
    assert share_of(5, ["node-0"], "fn:1", "node-0") == 5
