"""One account's CloudWatch Logs across the cluster: logs stay where they are written, reads
span the nodes.

Each node writes the logs of the environments it runs to its own files and index, as on one
node (``observe/logs.py``): an invoke pays nothing more. A call about logs asks every live
node its part (``cluster/log_parts.py``; this node's own part directly, the others over HTTP,
``cluster/log_peers.py``) and merges (``cluster/log_merge.py``). We chose this over moving every
log line into Redis, which would put a Redis write on every invoke and every log line, and
Redis memory under every byte of logs; what it costs instead is one request per other live
node per logs call, and a node that is down has its logs missing from the answers until it is
back (skipped, logged, never an error).

- Describing groups and streams: the union over the nodes (merged by name), paged by the
  asking node over the merged, sorted result.
- GetLogEvents: answered by the node that holds the stream (this one if it does, else the one
  that says it does); its tokens are that stream's, as on one node.
- FilterLogEvents: merged by timestamp, with a token holding each node's own position.
- StartLiveTail: every node asked once a second (``cluster/cluster_tail.py``).
- PutRetentionPolicy, DeleteRetentionPolicy, DeleteLogGroup, DeleteLogStream: applied on every
  node that holds the group or stream (ResourceNotFound when none does); a retention is also
  recorded in Redis for the nodes that hold the group later (``cluster/log_retention.py``), and
  what is recorded there is the group's retention in every answer.
- CreateLogGroup and CreateLogStream make it on this node, unless some node holds it already
  (ResourceAlreadyExists; two nodes creating the same name at the same instant can both
  succeed: their groups then merge). PutLogEvents stores where the stream is.

Every call raises the single-node service's errors for its own rules (this node answers its
own part first, so a bad request never fans out).
"""

from __future__ import annotations

from typing import Any

from flare.cluster import log_parts
from flare.cluster.log_merge import (
    ClusterFilterToken,
    MergedGroup,
    NodeEvent,
    NodePage,
    merge_filter_page,
    merge_groups,
    merge_streams,
    order_streams,
)
from flare.cluster.log_peers import ArgsFor, LogPeers
from flare.cluster.log_retention import LogRetention
from flare.scope import Scope
from flare.services import logs as rules
from flare.services.errors import LogInvalidParameter, LogResourceExists, LogResourceNotFound
from flare.services.log_paging import MAX_EVENTS, BadToken, StreamPage, parse_stream_token
from flare.services.logs import NO_GROUP, NO_STREAM, LogService, Rejected, StreamQuery
from flare.store.log_index import StreamRow

Body = dict[str, Any]
Window = tuple[int | None, int | None]


