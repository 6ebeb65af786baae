"""HTTP routes of a function's aliases: Create, Get, Update, Delete and ListAliases.

Translation only: ``{name}`` (URL-decoded; a name or ARN) and ``{alias}``, query and JSON body
in, a ``Registry`` call, JSON out.
"""

from __future__ import annotations

from aiohttp import web

from flare.api.scoping import Of
from flare.api.wire import aws_route, empty_response, json_response, query_int, read_json
from flare.control.registry import Registry

PATH = "/2015-03-31/functions/{name}/aliases"


def add_routes(app: web.Application, registry_of: Of[Registry]) -> None:
    """Register the alias routes on ``app``, served by the request's ``registry``."""

    @aws_route
    async def create_alias(request: web.Request) -> web.StreamResponse:
        body = await read_json(request)
        return json_response(registry_of(request).create_alias(request.match_info["name"], body), status=201)

    @aws_route
    async def list_aliases(request: web.Request) -> web.StreamResponse:
        body = registry_of(request).list_aliases(
            request.match_info["name"],
            function_version=request.query.get("FunctionVersion") or None,
            marker=request.query.get("Marker") or None,
            max_items=query_int(request, "MaxItems"),
        )
        return json_response(body)

    @aws_route
    async def get_alias(request: web.Request) -> web.StreamResponse:
        return json_response(
            registry_of(request).get_alias(request.match_info["name"], request.match_info["alias"])
        )

    @aws_route
    async def update_alias(request: web.Request) -> web.StreamResponse:
        body = await read_json(request)
        info = request.match_info
        return json_response(registry_of(request).update_alias(info["name"], info["alias"], body))

    @aws_route
    async def delete_alias(request: web.Request) -> web.StreamResponse:
        registry_of(request).delete_alias(request.match_info["name"], request.match_info["alias"])
        return empty_response(204)

    app.router.add_post(PATH, create_alias)
    app.router.add_get(PATH, list_aliases)
    app.router.add_get(PATH + "/{alias}", get_alias)
    app.router.add_put(PATH + "/{alias}", update_alias)
    app.router.add_delete(PATH + "/{alias}", delete_alias)
