"""HTTP routes of event source mappings, and Flare's own view of every event source.

``POST   /2015-03-31/event-source-mappings``          Create (202, State Creating)
``GET    /2015-03-31/event-source-mappings``          List (200; ?EventSourceArn=&FunctionName=)
``GET    /2015-03-31/event-source-mappings/{UUID}``   Get (200)
``PUT    /2015-03-31/event-source-mappings/{UUID}``   Update (202)
``DELETE /2015-03-31/event-source-mappings/{UUID}``   Delete (202, State Deleting)
``GET    /flare/v1/event-sources``                    counters of every mapping and async queue

Translation only: each handler calls ``EventSourceMappings`` (or ``AsyncQueue.stats``).
"""

from __future__ import annotations

from aiohttp import web

from flare.api.scoping import Of
from flare.api.wire import aws_route, json_response, query_int, read_json
from flare.events.async_queue import AsyncQueue
from flare.events.mappings import EventSourceMappings

_MAPPINGS: web.AppKey[Of[EventSourceMappings]] = web.AppKey("mappings")
_ASYNC: web.AppKey[Of[AsyncQueue]] = web.AppKey("async_queue")
_PATH = "/2015-03-31/event-source-mappings"


def _mappings(request: web.Request) -> EventSourceMappings:
    return request.app[_MAPPINGS](request)


@aws_route
async def create_mapping(request: web.Request) -> web.StreamResponse:
    return json_response(_mappings(request).create(await read_json(request)), status=202)


@aws_route
async def list_mappings(request: web.Request) -> web.StreamResponse:
    query = request.query
    return json_response(
        _mappings(request).list_mappings(
            query.get("EventSourceArn") or None,
            query.get("FunctionName") or None,
            query.get("Marker") or None,
            query_int(request, "MaxItems"),
        )
    )


@aws_route
async def get_mapping(request: web.Request) -> web.StreamResponse:
    return json_response(_mappings(request).get(request.match_info["uuid"]))


@aws_route
async def update_mapping(request: web.Request) -> web.StreamResponse:
    body = await read_json(request)
    return json_response(_mappings(request).update(request.match_info["uuid"], body), status=202)


@aws_route
async def delete_mapping(request: web.Request) -> web.StreamResponse:
    return json_response(_mappings(request).delete(request.match_info["uuid"]), status=202)


@aws_route
async def event_sources(request: web.Request) -> web.StreamResponse:
    return json_response(
        {"Mappings": _mappings(request).stats(), "AsyncQueues": request.app[_ASYNC](request).stats()}
    )


def add_routes(app: web.Application, mappings: Of[EventSourceMappings], async_queue: Of[AsyncQueue]) -> None:
    """Register the mapping routes and ``/flare/v1/event-sources`` on ``app``."""
    app[_MAPPINGS] = mappings
    app[_ASYNC] = async_queue
    app.router.add_post(_PATH, create_mapping)
    app.router.add_get(_PATH, list_mappings)
    app.router.add_get(_PATH + "/{uuid}", get_mapping)
    app.router.add_put(_PATH + "/{uuid}", update_mapping)
    app.router.add_delete(_PATH + "/{uuid}", delete_mapping)
    app.router.add_get("/flare/v1/event-sources", event_sources)
