"""What one node answers about its own logs: the per-node parts of a cluster-wide CloudWatch Logs
call, JSON in and JSON out.

A node keeps the logs of the environments it runs (``observe/logs.py``, ``store/log_index.py``);
``cluster/cluster_logs.py`` answers a client by asking every live node one *part* and merging.
The node that took the client's call answers its own part by calling ``answer`` directly; the
others answer it through ``POST /flare/v1/cluster/logs`` (``api/node_logs.py``). Each part is
``PARTS[name](logs, args) -> answer``:

    Groups        {prefix}                    {Groups: [group]}
    Streams       {group, prefix}             {Found, Group: group, Streams: [stream]}
    Events        {group, stream, start, end, token, fromHead, limit}
                                              {Found, Group, Events: [event], Forward, Backward}
    Filter        {group, names, prefixes, start, end, pattern, after: [ts, seq], limit}
                                              {Found, Events: [event], More}
    Retention     {group, days (null: none)}  {Found}
    DeleteGroup   {group}                     {Found}
    DeleteStream  {group, stream}             {Found, Group}
    Since         {groups, cursors: {group: seq} or null, names, prefixes, pattern}
                                              {Held: [group], Cursors: {group: seq},
                                               Events: [[group, event]]}
    PutEvents     {group, stream, events: [[ts, message]]}
                                              {Found, Group, Rejected: [index or null, 3 of them], Next}

``Since`` follows groups for a Live Tail: the events each group stored from its cursor on
(the node's own numbering), and the cursors after them; without cursors, only where each
group ends now (a tail starts there).

``Found`` is false where this node has no such group (or stream; ``Group`` then says whether
it has the group): that is an answer, not an error, since another node may have it. Every
other rule error (a bad pattern, a bad token, a retention not in CloudWatch's list) is raised
as the single-node service raises it (``services/logs.py``): the asking node checks the request
and answers its own part first, so its client gets it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flare.observe.logs import LogEvent
from flare.services.errors import LogResourceNotFound
from flare.services.log_paging import filter_token
from flare.services.logs import NO_STREAM, LogService, StreamQuery
from flare.store.log_index import GroupRow, StreamRow

Body = dict[str, Any]
Part = Callable[[LogService, Body], Body]

PATH = "/flare/v1/cluster/logs"
"""Where a node asks another its part (``api/node_logs.py``)."""


def group_json(row: GroupRow, stored_bytes: int) -> Body:
    return {
        "name": row.name,
        "created": row.created_ms,
        "retention": row.retention_days,
        "class": row.group_class,
        "bytes": stored_bytes,
    }


def group_of(raw: Body) -> tuple[GroupRow, int]:
    """A group as ``group_json`` wrote it, and its stored bytes."""
    row = GroupRow(str(raw["name"]), int(raw["created"]), raw["retention"], str(raw["class"]), 0)
    return row, int(raw["bytes"])


def stream_json(row: StreamRow) -> list[Any]:
    return [
        row.group,
        row.name,
        row.created_ms,
        row.first_ms,
        row.last_ms,
        row.ingested_ms,
        row.stored_bytes,
        row.last_seq,
    ]


def stream_of(raw: list[Any]) -> StreamRow:
    return StreamRow(*raw)


def event_json(event: LogEvent) -> list[Any]:
    return [event.timestamp_ms, event.seq, event.ingestion_ms, event.message, event.stream]


def event_of(raw: list[Any]) -> LogEvent:
    return LogEvent(int(raw[0]), int(raw[1]), int(raw[2]), str(raw[3]), str(raw[4]))


def _window(args: Body) -> tuple[int | None, int | None]:
    return args.get("start"), args.get("end")


def groups(logs: LogService, args: Body) -> Body:
    rows = logs.groups(args.get("prefix"), None)
    return {"Groups": [group_json(row, logs.stored_bytes(row.name)) for row in rows]}


def streams(logs: LogService, args: Body) -> Body:
    group = str(args["group"])
    try:
        rows = logs.streams(group, args.get("prefix"), False, False)
    except LogResourceNotFound:
        return {"Found": False, "Streams": []}
    return {
        "Found": True,
        "Group": group_json(logs.group(group), logs.stored_bytes(group)),
        "Streams": [stream_json(row) for row in rows],
    }


def events(logs: LogService, args: Body) -> Body:
    try:
        page = logs.get_events(
            str(args["group"]),
            str(args["stream"]),
            _window(args),
            args.get("token"),
            bool(args.get("fromHead")),
            args.get("limit"),
        )
    except LogResourceNotFound as missing:
        return {"Found": False, "Group": missing.message == NO_STREAM}
    return {
        "Found": True,
        "Events": [event_json(event) for event in page.events],
        "Forward": page.forward,
        "Backward": page.backward,
    }


def filtered(logs: LogService, args: Body) -> Body:
    names, prefixes = args.get("names"), args.get("prefixes")
    query = StreamQuery(
        tuple(names) if names is not None else None, tuple(prefixes) if prefixes is not None else None
    )
    after = args.get("after") or [0, 0]
    try:
        found, token = logs.filter_events(
            str(args["group"]),
            query,
            _window(args),
            args.get("pattern"),
            filter_token((int(after[0]), int(after[1]))),
            args.get("limit"),
        )
    except LogResourceNotFound:
        return {"Found": False, "Events": [], "More": False}
    return {"Found": True, "Events": [event_json(event) for event in found], "More": token is not None}


def retention(logs: LogService, args: Body) -> Body:
    group, days = str(args["group"]), args.get("days")
    try:
        if days is None:
            logs.delete_retention(group)
        else:
            logs.put_retention(group, int(days))
    except LogResourceNotFound:
        return {"Found": False}
    return {"Found": True}


def delete_group(logs: LogService, args: Body) -> Body:
    try:
        logs.delete_group(str(args["group"]))
    except LogResourceNotFound:
        return {"Found": False}
    return {"Found": True}


def delete_stream(logs: LogService, args: Body) -> Body:
    try:
        logs.delete_stream(str(args["group"]), str(args["stream"]))
    except LogResourceNotFound as missing:
        return {"Found": False, "Group": missing.message == NO_STREAM}
    return {"Found": True}


def put_events(logs: LogService, args: Body) -> Body:
    group, stream = str(args["group"]), str(args["stream"])
    try:
        logs.stream(group, stream)
    except LogResourceNotFound as missing:
        return {"Found": False, "Group": missing.message == NO_STREAM}
    batch = [(int(timestamp), str(message)) for timestamp, message in args.get("events") or []]
    rejected = logs.put_events(group, stream, batch)
    return {
        "Found": True,
        "Rejected": [rejected.too_new_start, rejected.too_old_end, rejected.expired_end],
        "Next": logs.stream(group, stream).last_seq + 1,
    }


def since(logs: LogService, args: Body) -> Body:
    groups = [str(group) for group in args["groups"]]
    cursors = args.get("cursors")
    logs.store.flush()
    held = [group for group in groups if logs.index.group(group) is not None]
    if cursors is None:
        return {"Held": held, "Cursors": {group: logs.next_seq(group) for group in groups}, "Events": []}
    matches = logs.matcher(args.get("pattern"))
    names, prefixes = args.get("names"), args.get("prefixes")
    query = StreamQuery(
        tuple(names) if names is not None else None, tuple(prefixes) if prefixes is not None else None
    )
    moved: dict[str, int] = {}
    found: list[list[Any]] = []
    for group in groups:
        cursor = cursors.get(group)
        if cursor is None:  # a group this node was not following yet: from its end on
            moved[group] = logs.next_seq(group)
            continue
        events = logs.events_since(group, int(cursor), matches, query)
        moved[group] = events[-1].seq + 1 if events else int(cursor)
        found += [[group, event_json(event)] for event in events]
    return {"Held": held, "Cursors": moved, "Events": found}


PARTS: dict[str, Part] = {
    "Groups": groups,
    "Streams": streams,
    "Events": events,
    "Filter": filtered,
    "Retention": retention,
    "DeleteGroup": delete_group,
    "DeleteStream": delete_stream,
    "PutEvents": put_events,
    "Since": since,
}


def answer(logs: LogService, part: str, args: Body) -> Body:
    """This node's answer to ``part``; raises KeyError for a part there is not, and the log
    service's errors as it raises them (module docstring)."""
    return PARTS[part](logs, args)
