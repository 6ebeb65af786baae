"""A Live Tail (``StartLiveTail``) over every live node of the cluster.

The session is served by the node that took the call, on the single-node ``LiveTails``'
timer and rules (``services/live_tail.py``); what makes each update is asking every live node
the events its followed groups stored since its cursors (``log_parts.since``: this node
directly, the others over HTTP), so one session costs one request per other live node a
second. Each node numbers its own events, so the session keeps one set of cursors per node. A
session starts where each group ends on each node; a node that was not asked at the start
(it did not answer, or joined later) is followed from where it stood when first heard.
Updates are merged as filters are, by (timestamp, node, seq), at most ``MAX_RESULTS`` each
(more are dropped and the update says ``sampled``, as on one node).
"""

from __future__ import annotations

import uuid
from typing import Any

from flare.cluster import log_parts
from flare.cluster.cluster_logs import ClusterLogs
from flare.services.errors import LogResourceNotFound
from flare.services.live_tail import MAX_RESULTS, LiveTailSession, TailedEvent, Update, check_session
from flare.services.logs import NO_GROUP, StreamQuery

Body = dict[str, Any]


class ClusterTail:
    """One Live Tail session's cursors on every node (made per ``StartLiveTail`` call)."""

    def __init__(self, cluster: ClusterLogs) -> None:
        self._cluster = cluster
        self._cursors: dict[str, dict[str, int]] = {}  # node => group => its next event's seq

    def _args(self, session: LiveTailSession, node: str) -> Body:
        return {
            "groups": session.groups,
            "cursors": self._cursors.get(node),
            "names": session.streams.names,
            "prefixes": session.streams.prefixes,
            "pattern": session.pattern,
        }

    async def start(
        self, identifiers: list[str], streams: StreamQuery, pattern: str | None
    ) -> LiveTailSession:
        """A session on groups some node holds. Raises as ``LiveTails.start`` does."""
        check_session(identifiers, streams)
        logs = self._cluster.logs
        matches = logs.matcher(pattern)
        groups = [logs.group_name(item) for item in identifiers]
        session = LiveTailSession(uuid.uuid4().hex, groups, streams, pattern, matches)
        answers = await self._cluster.everywhere("Since", lambda node: self._args(session, node))
        held = {group for _, answer in answers for group in answer["Held"]}
        if any(group not in held for group in groups):
            raise LogResourceNotFound(NO_GROUP)
        self._cursors = {node: dict(answer["Cursors"]) for node, answer in answers}
        return session

    async def poll(self, session: LiveTailSession) -> Update:
        """The events every node stored since the last poll, merged."""
        answers = await self._cluster.everywhere("Since", lambda node: self._args(session, node))
        found = []
        for node, answer in answers:
            self._cursors[node] = dict(answer["Cursors"])
            found += [(node, group, log_parts.event_of(raw)) for group, raw in answer["Events"]]
        found.sort(key=lambda item: (item[2].timestamp_ms, item[0], item[2].seq))
        logs = self._cluster.logs
        events = [TailedEvent(logs.group_arn(group), event) for _, group, event in found[:MAX_RESULTS]]
        return Update(events, sampled=len(found) > MAX_RESULTS)
