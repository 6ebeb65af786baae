"""Flare's own log endpoint: ``GET /flare/v1/functions/{name}/logs?offset=N``.

Answers ``{"events": [{"timestamp", "logStream", "message"}], "nextOffset": N}``; a function
that never existed and has no logs is a 404 ``ResourceNotFoundException``.
"""

from __future__ import annotations

from aiohttp import web

from flare.api.wire import aws_route, json_response, query_int
from flare.control.registry import Registry
from flare.errors import ResourceNotFound
from flare.observe.logs import LogStore


def add_routes(app: web.Application, registry: Registry, logs: LogStore) -> None:
    @aws_route
    async def read_logs(request: web.Request) -> web.StreamResponse:
        name = request.match_info["name"]
        offset = query_int(request, "offset") or 0
        events, next_offset = logs.read(name, offset)
        if not events and offset == 0:
            try:
                registry.resolve(name, None)
            except ResourceNotFound:
                raise
        body = {
            "events": [
                {"timestamp": event.timestamp_ms, "logStream": event.stream, "message": event.message}
                for event in events
            ],
            "nextOffset": next_offset,
        }
        return json_response(body)

    app.router.add_get("/flare/v1/functions/{name}/logs", read_logs)
