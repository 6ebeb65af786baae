"""Flare's own log endpoint: ``GET /flare/v1/functions/{name}/logs?offset=N``.

Reads the function's log group (its ``LoggingConfig.LogGroup``, by default ``/aws/lambda/<name>``;
for a deleted function, that default group) through the embedded CloudWatch Logs service.
``offset`` is a position in the group's events in the order they were stored; answers
``{"events": [{"timestamp", "logStream", "message"}], "nextOffset": N}``, and asking again
from ``nextOffset`` returns only what was written since. A function that does not exist and has
no log group is a 404 ``ResourceNotFoundException``.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from flare.api.scoping import Of
from flare.api.wire import aws_route, json_response, query_int
from flare.control.registry import Registry
from flare.errors import ResourceNotFound
from flare.services.logs import LogService, StreamQuery

PAGE_EVENTS = 10_000


def _group(registry: Registry, logs: LogService, name: str) -> str:
    try:
        return registry.resolve(name, None).log_group
    except ResourceNotFound:
        default = f"/aws/lambda/{name.rsplit(':', 1)[-1]}"
        if logs.index.group(default) is None:
            raise
        return default


def read_since(registry: Registry, logs: LogService, name: str, offset: int) -> dict[str, Any]:
    """The answer's body (see the module docstring): function ``name``'s log from ``offset``.
    Raises ResourceNotFound. The console's log pane reads the same (``api/console.py``)."""
    group = _group(registry, logs, name)
    events = logs.events_since(group, offset, lambda message: True, StreamQuery())[:PAGE_EVENTS]
    return {
        "events": [
            {"timestamp": event.timestamp_ms, "logStream": event.stream, "message": event.message}
            for event in events
        ],
        "nextOffset": events[-1].seq + 1 if events else offset,
    }


def add_routes(app: web.Application, registry_of: Of[Registry], logs_of: Of[LogService]) -> None:
    @aws_route
    async def read_logs(request: web.Request) -> web.StreamResponse:
        offset = query_int(request, "offset") or 0
        name = request.match_info["name"]
        return json_response(read_since(registry_of(request), logs_of(request), name, offset))

    app.router.add_get("/flare/v1/functions/{name}/logs", read_logs)
