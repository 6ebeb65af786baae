"""CloudWatch Logs' JSON protocol (``X-Amz-Target: Logs_20140328.<Operation>``, awsJson1_1).

Wire translation only: group and stream rows to CloudWatch's shapes, page tokens, and the
event stream of ``StartLiveTail``. Every rule lives in ``flare.services.logs``. boto3 sends
``StartLiveTail`` to ``stream-<host>`` (the operation's host prefix); against a local endpoint
turn that off with ``Config(inject_host_prefix=False)`` or ``AWS_DISABLE_HOST_PREFIX_INJECTION=true``.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web

from flare.api import eventstream
from flare.api.scoping import Of
from flare.api.target import JsonEndpoint
from flare.api.wire import REQUEST_ID_HEADER
from flare.errors import UnknownOperation
from flare.ids import new_request_id
from flare.observe.logs import LogEvent
from flare.services.errors import LogInvalidParameter
from flare.services.live_tail import LiveTails, LiveTailSession, Update
from flare.services.log_paging import event_id
from flare.services.logs import LogService, Rejected, StreamQuery
from flare.store.log_index import GroupRow, StreamRow

if TYPE_CHECKING:
    from flare.cluster.cluster_logs import ClusterLogs

Body = dict[str, Any]
Result = Body | web.StreamResponse
Operation = Callable[[LogService, LiveTails, Body, web.Request], Awaitable[Result]]
DESCRIBE_LIMIT = 50


def endpoint(
    logs_of: Of[LogService],
    tails_of: Of[LiveTails],
    close: Callable[[], None],
    cluster_of: Of[ClusterLogs] | None = None,
) -> JsonEndpoint:
    """The CloudWatch Logs endpoint, serving each request from its scope's log groups and live
    tails (``close``: every scope's tails, at shutdown). ``cluster_of`` (``--cluster`` only):
    the request's scope's logs on every node, which answer the operations of
    ``api/cluster_logs_service.py`` instead."""
    if cluster_of is not None:
        from flare.api import cluster_logs_service

        spread = cluster_logs_service.OPERATIONS
    else:
        spread = {}

    async def call(operation: str, body: Body, request: web.Request) -> Result:
        across = spread.get(operation)
        if across is not None and cluster_of is not None:
            return await across(cluster_of(request), tails_of(request), body, request)
        handler = OPERATIONS.get(operation)
        if handler is None:
            raise UnknownOperation(f"Flare's logs service does not implement {operation}")
        return await handler(logs_of(request), tails_of(request), body, request)

    return JsonEndpoint(
        "Logs_20140328",
        "application/x-amz-json-1.1",
        "",
        call,
        close,
        model="logs",
        invalid=LogInvalidParameter,
        signing_name="logs",
    )


def group_of(logs: LogService, body: Body) -> str:
    """The group a request names with ``logGroupName`` or ``logGroupIdentifier`` (one of them)."""
    name, identifier = body.get("logGroupName"), body.get("logGroupIdentifier")
    if name and identifier:
        raise LogInvalidParameter("LogGroup name and LogGroup ARN are mutually exclusive parameters.")
    if not (name or identifier):
        raise LogInvalidParameter("Either logGroupName or logGroupIdentifier must be specified.")
    return str(name) if name else logs.group_name(str(identifier))


def page(items: list[Any], key: Callable[[Any], Any], body: Body) -> tuple[list[Any], str | None]:
    """A page of ``items`` (already in order) after the token's key, and the next token."""
    start = 0
    if body.get("nextToken"):
        try:
            last = json.loads(base64.urlsafe_b64decode(str(body["nextToken"])))
        except (binascii.Error, ValueError):
            raise LogInvalidParameter("The specified nextToken is invalid.") from None
        last_key = json.dumps(last)
        start = next((i + 1 for i, item in enumerate(items) if json.dumps(key(item)) == last_key), 0)
    limit = int(body.get("limit") or DESCRIBE_LIMIT)
    chosen = items[start : start + limit]
    more = start + limit < len(items)
    token = base64.urlsafe_b64encode(json.dumps(key(chosen[-1])).encode()).decode() if more else None
    return chosen, token


def group_json(logs: LogService, row: GroupRow, stored_bytes: int) -> Body:
    arn = logs.group_arn(row.name)
    shape: Body = {"logGroupName": row.name, "creationTime": row.created_ms, "metricFilterCount": 0}
    if row.retention_days is not None:
        shape["retentionInDays"] = row.retention_days
    shape.update(
        arn=f"{arn}:*",
        storedBytes=stored_bytes,
        logGroupClass=row.group_class,
        logGroupArn=arn,
    )
    return shape


def stream_json(logs: LogService, row: StreamRow) -> Body:
    shape: Body = {"logStreamName": row.name, "creationTime": row.created_ms}
    if row.last_ms is not None:
        shape.update(
            firstEventTimestamp=row.first_ms,
            lastEventTimestamp=row.last_ms,
            lastIngestionTime=row.ingested_ms,
        )
    shape.update(
        uploadSequenceToken=f"{row.last_seq + 1:056d}",
        arn=f"{logs.group_arn(row.group)}:log-stream:{row.name}",
        storedBytes=0,
    )
    return shape


def window(body: Body) -> tuple[int | None, int | None]:
    start, end = body.get("startTime"), body.get("endTime")
    return (None if start is None else int(start), None if end is None else int(end))


async def describe_log_groups(logs: LogService, tails: LiveTails, body: Body, request: web.Request) -> Body:
    rows = logs.groups(body.get("logGroupNamePrefix"), body.get("logGroupNamePattern"))
    if body.get("logGroupIdentifiers"):
        wanted = {logs.group_name(str(item)) for item in body["logGroupIdentifiers"]}
        rows = [row for row in rows if row.name in wanted]
    chosen, token = page(rows, lambda row: row.name, body)
    result: Body = {"logGroups": [group_json(logs, row, logs.stored_bytes(row.name)) for row in chosen]}
    if token:
        result["nextToken"] = token
    return result


async def describe_log_streams(logs: LogService, tails: LiveTails, body: Body, request: web.Request) -> Body:
    by_last_event = body.get("orderBy") == "LastEventTime"
    rows = logs.streams(
        group_of(logs, body), body.get("logStreamNamePrefix"), by_last_event, bool(body.get("descending"))
    )
    chosen, token = page(rows, stream_order_key(body), body)
    result: Body = {"logStreams": [stream_json(logs, row) for row in chosen]}
    if token:
        result["nextToken"] = token
    return result


def stream_query(body: Body) -> StreamQuery:
    """The streams a FilterLogEvents request reads."""
    names, prefix = body.get("logStreamNames"), body.get("logStreamNamePrefix")
    return StreamQuery(
        tuple(names) if names is not None else None, (str(prefix),) if prefix is not None else None
    )


def stream_order_key(body: Body) -> Callable[[StreamRow], Any]:
    """What DescribeLogStreams' pages are keyed by in the order the request asks."""
    if body.get("orderBy") == "LastEventTime":
        return lambda row: [row.last_ms or 0, row.name]
    return lambda row: row.name


def output_event(event: LogEvent) -> Body:
    return {"timestamp": event.timestamp_ms, "message": event.message, "ingestionTime": event.ingestion_ms}


async def get_log_events(logs: LogService, tails: LiveTails, body: Body, request: web.Request) -> Body:
    page = logs.get_events(
        group_of(logs, body),
        str(body.get("logStreamName") or ""),
        window(body),
        body.get("nextToken"),
        bool(body.get("startFromHead")),
        body.get("limit"),
    )
    return {
        "events": [output_event(event) for event in page.events],
        "nextForwardToken": page.forward,
        "nextBackwardToken": page.backward,
    }


async def filter_log_events(logs: LogService, tails: LiveTails, body: Body, request: web.Request) -> Body:
    events, token = logs.filter_events(
        group_of(logs, body),
        stream_query(body),
        window(body),
        body.get("filterPattern"),
        body.get("nextToken"),
        body.get("limit"),
    )
    result: Body = {
        "events": [
            {"logStreamName": event.stream, **output_event(event), "eventId": event_id(event)}
            for event in events
        ],
        "searchedLogStreams": [],
    }
    if token:
        result["nextToken"] = token
    return result


async def create_log_group(logs: LogService, tails: LiveTails, body: Body, request: web.Request) -> Body:
    logs.create_group(str(body.get("logGroupName")), body.get("logGroupClass"))
    return {}


async def create_log_stream(logs: LogService, tails: LiveTails, body: Body, request: web.Request) -> Body:
    logs.create_stream(str(body.get("logGroupName")), str(body.get("logStreamName")))
    return {}


async def delete_log_group(logs: LogService, tails: LiveTails, body: Body, request: web.Request) -> Body:
    logs.delete_group(str(body.get("logGroupName")))
    return {}


async def delete_log_stream(logs: LogService, tails: LiveTails, body: Body, request: web.Request) -> Body:
    logs.delete_stream(str(body.get("logGroupName")), str(body.get("logStreamName")))
    return {}


async def put_retention_policy(logs: LogService, tails: LiveTails, body: Body, request: web.Request) -> Body:
    logs.put_retention(str(body.get("logGroupName")), int(body.get("retentionInDays") or 0))
    return {}


async def delete_retention_policy(
    logs: LogService, tails: LiveTails, body: Body, request: web.Request
) -> Body:
    logs.delete_retention(str(body.get("logGroupName")))
    return {}


async def put_log_events(logs: LogService, tails: LiveTails, body: Body, request: web.Request) -> Body:
    group, stream = str(body.get("logGroupName")), str(body.get("logStreamName"))
    rejected = logs.put_events(group, stream, log_events(body))
    return put_result(rejected, logs.stream(group, stream).last_seq + 1)


def log_events(body: Body) -> list[tuple[int, str]]:
    return [(int(item["timestamp"]), str(item["message"])) for item in body.get("logEvents") or []]


def put_result(rejected: Rejected, next_seq: int) -> Body:
    """PutLogEvents' answer."""
    result: Body = {"nextSequenceToken": f"{next_seq:056d}"}
    info = {
        name: value
        for name, value in (
            ("tooNewLogEventStartIndex", rejected.too_new_start),
            ("tooOldLogEventEndIndex", rejected.too_old_end),
            ("expiredLogEventEndIndex", rejected.expired_end),
        )
        if value is not None
    }
    if info:
        result["rejectedLogEventsInfo"] = info
    return result


def _tail_event(update: Update) -> bytes:
    results = [
        {
            "logStreamName": item.event.stream,
            "logGroupIdentifier": item.group_arn,
            "message": item.event.message,
            "timestamp": item.event.timestamp_ms,
            "ingestionTime": item.event.ingestion_ms,
        }
        for item in update.events
    ]
    return eventstream.json_event(
        "sessionUpdate", {"sessionMetadata": {"sampled": update.sampled}, "sessionResults": results}
    )


def tail_request(body: Body) -> tuple[list[str], StreamQuery]:
    """The groups and streams a StartLiveTail request follows."""
    names, prefixes = body.get("logStreamNames"), body.get("logStreamNamePrefixes")
    identifiers = [str(item) for item in body.get("logGroupIdentifiers") or []]
    return identifiers, StreamQuery(tuple(names) if names else None, tuple(prefixes) if prefixes else None)


async def start_live_tail(
    logs: LogService, tails: LiveTails, body: Body, request: web.Request
) -> web.StreamResponse:
    identifiers, streams = tail_request(body)
    session = tails.start(identifiers, streams, body.get("logEventFilterPattern"))
    return await serve_tail(request, body, session, tails.updates(session))


async def serve_tail(
    request: web.Request, body: Body, session: LiveTailSession, updates: AsyncIterator[Update]
) -> web.StreamResponse:
    """StartLiveTail's event stream: its start, then ``updates`` until they end."""
    identifiers = [str(item) for item in body.get("logGroupIdentifiers") or []]
    request_id = new_request_id()
    response = web.StreamResponse(
        headers={"Content-Type": eventstream.CONTENT_TYPE, REQUEST_ID_HEADER: request_id}
    )
    await response.prepare(request)
    start = {"requestId": request_id, "sessionId": session.session_id, "logGroupIdentifiers": identifiers}
    for name, value in (
        ("logStreamNames", body.get("logStreamNames")),
        ("logStreamNamePrefixes", body.get("logStreamNamePrefixes")),
        ("logEventFilterPattern", body.get("logEventFilterPattern")),
    ):
        if value:
            start[name] = value
    try:
        await response.write(eventstream.json_event("initial-response", {}))
        await response.write(eventstream.json_event("sessionStart", start))
        async for update in updates:
            await response.write(_tail_event(update))
        if session.timed_out:
            await response.write(
                eventstream.exception("SessionTimeoutException", "Session timed out after 3 hours.")
            )
        await response.write_eof()
    except ConnectionError:
        pass  # the client went away: the session ends with it
    return response


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
