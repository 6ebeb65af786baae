"""CloudWatch Logs' operations answered for the whole cluster (``flare serve --cluster``).

Wire translation only, as ``api/logs_service.py`` (whose shapes and paging it shares); what is
asked of which node and how answers merge is ``cluster/cluster_logs.py``, and for a Live Tail
``cluster/cluster_tail.py`` (its event stream is the single-node one's, ``serve_tail``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from flare.api.logs_service import (
    group_json,
    group_of,
    log_events,
    output_event,
    page,
    put_result,
    serve_tail,
    stream_json,
    stream_order_key,
    stream_query,
    tail_request,
    window,
)
from flare.cluster.cluster_logs import ClusterLogs
from flare.cluster.cluster_tail import ClusterTail
from flare.cluster.log_merge import cluster_event_id
from flare.services.live_tail import LiveTails

Body = dict[str, Any]
Operation = Callable[[ClusterLogs, LiveTails, Body, web.Request], Awaitable[Body | web.StreamResponse]]


def _with_token(result: Body, token: str | None) -> Body:
    if token:
        result["nextToken"] = token
    return result


async def describe_log_groups(
    cluster: ClusterLogs, tails: LiveTails, body: Body, request: web.Request
) -> Body:
    logs = cluster.logs
    groups = await cluster.groups(body.get("logGroupNamePrefix"), body.get("logGroupNamePattern"))
    if body.get("logGroupIdentifiers"):
        wanted = {logs.group_name(str(item)) for item in body["logGroupIdentifiers"]}
        groups = [group for group in groups if group.row.name in wanted]
    chosen, token = page(groups, lambda group: group.row.name, body)
    return _with_token(
        {"logGroups": [group_json(logs, group.row, group.stored_bytes) for group in chosen]}, token
    )


async def describe_log_streams(
    cluster: ClusterLogs, tails: LiveTails, body: Body, request: web.Request
) -> Body:
    rows = await cluster.streams(
        group_of(cluster.logs, body),
        body.get("logStreamNamePrefix"),
        body.get("orderBy") == "LastEventTime",
        bool(body.get("descending")),
    )
    chosen, token = page(rows, stream_order_key(body), body)
    return _with_token({"logStreams": [stream_json(cluster.logs, row) for row in chosen]}, token)


async def get_log_events(cluster: ClusterLogs, tails: LiveTails, body: Body, request: web.Request) -> Body:
    found = await cluster.get_events(
        group_of(cluster.logs, body),
        str(body.get("logStreamName") or ""),
        window(body),
        body.get("nextToken"),
        bool(body.get("startFromHead")),
        body.get("limit"),
    )
    return {
        "events": [output_event(event) for event in found.events],
        "nextForwardToken": found.forward,
        "nextBackwardToken": found.backward,
    }


async def filter_log_events(cluster: ClusterLogs, tails: LiveTails, body: Body, request: web.Request) -> Body:
    events, token = await cluster.filter_events(
        group_of(cluster.logs, body),
        stream_query(body),
        window(body),
        body.get("filterPattern"),
        body.get("nextToken"),
        body.get("limit"),
    )
    found = [
        {"logStreamName": item.event.stream, **output_event(item.event), "eventId": cluster_event_id(item)}
        for item in events
    ]
    return _with_token({"events": found, "searchedLogStreams": []}, token)


async def create_log_group(cluster: ClusterLogs, tails: LiveTails, body: Body, request: web.Request) -> Body:
    await cluster.create_group(str(body.get("logGroupName")), body.get("logGroupClass"))
    return {}


async def create_log_stream(cluster: ClusterLogs, tails: LiveTails, body: Body, request: web.Request) -> Body:
    await cluster.create_stream(str(body.get("logGroupName")), str(body.get("logStreamName")))
    return {}


async def delete_log_group(cluster: ClusterLogs, tails: LiveTails, body: Body, request: web.Request) -> Body:
    await cluster.delete_group(str(body.get("logGroupName")))
    return {}


async def delete_log_stream(cluster: ClusterLogs, tails: LiveTails, body: Body, request: web.Request) -> Body:
    await cluster.delete_stream(str(body.get("logGroupName")), str(body.get("logStreamName")))
    return {}


async def put_retention_policy(
    cluster: ClusterLogs, tails: LiveTails, body: Body, request: web.Request
) -> Body:
    await cluster.put_retention(str(body.get("logGroupName")), int(body.get("retentionInDays") or 0))
    return {}


async def delete_retention_policy(
    cluster: ClusterLogs, tails: LiveTails, body: Body, request: web.Request
) -> Body:
    await cluster.put_retention(str(body.get("logGroupName")), None)
    return {}


async def put_log_events(cluster: ClusterLogs, tails: LiveTails, body: Body, request: web.Request) -> Body:
    rejected, next_seq = await cluster.put_events(
        str(body.get("logGroupName")), str(body.get("logStreamName")), log_events(body)
    )
    return put_result(rejected, next_seq)


async def start_live_tail(
    cluster: ClusterLogs, tails: LiveTails, body: Body, request: web.Request
) -> web.StreamResponse:
    identifiers, streams = tail_request(body)
    tail = ClusterTail(cluster)
    session = await tail.start(identifiers, streams, body.get("logEventFilterPattern"))
    return await serve_tail(request, body, session, tails.updates(session, tail.poll))


OPERATIONS: dict[str, Operation] = {
    "DescribeLogGroups": describe_log_groups,
    "DescribeLogStreams": describe_log_streams,
    "GetLogEvents": get_log_events,
    "FilterLogEvents": filter_log_events,
    "CreateLogGroup": create_log_group,
    "CreateLogStream": create_log_stream,
    "DeleteLogGroup": delete_log_group,
    "DeleteLogStream": delete_log_stream,
    "PutRetentionPolicy": put_retention_policy,
    "DeleteRetentionPolicy": delete_retention_policy,
    "PutLogEvents": put_log_events,
    "StartLiveTail": start_live_tail,
}
