"""HTTP routes of a function's versions: PublishVersion and ListVersionsByFunction.

Translation only: ``{name}`` (URL-decoded; a name or ARN), query and JSON body in, a
``Registry`` call, JSON out.
"""

from __future__ import annotations

from aiohttp import web

from flare.api.scoping import Of
from flare.api.wire import aws_route, json_response, query_int, read_json
from flare.control.registry import Registry

PATH = "/2015-03-31/functions/{name}/versions"


def add_routes(app: web.Application, registry_of: Of[Registry]) -> None:
    """Register the version routes on ``app``, served by the request's ``registry``."""

    @aws_route
    async def publish_version(request: web.Request) -> web.StreamResponse:
        body = await read_json(request)
        return json_response(
            registry_of(request).publish_version(request.match_info["name"], body), status=201
        )

    @aws_route
    async def list_versions(request: web.Request) -> web.StreamResponse:
        body = registry_of(request).list_versions(
            request.match_info["name"],
            marker=request.query.get("Marker") or None,
            max_items=query_int(request, "MaxItems"),
        )
        return json_response(body)

    app.router.add_post(PATH, publish_version)
    app.router.add_get(PATH, list_versions)
