"""Routing an invoke in a cluster (``cluster/routing.py``): every node picks the same home for a
function, a node leaving moves only its own functions, a full home spills over, a suspect node
is passed over."""

from __future__ import annotations

from flare.cluster.membership import NodeInfo
from flare.cluster.routing import choose, home_of, route_key

NAMES = [f"node-{index}" for index in range(5)]
KEYS = [route_key("123456789012", "us-east-1", f"fn-{number}", None) for number in range(2000)]


def node(name: str, busy: int = 0, capacity: int = 10) -> NodeInfo:
    return NodeInfo(name, f"http://{name}:9000", 100, 1024, capacity, busy, busy)


def test_every_node_picks_the_same_home() -> None:
    live = [node(name) for name in NAMES]
    for key in KEYS[:50]:
        homes = {choose(key, live, here) for here in NAMES}
        assert len(homes) == 1
        assert homes == {home_of(key, NAMES)}


def test_functions_spread_over_the_nodes() -> None:
    counts = {name: 0 for name in NAMES}
    for key in KEYS:
        home = home_of(key, NAMES)
        assert home is not None
        counts[home] += 1
    assert min(counts.values()) > len(KEYS) / len(NAMES) * 0.8


def test_a_node_leaving_moves_only_its_own_functions() -> None:
    before = {key: home_of(key, NAMES) for key in KEYS}
    after = {key: home_of(key, NAMES[:-1]) for key in KEYS}
    moved = [key for key in KEYS if before[key] != after[key]]
    assert moved and all(before[key] == NAMES[-1] for key in moved)


def test_a_full_home_spills_over_to_the_node_with_most_room() -> None:
    key = KEYS[0]
    home = home_of(key, NAMES)
    assert home is not None
    live = [node(name, busy=10 if name == home else 7) for name in NAMES]
    roomiest = next(name for name in NAMES if name != home)
    live = [node(info.name, busy=2) if info.name == roomiest else info for info in live]
    assert choose(key, live, here=home) == roomiest


def test_a_full_cluster_runs_it_where_it_arrived() -> None:
    live = [node(name, busy=10) for name in NAMES]
    assert choose(KEYS[0], live, here="node-3") == "node-3"


def test_a_suspect_home_is_passed_over_but_never_the_node_itself() -> None:
    key = KEYS[0]
    home = home_of(key, NAMES)
    assert home is not None
    live = [node(name) for name in NAMES]
    others = [name for name in NAMES if name != home]
    assert choose(key, live, here=others[0], suspects={home}) == home_of(key, others)
    assert choose(key, live, here=home, suspects={home}) == home


def test_alone_it_runs_everything_itself() -> None:
    assert choose(KEYS[0], [], here="node-0") == "node-0"
    assert choose(KEYS[0], [node("node-0")], here="node-0") == "node-0"
