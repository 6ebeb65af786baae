"""Merging what several nodes hold of one account's logs into one CloudWatch answer. Pure
functions over the nodes' answers (``cluster/log_parts.py``), tested from tables.

A log group is one name that several nodes may hold (each writes the streams of the
environments it runs): merged, its creation time is the earliest, its stored bytes the sum, its
retention the one the cluster recorded (``cluster/log_retention.py``), else the shortest any
node holds (a group that came from a single Flare's data before it joined). A stream is
written on one node; should two nodes hold the same name, its fields are merged likewise.

FilterLogEvents pages over every node at once. Each node's events are ordered by their
position (timestamp, seq) on that node (``seq`` numbers a group's events per node); merged,
events are ordered by (timestamp, node name, seq), a stable order every asking node computes
alike. The ``nextToken`` holds each node's own position (``ClusterFilterToken``): a page asks
each node for up to ``limit`` events at or after its position, takes the first ``limit`` of
the merge (within the page's byte budget, and not past the last event of a node that holds
more than it sent) and moves each node's position past the last event it took from it, so
paging neither repeats nor skips whatever nodes answer, and pages follow one another in order.
A node missing from one page keeps its position.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace

from flare.observe.logs import LogEvent
from flare.services.log_paging import BadToken, Position, after, page_count
from flare.store.log_index import GroupRow, StreamRow

START: Position = (0, 0)


@dataclass(frozen=True)
class MergedGroup:
    """A log group as the whole cluster holds it."""

    row: GroupRow
    stored_bytes: int


def merge_groups(
    answers: Iterable[Iterable[tuple[GroupRow, int]]], given: Mapping[str, int | None] | None = None
) -> list[MergedGroup]:
    """Each node's (group, stored bytes) merged by name (module docstring), sorted by name;
    ``given``: the retention the cluster recorded for groups (it wins over the nodes')."""
    merged: dict[str, MergedGroup] = {}
    for rows in answers:
        for row, stored in rows:
            seen = merged.get(row.name)
            if seen is None:
                merged[row.name] = MergedGroup(row, stored)
                continue
            kept = seen.row
            days = [d for d in (kept.retention_days, row.retention_days) if d is not None]
            merged[row.name] = MergedGroup(
                replace(
                    kept,
                    created_ms=min(kept.created_ms, row.created_ms),
                    retention_days=min(days) if days else None,
                ),
                seen.stored_bytes + stored,
            )
    given = given or {}
    return [
        MergedGroup(replace(merged[name].row, retention_days=given[name]), merged[name].stored_bytes)
        if name in given
        else merged[name]
        for name in sorted(merged)
    ]


def _least(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else min(a, b)


def _most(a: int | None, b: int | None) -> int | None:
    return b if a is None else a if b is None else max(a, b)


def merge_streams(answers: Iterable[Iterable[StreamRow]]) -> list[StreamRow]:
    """Each node's streams of one group merged by name, sorted by name."""
    merged: dict[str, StreamRow] = {}
    for rows in answers:
        for row in rows:
            seen = merged.get(row.name)
            merged[row.name] = (
                row
                if seen is None
                else replace(
                    seen,
                    created_ms=min(seen.created_ms, row.created_ms),
                    first_ms=_least(seen.first_ms, row.first_ms),
                    last_ms=_most(seen.last_ms, row.last_ms),
                    ingested_ms=_most(seen.ingested_ms, row.ingested_ms),
                    stored_bytes=seen.stored_bytes + row.stored_bytes,
                    last_seq=max(seen.last_seq, row.last_seq),
                )
            )
    return [merged[name] for name in sorted(merged)]


def order_streams(rows: Sequence[StreamRow], by_last_event: bool, descending: bool) -> list[StreamRow]:
    """Streams (by name) in DescribeLogStreams' order, as ``LogService.streams`` orders them."""
    ordered = list(rows)
    if by_last_event:
        ordered.sort(key=lambda row: (row.last_ms or 0, row.name))
    return ordered[::-1] if descending else ordered


@dataclass(frozen=True)
class ClusterFilterToken:
    """Where each node's events stand in a paged FilterLogEvents (module docstring)."""

    positions: dict[str, Position]

    def of(self, node: str) -> Position:
        return self.positions.get(node, START)

    def encode(self) -> str:
        raw = {node: list(at) for node, at in sorted(self.positions.items())}
        return base64.urlsafe_b64encode(json.dumps({"nodes": raw}).encode()).decode()

    @classmethod
    def decode(cls, token: str | None) -> ClusterFilterToken:
        """The token a page handed out (None: the first page). Raises :class:`BadToken`."""
        if not token:
            return cls({})
        try:
            raw = json.loads(base64.urlsafe_b64decode(token.encode()))["nodes"]
            return cls({str(node): (int(at[0]), int(at[1])) for node, at in raw.items()})
        except (binascii.Error, ValueError, TypeError, KeyError, IndexError, AttributeError):
            raise BadToken(token) from None


@dataclass(frozen=True)
class NodeEvent:
    """An event and the node that holds it."""

    node: str
    event: LogEvent


@dataclass(frozen=True)
class NodePage:
    """One node's answer to a page: its next events from its position on, and whether it
    holds more than it sent."""

    node: str
    events: list[LogEvent]
    more: bool


def merged_order(item: NodeEvent) -> tuple[int, str, int]:
    return (item.event.timestamp_ms, item.node, item.event.seq)


def merge_filter_page(
    pages: Sequence[NodePage], token: ClusterFilterToken, limit: int
) -> tuple[list[NodeEvent], ClusterFilterToken | None]:
    """One cluster-wide FilterLogEvents page from the nodes' pages (each asked for up to
    ``limit`` events after its position in ``token``), and the next token (None when no node
    that answered holds more). A node that holds more than it sent (its page was cut by
    ``limit`` or by the page's bytes) bounds the page: nothing after its last event is taken,
    since what it did not send may come before it."""
    merged = sorted((NodeEvent(page.node, e) for page in pages for e in page.events), key=merged_order)
    bounds = [
        merged_order(NodeEvent(page.node, page.events[-1])) for page in pages if page.more and page.events
    ]
    if bounds:
        merged = [item for item in merged if merged_order(item) <= min(bounds)]
    count = page_count([item.event for item in merged], limit)
    chosen = merged[:count]
    positions = dict(token.positions)
    for item in chosen:
        positions[item.node] = after(item.event)
    taken = {node: sum(1 for item in chosen if item.node == node) for node in {p.node for p in pages}}
    more = any(page.more or taken[page.node] < len(page.events) for page in pages)
    return chosen, ClusterFilterToken(positions) if more and chosen else None


def node_tag(node: str) -> int:
    """Six digits naming ``node`` in event ids."""
    return int.from_bytes(hashlib.blake2b(node.encode(), digest_size=8).digest(), "big") % 1_000_000


def cluster_event_id(item: NodeEvent) -> str:
    """A 56-digit event id unique across the nodes (each numbers its own events): timestamp,
    the node's tag, its seq."""
    return f"{item.event.timestamp_ms:020d}{node_tag(item.node):06d}{item.event.seq:030d}"
