"""Which node runs an invoke: the function's home node, by rendezvous hashing, unless it is
full or unreachable. Pure decisions over the membership a node keeps from its heartbeats
(``cluster/membership.py``): routing costs no Redis round trip.

Every node computes the same home for the same function (account, region, name, qualifier)
from the same live nodes: the node whose ``weight(node, key)`` is highest (rendezvous, or
highest-random-weight, hashing). So a function's invocations meet on one node and find its
warm environments there, and when a node joins or leaves only the functions whose home it is
(or becomes) move. Spill-over: a home with no free capacity in its last beat
(``NodeInfo.free``) is passed over for the node with the most free capacity (this node on a
tie). A node that just failed to answer a forwarded invoke is *suspect* for a while
(``SUSPECT_S``) and left out, so a killed node's functions move at once, before its
heartbeat expires.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence

from flare.cluster.membership import NodeInfo

SUSPECT_S = 5.0
"""How long a node that failed to answer a forwarded invoke is left out of routing."""


def route_key(account: str, region: str, function: str, qualifier: str | None) -> str:
    """What an invoke is routed by: its function (and qualifier) in its account and region."""
    return f"{account}:{region}:{function}:{qualifier or '$LATEST'}"


def weight(node: str, key: str) -> int:
    """``node``'s rendezvous weight for ``key``: 64 bits of BLAKE2b over both."""
    digest = hashlib.blake2b(f"{node}\n{key}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big")


def home_of(key: str, nodes: Sequence[str]) -> str | None:
    """The node ``key`` belongs on (None when there is none)."""
    return max(nodes, key=lambda node: weight(node, key), default=None)


def choose(key: str, live: Sequence[NodeInfo], here: str, suspects: Collection[str] = ()) -> str:
    """The node that should run the invoke routed by ``key``: its home among ``live`` (less
    ``suspects``), or, when the home reports no free capacity, the node with the most (``here``
    first on a tie). ``here`` when no other node is known."""
    candidates = [node for node in live if node.name == here or node.name not in suspects]
    home = home_of(key, [node.name for node in candidates])
    if home is None:
        return here
    by_name = {node.name: node for node in candidates}
    if by_name[home].free > 0:
        return home
    return max(candidates, key=lambda node: (node.free, node.name == here)).name
