"""Merging several nodes' logs into one CloudWatch answer (``cluster/log_merge.py``)."""

from __future__ import annotations

import random

import pytest

from flare.cluster.log_merge import (
    ClusterFilterToken,
    NodeEvent,
    NodePage,
    cluster_event_id,
    merge_filter_page,
    merge_groups,
    merge_streams,
    merged_order,
    order_streams,
)
from flare.observe.logs import LogEvent
from flare.services.log_paging import BadToken, position
from flare.store.log_index import GroupRow, StreamRow


def group(name: str, created: int, retention: int | None = None) -> GroupRow:
    return GroupRow(name, created, retention, "STANDARD", 0)


def stream(name: str, created: int, first: int | None, last: int | None, size: int = 10) -> StreamRow:
    return StreamRow("/g", name, created, first, last, last, size, 0 if last else -1)


@pytest.mark.parametrize(
    ("nodes", "expected"),
    [
        ([[(group("/a", 5), 10)], [(group("/a", 3), 7)]], [("/a", 3, None, 17)]),
        ([[(group("/a", 5, 7), 1)], [(group("/a", 3), 1)]], [("/a", 3, 7, 2)]),
        ([[(group("/a", 5, 30), 0)], [(group("/a", 9, 7), 0)]], [("/a", 5, 7, 0)]),
        ([[(group("/b", 1), 1)], [(group("/a", 2), 2)], []], [("/a", 2, None, 2), ("/b", 1, None, 1)]),
    ],
)
def test_a_group_held_by_several_nodes_merges_its_fields(
    nodes: list[list[tuple[GroupRow, int]]], expected: list[tuple[str, int, int | None, int]]
) -> None:
    merged = merge_groups(nodes)
    assert [(g.row.name, g.row.created_ms, g.row.retention_days, g.stored_bytes) for g in merged] == expected


def test_streams_of_several_nodes_are_listed_once_each_by_name() -> None:
    merged = merge_streams([[stream("b", 2, 5, 9)], [stream("a", 1, 3, 4), stream("b", 1, None, None)]])
    assert [(s.name, s.created_ms, s.first_ms, s.last_ms, s.stored_bytes) for s in merged] == [
        ("a", 1, 3, 4, 10),
        ("b", 1, 5, 9, 20),
    ]
    by_last = order_streams(merged, by_last_event=True, descending=True)
    assert [s.name for s in by_last] == ["b", "a"]


def events_of(node: str, count: int, rng: random.Random) -> list[LogEvent]:
    stamps = sorted(rng.randrange(1000, 1040) for _ in range(count))  # many equal timestamps
    return [LogEvent(t, seq, t, f"{node}-{seq}", f"stream-{node}") for seq, t in enumerate(stamps)]


def page_of(node: str, held: list[LogEvent], at: tuple[int, int], limit: int) -> NodePage:
    """What ``log_parts.filtered`` answers: up to ``limit`` events from ``at`` on."""
    rest = [event for event in held if position(event) >= at]
    return NodePage(node, rest[:limit], len(rest) > limit)


@pytest.mark.parametrize("limit", [1, 3, 7, 50])
def test_paging_a_filter_over_nodes_neither_repeats_nor_skips(limit: int) -> None:
    rng = random.Random(limit)
    held = {node: events_of(node, count, rng) for node, count in (("n0", 23), ("n1", 0), ("n2", 31))}
    everything = sorted(
        (NodeEvent(node, event) for node, events in held.items() for event in events), key=merged_order
    )
    seen: list[NodeEvent] = []
    token: str | None = None
    for _ in range(200):
        at = ClusterFilterToken.decode(token)
        pages = [page_of(node, events, at.of(node), limit) for node, events in held.items()]
        chosen, following = merge_filter_page(pages, at, limit)
        assert len(chosen) <= limit
        seen.extend(chosen)
        if following is None:
            break
        token = following.encode()
    assert seen == everything
    assert len({cluster_event_id(item) for item in seen}) == len(seen)


def test_a_node_missing_from_one_page_keeps_its_place() -> None:
    rng = random.Random(7)
    held = {"n0": events_of("n0", 6, rng), "n1": events_of("n1", 6, rng)}
    first, token = merge_filter_page([page_of("n0", held["n0"], (0, 0), 4)], ClusterFilterToken({}), 4)
    assert token is not None and token.of("n1") == (0, 0)
    at = ClusterFilterToken.decode(token.encode())
    pages = [page_of(node, events, at.of(node), 20) for node, events in held.items()]
    rest, end = merge_filter_page(pages, at, 20)
    assert end is None
    assert sorted([*first, *rest], key=merged_order) == sorted(
        (NodeEvent(node, event) for node, events in held.items() for event in events), key=merged_order
    )


@pytest.mark.parametrize("token", ["not base64!", "e30=", "eyJub2RlcyI6IDN9", "eyJub2RlcyI6eyJhIjpbMV19fQ=="])
def test_a_token_no_page_handed_out_is_refused(token: str) -> None:
    with pytest.raises(BadToken):
        ClusterFilterToken.decode(token)


def test_events_of_one_millisecond_are_ordered_by_node_then_by_their_order_there() -> None:
    def at(node: str, seq: int) -> NodePage:
        return NodePage(node, [LogEvent(1000, seq, 1000, f"{node}-{seq}", "s")], False)

    chosen, _ = merge_filter_page([at("n1", 0), at("n0", 5), at("n2", 1)], ClusterFilterToken({}), 10)
    assert [item.event.message for item in chosen] == ["n0-5", "n1-0", "n2-1"]


def test_the_retention_the_cluster_recorded_wins_over_the_nodes() -> None:
    nodes = [[(group("/a", 5, 7), 1), (group("/b", 1, 3), 1)], [(group("/a", 3), 1)]]
    merged = merge_groups(nodes, {"/a": None, "/c": 5})
    assert [(g.row.name, g.row.retention_days) for g in merged] == [("/a", None), ("/b", 3)]


def test_a_node_cut_short_by_the_page_bytes_bounds_the_page() -> None:
    cut = NodePage("n0", [LogEvent(100, 0, 100, "a" * 10, "s")], more=True)  # n0 holds ts 150 next
    full = NodePage("n1", [LogEvent(t, k, t, "b", "s") for k, t in enumerate((50, 120, 200))], more=False)
    chosen, token = merge_filter_page([cut, full], ClusterFilterToken({}), 10)
    assert [(item.node, item.event.timestamp_ms) for item in chosen] == [("n1", 50), ("n0", 100)]
    assert token is not None and token.of("n1") == (50, 1) and token.of("n0") == (100, 1)