class ClusterLogs:
    """The logs of ``scope`` on every live node, asked from this one (whose service is
    ``logs``). Cheap to make: one per call."""

    def __init__(self, logs: LogService, scope: Scope, peers: LogPeers, retention: LogRetention) -> None:
        self.logs = logs
        self.scope = scope
        self._peers = peers
        self._retention = retention

    async def everywhere(self, part: str, args_for: ArgsFor) -> list[tuple[str, Body]]:
        """Every live node's answer, this node's first (its errors raised to the caller)."""
        here = self._peers.node_name
        own = log_parts.answer(self.logs, part, args_for(here))
        return [(here, own), *await self._peers.ask(self.scope, part, args_for)]

    async def _holder(self, part: str, args: Body) -> Body:
        """The answer of the node that holds the stream ``args`` name: this one if it does
        (no other is asked), else the first other that says it does. Raises
        ResourceNotFound (of the stream if some node has the group, else of the group)."""
        own = log_parts.answer(self.logs, part, args)
        if own["Found"]:
            return own
        answers = [answer for _, answer in await self._peers.ask(self.scope, part, lambda _: args)]
        for answer in answers:
            if answer["Found"]:
                return answer
        group_held = own["Group"] or any(answer["Group"] for answer in answers)
        raise LogResourceNotFound(NO_STREAM if group_held else NO_GROUP)

    async def _all(self, part: str, args: Body) -> list[Body]:
        return [answer for _, answer in await self.everywhere(part, lambda _: args)]

    # ---- groups -----------------------------------------------------------------------------

    async def groups(self, prefix: str | None, pattern: str | None) -> list[MergedGroup]:
        """Every node's groups starting with ``prefix`` or containing ``pattern`` (any case),
        merged, by name."""
        rules.check_group_query(prefix, pattern)
        answers = await self._all("Groups", {"prefix": prefix})
        given = await self._retention.given(self.scope)
        merged = merge_groups(
            ([log_parts.group_of(raw) for raw in answer["Groups"]] for answer in answers), given
        )
        if pattern:
            merged = [group for group in merged if pattern.lower() in group.row.name.lower()]
        return merged

    async def _group(self, name: str) -> MergedGroup | None:
        found = [group for group in await self.groups(name, None) if group.row.name == name]
        return found[0] if found else None

    async def create_group(self, name: str, group_class: str | None) -> None:
        if await self._group(name) is not None:
            raise LogResourceExists("The specified log group already exists")
        self.logs.create_group(name, group_class)

    async def put_retention(self, name: str, days: int | None) -> None:
        """Set (None: clear) the group's retention on every node that holds it."""
        if days is not None:
            rules.check_retention_days(days)
        if not any(answer["Found"] for answer in await self._all("Retention", {"group": name, "days": days})):
            raise LogResourceNotFound(NO_GROUP)
        await self._retention.record(self.scope, name, days)  # for nodes that hold it later

    async def delete_group(self, name: str) -> None:
        if not any(answer["Found"] for answer in await self._all("DeleteGroup", {"group": name})):
            raise LogResourceNotFound(NO_GROUP)
        await self._retention.forget(self.scope, name)

    # ---- streams ----------------------------------------------------------------------------

    async def streams(
        self, group: str, prefix: str | None, by_last_event: bool, descending: bool
    ) -> list[StreamRow]:
        """The group's streams on every node, merged, in DescribeLogStreams' order."""
        rules.check_stream_order(prefix, by_last_event)
        answers = [a for a in await self._all("Streams", {"group": group, "prefix": prefix}) if a["Found"]]
        if not answers:
            raise LogResourceNotFound(NO_GROUP)
        merged = merge_streams([log_parts.stream_of(raw) for raw in a["Streams"]] for a in answers)
        return order_streams(merged, by_last_event, descending)

    async def create_stream(self, group: str, name: str) -> None:
        """Make the stream here (and the group's row, as the cluster holds it, if this node has
        none yet)."""
        answers = [a for a in await self._all("Streams", {"group": group, "prefix": name}) if a["Found"]]
        if not answers:
            raise LogResourceNotFound(NO_GROUP)
        if any(log_parts.stream_of(raw).name == name for a in answers for raw in a["Streams"]):
            raise LogResourceExists("The specified log stream already exists")
        if self.logs.index.group(group) is None:
            given = await self._retention.given(self.scope)
            held = merge_groups([[log_parts.group_of(a["Group"])] for a in answers], given)[0].row
            self.logs.index.create_group(group, held.created_ms, held.group_class)
            self.logs.index.set_retention(group, held.retention_days)
        self.logs.create_stream(group, name)

    async def delete_stream(self, group: str, name: str) -> None:
        answers = await self._all("DeleteStream", {"group": group, "stream": name})
        if not any(answer["Found"] for answer in answers):
            raise LogResourceNotFound(NO_STREAM if any(a["Group"] for a in answers) else NO_GROUP)

    # ---- events -----------------------------------------------------------------------------

    async def get_events(
        self, group: str, stream: str, window: Window, token: str | None, from_head: bool, limit: int | None
    ) -> StreamPage:
        """One GetLogEvents page, from the node that holds the stream."""
        if token is not None:
            try:
                parse_stream_token(token)
            except BadToken:
                raise LogInvalidParameter("The specified nextToken is invalid.") from None
        args = {
            "group": group,
            "stream": stream,
            "start": window[0],
            "end": window[1],
            "token": token,
            "fromHead": from_head,
            "limit": limit,
        }
        answer = await self._holder("Events", args)
        events = [log_parts.event_of(raw) for raw in answer["Events"]]
        return StreamPage(events, str(answer["Forward"]), str(answer["Backward"]))

    async def filter_events(
        self,
        group: str,
        streams: StreamQuery,
        window: Window,
        pattern: str | None,
        token: str | None,
        limit: int | None,
    ) -> tuple[list[NodeEvent], str | None]:
        """One FilterLogEvents page over every node (``cluster/log_merge.py``)."""
        rules.check_stream_query(streams)
        try:
            at = ClusterFilterToken.decode(token)
        except BadToken:
            raise LogInvalidParameter("The specified nextToken is invalid.") from None
        limit = limit or MAX_EVENTS
        args = {
            "group": group,
            "names": streams.names,
            "prefixes": streams.prefixes,
            "start": window[0],
            "end": window[1],
            "pattern": pattern,
            "limit": limit,
        }
        answers = await self.everywhere("Filter", lambda node: {**args, "after": list(at.of(node))})
        pages = [
            NodePage(node, [log_parts.event_of(raw) for raw in answer["Events"]], bool(answer["More"]))
            for node, answer in answers
            if answer["Found"]
        ]
        if not pages:
            raise LogResourceNotFound(NO_GROUP)
        chosen, following = merge_filter_page(pages, at, limit)
        return chosen, following.encode() if following is not None else None

    async def put_events(
        self, group: str, stream: str, events: list[tuple[int, str]]
    ) -> tuple[Rejected, int]:
        """Store a PutLogEvents batch where the stream is: what was rejected, and the stream's
        next sequence number."""
        rules.check_batch(events)
        args = {"group": group, "stream": stream, "events": [list(event) for event in events]}
        answer = await self._holder("PutEvents", args)
        return Rejected(*answer["Rejected"]), int(answer["Next"])
