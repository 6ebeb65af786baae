"""HTTP routes of recursion and runtime management configs.

``PUT /2024-08-31/functions/{name}/recursion-config``            PutFunctionRecursionConfig (200)
``GET /2024-08-31/functions/{name}/recursion-config``            GetFunctionRecursionConfig (200)
``PUT /2021-07-20/functions/{name}/runtime-management-config``   PutRuntimeManagementConfig (200)
``GET /2021-07-20/functions/{name}/runtime-management-config``   GetRuntimeManagementConfig (200)

Translation only: each handler calls ``FunctionSettings`` and answers with what it returns.
"""

from __future__ import annotations

from aiohttp import web

from flare.api.scoping import Of
from flare.api.wire import aws_route, json_response, read_json
from flare.control.function_settings import FunctionSettings

RECURSION = "/2024-08-31/functions/{name}/recursion-config"
RUNTIME = "/2021-07-20/functions/{name}/runtime-management-config"


def add_routes(app: web.Application, settings_of: Of[FunctionSettings]) -> None:
    """Register the routes on ``app``, served by the request's ``settings``."""

    @aws_route
    async def put_recursion(request: web.Request) -> web.StreamResponse:
        return json_response(
            settings_of(request).put_recursion(request.match_info["name"], await read_json(request))
        )

    @aws_route
    async def get_recursion(request: web.Request) -> web.StreamResponse:
        return json_response(settings_of(request).get_recursion(request.match_info["name"]))

    @aws_route
    async def put_runtime(request: web.Request) -> web.StreamResponse:
        qualifier = request.query.get("Qualifier") or None
        body = await read_json(request)
        return json_response(settings_of(request).put_runtime(request.match_info["name"], qualifier, body))

    @aws_route
    async def get_runtime(request: web.Request) -> web.StreamResponse:
        qualifier = request.query.get("Qualifier") or None
        return json_response(settings_of(request).get_runtime(request.match_info["name"], qualifier))

    app.router.add_put(RECURSION, put_recursion)
    app.router.add_get(RECURSION, get_recursion)
    app.router.add_put(RUNTIME, put_runtime)
    app.router.add_get(RUNTIME, get_runtime)
